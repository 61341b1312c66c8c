"""CIFAR-style ResNet-20/32/44/56 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016,
section 4.2): a 3x3 conv with 16 channels, three stages of n basic blocks (16, 32, 64 channels; the
second and third stride 2), global average pooling and a linear classifier; depth = 6n + 2.

Shortcuts are "option A" (parameter free): on a stride-2 block the input is subsampled by 2 and padded
with zero channels, as in the Bit-Flip Attack code (Rakin et al., ICCV 2019, ``DownsampleA``) that the
WCAT code builds on, so every weight of the network is in a Conv2d or the final Linear.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from .args import register_model

# CIFAR ResNet depths (He et al. 2016, section 4.2: 6n + 2)
CIFAR_RESNET_DEPTHS = (20, 32, 44, 56)


class ShortcutA(nn.Module):
    """Subsample by ``stride`` and append zero channels up to ``out_channels`` (no parameters)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.extra = out_channels - in_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            x = torch.cat([x, x.new_zeros(x.shape[0], self.extra, x.shape[2], x.shape[3])], dim=1)
        return x


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        need = stride != 1 or in_channels != out_channels
        self.shortcut = ShortcutA(in_channels, out_channels, stride) if need else nn.Identity()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """CIFAR-style ResNet of ``depth`` = 6n + 2 layers with option-A shortcuts."""

    def __init__(self, depth: int, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        blocks, channels = [], 16
        for stage, width in enumerate((16, 32, 64)):
            for index in range(n):
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(BasicBlock(channels, width, stride))
                channels = width
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        return self.fc(self.pool(x).flatten(1))


def build_cifar_resnet(depth: int, num_classes: int, in_channels: int, image_size: int) -> CifarResNet:
    """CIFAR-style ResNet (any image size: global average pooling before ``fc``)."""
    return CifarResNet(depth, num_classes, in_channels)


for _depth in CIFAR_RESNET_DEPTHS:
    register_model(f"resnet{_depth}", partial(build_cifar_resnet, _depth))
