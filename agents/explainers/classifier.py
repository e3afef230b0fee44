"""The frozen audio classifier: a CNN14-style small CNN on log-mel features, and the re-featurisation.

L-MAC masks the log1p-STFT X (B, T, F); the classifier sees log1p(Mel(expm1(X))) (§1 of the spec), so
:class:`Refeaturizer` is the differentiable bridge, and :class:`SpectrogramClassifier` = classifier ∘
refeaturizer is what the gradient baselines (captum) and the L-MAC loss differentiate through.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Refeaturizer(nn.Module):
    """X ↦ log1p(expm1(max(X, 0)) · W_mel): log1p-STFT magnitudes (B, T, F) → log-mel (B, T, n_mels).

    The clamp keeps expm1 of a masked (or noised, SmoothGrad) input non-negative, as the spec's guard says.
    """

    def __init__(self, fbank: np.ndarray | torch.Tensor):
        super().__init__()
        self.register_buffer("fbank", torch.as_tensor(np.asarray(fbank), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log1p(torch.expm1(x.clamp_min(0.0)) @ self.fbank)


class ConvBlock(nn.Module):
    """Two 3×3 conv–BN–ReLU layers then 2×2 average pooling (CNN14's block, at small width)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)
        self.conv2, self.bn2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return nn.functional.avg_pool2d(x, 2)


class AudioCNN(nn.Module):
    """Log-mel (B, T, n_mels) → logits (B, C). Mel-axis BatchNorm, 4 blocks, embedding max_t + mean_t.

    :meth:`blocks` returns the 4 block outputs (B, c_k, T/2^k, n_mels/2^k), which the mask decoder reads.
    """

    def __init__(self, n_mels: int, n_classes: int, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        self.widths = tuple(widths)
        self.bn0 = nn.BatchNorm2d(n_mels)
        self.convs = nn.ModuleList(ConvBlock(a, b) for a, b in zip((1, *widths[:-1]), widths))
        self.head = nn.Linear(widths[-1], n_classes)

    def blocks(self, logmel: torch.Tensor) -> list[torch.Tensor]:
        x = self.bn0(logmel.transpose(1, 2).unsqueeze(-1)).squeeze(-1).transpose(1, 2).unsqueeze(1)
        out = []
        for block in self.convs:
            x = block(x)
            out.append(x)
        return out

    def embed(self, last_block: torch.Tensor) -> torch.Tensor:
        x = last_block.mean(-1)  # over frequency → (B, C, T')
        return x.amax(-1) + x.mean(-1)

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(self.blocks(logmel)[-1]))


class SpectrogramClassifier(nn.Module):
    """f(X) = AudioCNN(Refeaturizer(X)): logits of a (B, T, F) batch of log1p-STFT magnitudes."""

    def __init__(self, cnn: AudioCNN, refeaturizer: Refeaturizer):
        super().__init__()
        self.cnn, self.refeaturizer = cnn, refeaturizer

    def blocks(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.cnn.blocks(self.refeaturizer(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn(self.refeaturizer(x))

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        return torch.cat([torch.softmax(self(x[i: i + batch_size]), -1) for i in range(0, len(x), batch_size)])


def freeze(model: nn.Module) -> nn.Module:
    """eval() and no gradients (the recipe's frozen classifier)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
