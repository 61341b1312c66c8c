"""ImageNet-style ResNet-18/34/50 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016,
table 1) with torchvision's module layout, so that torchvision's checkpoints load by name.

Stem: 7x7 conv (stride 2) + batch norm + ReLU + 3x3 max-pool (stride 2); four stages of residual blocks
(widths w, 2w, 4w, 8w with w = 64; stages 2-4 start with stride 2); global average pooling and a linear
classifier.  ResNet-18/34 use two-conv basic blocks, ResNet-50 three-conv bottlenecks (expansion 4)
with the stride on the 3x3 conv (torchvision's "v1.5").  Shortcuts that change shape are a 1x1 conv +
batch norm (``downsample.0``, ``downsample.1``: option B of the paper).  Adaptive pooling makes every
image size work (the stem and the three stride-2 stages reduce 32-fold, down to at least 1 pixel).

State-dict keys (torchvision's): ``conv1``, ``bn1``, ``layer{1..4}.{block}.conv{1,2[,3]}``,
``.bn{1,2[,3]}``, ``.downsample.{0,1}``, ``fc``; listed in docs/models.md.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from .args import ModelArg, register_model
from .lean_inference import BatchChunkedMaxPool2d, InplaceBatchNorm2d

# Blocks per stage (He et al. 2016, table 1).
RESNET_DEPTHS: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}

RESNET_ARGS = {
    "width": ModelArg(int, 64, "channels of the stem and the first stage; the stages have w, 2w, 4w, 8w "
                      "(64 in He et al. 2016; smaller for quick tests)", minimum=1),
}


class BasicBlock(nn.Module):
    """conv3x3 (stride) - BN - ReLU - conv3x3 - BN, plus the shortcut, then ReLU."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int, downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = InplaceBatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = InplaceBatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class Bottleneck(nn.Module):
    """conv1x1 - BN - ReLU - conv3x3 (stride) - BN - ReLU - conv1x1 (4x planes) - BN, plus the shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int, downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = InplaceBatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = InplaceBatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = InplaceBatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class ImageNetResNet(nn.Module):
    """ResNet-18/34/50 in torchvision's layout (``name`` one of :data:`RESNET_DEPTHS`)."""

    def __init__(self, name: str, num_classes: int, in_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        kind, depths = RESNET_DEPTHS[name]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = InplaceBatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = BatchChunkedMaxPool2d(3, stride=2, padding=1)
        channels = width
        stages = []
        for index, blocks in enumerate(depths):
            planes = width * 2**index
            stride = 1 if index == 0 else 2
            layers = []
            for b in range(blocks):
                out = planes * block.expansion
                downsample = None
                if b == 0 and (stride != 1 or channels != out):
                    downsample = nn.Sequential(
                        nn.Conv2d(channels, out, 1, stride=stride, bias=False), InplaceBatchNorm2d(out)
                    )
                layers.append(block(channels, planes, stride if b == 0 else 1, downsample))
                channels = out
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        # torchvision's initialisation: He-normal (fan-out) convolutions, batch norm at identity
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build_resnet(name: str, num_classes: int, in_channels: int, image_size: int,
                 width: int) -> ImageNetResNet:
    """Any image size works (adaptive average pooling before ``fc``)."""
    return ImageNetResNet(name, num_classes, in_channels, width=width)


for _name in RESNET_DEPTHS:
    register_model(_name, partial(build_resnet, _name), RESNET_ARGS)
