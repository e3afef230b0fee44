"""The L-MAC mask decoder M_θ(h): classifier block features → a sigmoid mask on the log1p-STFT grid.

A stand-in for the recipe's ``CNN14PSI_stft`` (transposed convolutions over CNN14 blocks 6/5/4/3,
skip-summed, ReLU before each sum, 425 × 513 logits): here a top-down path over the small CNN's 4 blocks —
1×1 lateral projections, upsampling to the next block's grid, skip sum, 3×3 conv + ReLU — back to the
(T, n_mels) grid, then a learned per-frame map from (channels × n_mels) to the F linear-frequency bins
(the recipe's stride-4 frequency ConvT does the same mel-to-STFT upsampling). [design]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MaskDecoder(nn.Module):
    """Block features [(B, c_k, T_k, M_k)] → mask (B, T, F) in (0, 1) (``logits=True``: before the sigmoid)."""

    def __init__(self, widths: tuple[int, ...], n_mels: int, n_freqs: int, hidden: int = 64, out_channels: int = 8):
        super().__init__()
        self.n_mels, self.n_freqs = n_mels, n_freqs
        self.lateral = nn.ModuleList(nn.Conv2d(c, hidden, 1) for c in widths)
        self.smooth = nn.ModuleList(nn.Conv2d(hidden, hidden, 3, padding=1) for _ in widths)
        self.to_channels = nn.Conv2d(hidden, out_channels, 3, padding=1)
        self.to_freqs = nn.Linear(out_channels * n_mels, n_freqs)

    def forward(self, blocks: list[torch.Tensor], n_frames: int, logits: bool = False) -> torch.Tensor:
        h = None
        for k in reversed(range(len(blocks))):
            lateral = self.lateral[k](blocks[k])
            h = lateral if h is None else lateral + F.interpolate(h, size=lateral.shape[-2:], mode="nearest")
            h = torch.relu(self.smooth[k](h))
        h = F.interpolate(h, size=(n_frames, self.n_mels), mode="nearest")
        h = torch.relu(self.to_channels(h))  # (B, c, T, n_mels)
        out = self.to_freqs(h.permute(0, 2, 1, 3).flatten(2))  # (B, T, F)
        return out if logits else torch.sigmoid(out)
