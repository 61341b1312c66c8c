"""VGG-11 and VGG-16 with batch norm (Simonyan & Zisserman, ICLR 2015, configurations A and D; batch
norm after every conv as torchvision's ``vgg11_bn``/``vgg16_bn``), in two forms with the same
``features.N.*`` names.

- ImageNet form (torchvision's layout, so its checkpoints load by name): ``features`` (3x3 convs with
  bias, each followed by batch norm and ReLU, five 2x2 max-pools), a 7x7 adaptive average pool, and
  ``classifier`` = Linear(512*7*7, 4096) - ReLU - Dropout - Linear(4096, 4096) - ReLU - Dropout -
  Linear(4096, classes) at keys ``classifier.0``, ``classifier.3``, ``classifier.6``.
- CIFAR form, as in the Bit-Flip Attack code (Rakin et al., ICCV 2019, ``vgg_cifar``): the same
  ``features`` (five pools take 32x32 to 1x1), then ``classifier`` = Dropout - Linear(512, 512) - ReLU -
  Dropout - Linear(512, 512) - ReLU - Linear(512, classes) at keys ``classifier.1``, ``classifier.4``,
  ``classifier.6``.  A 1x1 adaptive average pool before it (an exact identity on 32x32 inputs) lets
  larger images through.

``layout = "auto"`` takes the CIFAR form below 64 pixels (where the ImageNet form's 7x7 pool would only
copy a 1-pixel map 49 times) and the ImageNet form from 64 pixels up.  Images under 32 pixels cannot
pass the five pools and are refused.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from sram_models.errors import InputError

from .args import ModelArg, dropout_arg, register_model
from .lean_inference import BatchChunkedMaxPool2d, InplaceBatchNorm2d

# Conv widths per configuration in units of the first width (64 in the paper), "M" a 2x2 max-pool
# (Simonyan & Zisserman 2015, table 1: A = VGG-11, D = VGG-16).
VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg11_bn": (1, "M", 2, "M", 4, 4, "M", 8, 8, "M", 8, 8, "M"),
    "vgg16_bn": (1, 1, "M", 2, 2, "M", 4, 4, 4, "M", 8, 8, 8, "M", 8, 8, 8, "M"),
}
VGG_MIN_IMAGE = 32  # five 2x2 max-pools
VGG_CIFAR_BELOW = 64  # layout "auto": the CIFAR form below this image size
IMAGENET_HIDDEN = 4096  # torchvision's classifier width
IMAGENET_POOL = 7  # torchvision's adaptive pool: 224 / 32

VGG_ARGS = {
    "width": ModelArg(int, 64, "channels of the first conv; the blocks have w, 2w, 4w, 8w, 8w (64 in the "
                      "paper; smaller for quick tests)", minimum=1),
    "hidden": ModelArg(int, None, "width of the two hidden classifier layers (auto: 4096 in the ImageNet "
                       "form, 8 * width = 512 in the CIFAR form)", minimum=1),
    "layout": ModelArg(str, "auto", "imagenet (torchvision) or cifar (BFA code) form; auto: cifar below "
                       f"{VGG_CIFAR_BELOW} pixels", choices=("auto", "imagenet", "cifar")),
    "dropout": dropout_arg(0.5, "torchvision's and the BFA code's 0.5"),
}


def vgg_features(config: tuple[int | str, ...], in_channels: int, width: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = in_channels
    for item in config:
        if item == "M":
            layers.append(BatchChunkedMaxPool2d(2, stride=2))
            continue
        out = int(item) * width
        layers += [nn.Conv2d(channels, out, 3, padding=1), InplaceBatchNorm2d(out), nn.ReLU(inplace=True)]
        channels = out
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """``features`` -> ``avgpool`` -> flatten -> ``classifier`` (see the module docstring for both forms)."""

    def __init__(self, name: str, num_classes: int, in_channels: int = 3, width: int = 64,
                 hidden: int | None = None, layout: str = "imagenet", dropout: float = 0.5) -> None:
        super().__init__()
        if layout not in ("imagenet", "cifar"):
            raise ValueError(f"layout must be imagenet or cifar, got {layout!r}")
        self.layout = layout
        self.features = vgg_features(VGG_CONFIGS[name], in_channels, width)
        last = 8 * width
        if layout == "imagenet":
            hidden = IMAGENET_HIDDEN if hidden is None else hidden
            self.avgpool = nn.AdaptiveAvgPool2d(IMAGENET_POOL)
            self.classifier = nn.Sequential(
                nn.Linear(last * IMAGENET_POOL**2, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(hidden, num_classes),
            )
        else:
            hidden = last if hidden is None else hidden
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(
                nn.Dropout(dropout), nn.Linear(last, hidden), nn.ReLU(inplace=True),
                nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
                nn.Linear(hidden, num_classes),
            )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                # torchvision's He-normal (fan-out), the same distribution as the BFA code's N(0, 2/(k^2 out))
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear) and layout == "imagenet":
                # torchvision's N(0, 0.01); the BFA code keeps PyTorch's default Linear init (CIFAR form)
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def build_vgg(name: str, num_classes: int, in_channels: int, image_size: int, width: int,
              hidden: int | None, layout: str, dropout: float) -> VGG:
    if image_size < VGG_MIN_IMAGE:
        raise InputError(
            f"{name} needs images of at least {VGG_MIN_IMAGE}x{VGG_MIN_IMAGE} pixels (five 2x2 max-pools), "
            f"got {image_size}: use a smaller network (e.g. small_cnn or resnet18) for these images"
        )
    if layout == "auto":
        layout = "cifar" if image_size < VGG_CIFAR_BELOW else "imagenet"
    return VGG(name, num_classes, in_channels, width=width, hidden=hidden, layout=layout, dropout=dropout)


for _name in VGG_CONFIGS:
    register_model(_name, partial(build_vgg, _name), VGG_ARGS)
