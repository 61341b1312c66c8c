"""Build a model by name."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from sram_models.errors import InputError

from .lenet import LeNet5
from .resnet_cifar import CifarResNet
from .small import MLP, SmallCNN

_BUILDERS: dict[str, Callable[[int, int, int], nn.Module]] = {
    "mlp": lambda c, ch, s: MLP(c, ch, s),
    "small_cnn": lambda c, ch, s: SmallCNN(c, ch, s),
    "lenet5": lambda c, ch, s: LeNet5(c, ch, s),
    "resnet20": lambda c, ch, s: CifarResNet(20, c, ch),
    "resnet32": lambda c, ch, s: CifarResNet(32, c, ch),
    "resnet44": lambda c, ch, s: CifarResNet(44, c, ch),
    "resnet56": lambda c, ch, s: CifarResNet(56, c, ch),
}
MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def build_model(name: str, num_classes: int = 10, in_channels: int = 1, image_size: int = 8) -> nn.Module:
    """A freshly initialised float model (draws from torch's global RNG: seed it first)."""
    if name not in _BUILDERS:
        raise InputError(f"unknown model {name!r}: use one of {', '.join(MODEL_NAMES)}")
    sizes = (("num_classes", num_classes), ("in_channels", in_channels), ("image_size", image_size))
    for label, value in sizes:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{label} must be a positive integer, got {value!r}")
    if num_classes < 2:
        raise InputError(f"num_classes must be at least 2, got {num_classes}")
    return _BUILDERS[name](num_classes, in_channels, image_size)
