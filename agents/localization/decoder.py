"""Localisation decoder and classification head of TrCAM-V (spec §1 and the audit of the official code).

Decoder: U-Net-style ``DecoderBlock``s without skips, each = nearest ×2 upsampling, then twice
(3×3 conv without bias → BatchNorm → ReLU). TrCAM stacks four (1182 → 192 → 96 → 48 → 2) to go from the
14 × 14 grid to 224²; here ``log2(patch_size)`` blocks take the G × G grid back to the frame size. As in the
official code the last block also ends in BN + ReLU, so the two logits are ≥ 0 (``relu_logits=False`` drops
that last ReLU); the localisation map is softmax(logits)[foreground], with no min-max normalisation.

Classification head: one linear layer on the frozen backbone's pooled features (DINO linear probe).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class DecoderBlock(nn.Sequential):
    """Nearest ×2 upsample → (3×3 conv, no bias → BN → ReLU) × 2."""

    def __init__(self, in_channels: int, out_channels: int, last_relu: bool = True):
        layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest")]
        for i, (c_in, c_out) in enumerate(((in_channels, out_channels), (out_channels, out_channels))):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)]
            if i == 0 or last_relu:
                layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class LocalisationDecoder(nn.Module):
    """(B, C, G, G) backbone maps → (B, 2, G·2^n, G·2^n) background/foreground logits."""

    def __init__(self, in_channels: int, upsample: int, widths: Sequence[int] = (64, 32), relu_logits: bool = True):
        super().__init__()
        n_blocks = round(math.log2(upsample))
        if upsample < 2 or 2 ** n_blocks != upsample:
            raise ValueError(f"upsample must be a power of 2 >= 2 (the ViT patch size), got {upsample}")
        widths = list(widths)[: n_blocks - 1]
        widths += [widths[-1] if widths else 32] * (n_blocks - 1 - len(widths))
        chans = [in_channels, *widths, 2]
        self.blocks = nn.Sequential(*(DecoderBlock(chans[i], chans[i + 1], last_relu=relu_logits or i < n_blocks - 1)
                                      for i in range(n_blocks)))

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.blocks(maps)

    @torch.no_grad()
    def foreground(self, maps: torch.Tensor) -> torch.Tensor:
        """(B, H, W) localisation map = softmax over the two logits, foreground channel."""
        return torch.softmax(self.forward(maps), dim=1)[:, 1]


class ClassificationHead(nn.Linear):
    """Linear classifier on the concatenated pooled features of the backbone's last blocks."""

    def __init__(self, in_features: int, n_classes: int):
        super().__init__(in_features, n_classes)
