"""Small image classifiers: a compact CNN for 8×8 digits and CIFAR-style ResNets (He et al. 2016).

The ResNets follow the CIFAR variant used by the Lookbehind code (``models/resnet.py``, after
kuangliu/pytorch-cifar): a 3×3 stem without max-pool, four stages of widths (1, 2, 4, 8) × ``width``
with strides (1, 2, 2, 2), global average pooling and a linear head. ``resnet18`` = [2, 2, 2, 2]
basic blocks, ``resnet34`` = [3, 4, 6, 3] basic blocks, ``resnet50`` = [3, 4, 6, 3] bottlenecks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SmallCNN(nn.Module):
    """conv3×3(w) → ReLU → conv3×3(2w) → ReLU → maxpool 2 → linear; no normalisation layers."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, image_size: int = 8, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(),
        )
        self.head = nn.Linear(2 * width * (image_size // 2) ** 2, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(cin, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.shortcut = _shortcut(cin, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return F.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class CifarResNet(nn.Module):
    """CIFAR-style ResNet: 3×3 stem, four stages, global average pool, linear head."""

    def __init__(self, block: type[nn.Module], layers: list[int], in_channels: int = 3, n_classes: int = 10,
                 width: int = 64):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        stages, cin = [], width
        for i, n in enumerate(layers):
            planes = width * 2**i
            for j in range(n):
                stages.append(block(cin, planes, stride=2 if i > 0 and j == 0 else 1))
                cin = planes * block.expansion
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(cin, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stages(self.stem(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


RESNETS = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
}
MODELS = ("small_cnn", *RESNETS)


def build_model(name: str, in_channels: int, n_classes: int, image_size: int, width: int | None = None) -> nn.Module:
    """``small_cnn`` (width default 16) or a CIFAR ResNet (``resnet18|34|50``, width default 64)."""
    if name == "small_cnn":
        return SmallCNN(in_channels, n_classes, image_size, width or 16)
    if name in RESNETS:
        block, layers = RESNETS[name]
        return CifarResNet(block, layers, in_channels, n_classes, width or 64)
    raise ValueError(f"unknown model {name!r}; choose one of {MODELS}")
