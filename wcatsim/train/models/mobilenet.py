"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018,
table 2) with torchvision's module layout, so that torchvision's checkpoints load by name.

``features.0``: 3x3 conv (stride 2) + batch norm + ReLU6; ``features.1..17``: inverted residual blocks
(1x1 expansion conv + BN + ReLU6 unless the expansion is 1, 3x3 depthwise conv + BN + ReLU6, 1x1 linear
projection conv + BN; an identity shortcut where stride 1 keeps the width); ``features.18``: 1x1 conv to
1280 channels + BN + ReLU6; global average pooling; ``classifier`` = Dropout(0.2) - Linear (key
``classifier.1``).  Channel counts are rounded to multiples of 8 after the width multiplier, as in the
reference code; adaptive pooling makes every image size work.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .args import ModelArg, dropout_arg, register_model
from .lean_inference import InplaceBatchNorm2d

# (expansion t, output channels c, blocks n, first stride s) per stage: Sandler et al. 2018, table 2.
MOBILENET_V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1))
STEM_CHANNELS = 32  # table 2, first row
LAST_CHANNELS = 1280  # table 2, the 1x1 conv before the pooling

MOBILENET_ARGS = {
    "width_mult": ModelArg(float, 1.0, "width multiplier of every layer (1.0 in the paper; torchvision's "
                           "width_mult)", minimum=1e-3),
    "round_nearest": ModelArg(int, 8, "channel counts are rounded to multiples of this (torchvision's 8)",
                              minimum=1),
    "last_channel": ModelArg(int, None, "channels of the last 1x1 conv (auto: 1280 * max(1, width_mult), "
                             "rounded; set it small for quick tests)", minimum=1),
    "dropout": dropout_arg(0.2, "torchvision's 0.2"),
}


def make_divisible(value: float, divisor: int) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``), never more than 10%
    below ``value`` (the rounding of the reference MobileNet code)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def conv_bn_relu6(in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                  groups: int = 1) -> nn.Sequential:
    """Conv (no bias, 'same' padding) - BN - ReLU6 as one Sequential (keys ``.0``, ``.1``)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups,
                  bias=False),
        InplaceBatchNorm2d(out_channels),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """[1x1 expand - BN - ReLU6] - 3x3 depthwise (stride) - BN - ReLU6 - 1x1 project - BN (+ input)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = int(round(in_channels * expansion))
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(conv_bn_relu6(in_channels, hidden, 1))
        layers += [
            conv_bn_relu6(hidden, hidden, 3, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            InplaceBatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 3, width_mult: float = 1.0,
                 round_nearest: int = 8, last_channel: int | None = None, dropout: float = 0.2) -> None:
        super().__init__()
        channels = make_divisible(STEM_CHANNELS * width_mult, round_nearest)
        if last_channel is None:
            last_channel = make_divisible(LAST_CHANNELS * max(1.0, width_mult), round_nearest)
        features: list[nn.Module] = [conv_bn_relu6(in_channels, channels, 3, stride=2)]
        for expansion, c, n, s in MOBILENET_V2_STAGES:
            out = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(channels, out, s if i == 0 else 1, expansion))
                channels = out
        features.append(conv_bn_relu6(channels, last_channel, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last_channel, num_classes))
        # torchvision's initialisation
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def build_mobilenet_v2(num_classes: int, in_channels: int, image_size: int, width_mult: float,
                       round_nearest: int, last_channel: int | None, dropout: float) -> MobileNetV2:
    """Any image size works (adaptive average pooling before the classifier)."""
    return MobileNetV2(num_classes, in_channels, width_mult=width_mult, round_nearest=round_nearest,
                       last_channel=last_channel, dropout=dropout)


register_model("mobilenet_v2", build_mobilenet_v2, MOBILENET_ARGS)
