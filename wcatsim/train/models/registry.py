"""Build a model by name: ``build_model(name, num_classes, in_channels, image_size, **args)``.

``args`` are the model's own keyword arguments (the config's ``[model.args]``), e.g. a small ``width``
for quick tests; :func:`model_args` lists them per model, docs/models.md describes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from torch import nn

from sram_models.errors import InputError
from wcatsim.config.registries import MODELS

from .args import ModelArg, check_args
from .lenet import LeNet5
from .mobilenet import MOBILENET_ARGS, build_mobilenet_v2
from .resnet_cifar import CifarResNet
from .resnet_imagenet import RESNET_ARGS, RESNET_DEPTHS, build_resnet
from .small import MLP, SmallCNN
from .vgg import VGG_ARGS, VGG_CONFIGS, build_vgg
from .vit import DEIT_SIZES, build_deit, deit_args


@dataclass(frozen=True)
class ModelEntry:
    """A registry entry: ``build(num_classes, in_channels, image_size, **args)`` and its arguments."""

    build: Callable[..., nn.Module]
    args: Mapping[str, ModelArg] = field(default_factory=dict)


_MODELS: dict[str, ModelEntry] = {
    "mlp": ModelEntry(
        lambda c, ch, s, hidden: MLP(c, ch, s, hidden=hidden),
        {"hidden": ModelArg(int, 128, "units of the two hidden layers", minimum=1)},
    ),
    "small_cnn": ModelEntry(
        lambda c, ch, s, width: SmallCNN(c, ch, s, width=width),
        {"width": ModelArg(int, 16, "channels of the first conv (then 2x, 4x)", minimum=1)},
    ),
    "lenet5": ModelEntry(lambda c, ch, s: LeNet5(c, ch, s)),
    "resnet20": ModelEntry(lambda c, ch, s: CifarResNet(20, c, ch)),
    "resnet32": ModelEntry(lambda c, ch, s: CifarResNet(32, c, ch)),
    "resnet44": ModelEntry(lambda c, ch, s: CifarResNet(44, c, ch)),
    "resnet56": ModelEntry(lambda c, ch, s: CifarResNet(56, c, ch)),
    **{name: ModelEntry(partial(build_resnet, name), RESNET_ARGS) for name in RESNET_DEPTHS},
    **{name: ModelEntry(partial(build_vgg, name), VGG_ARGS) for name in VGG_CONFIGS},
    "mobilenet_v2": ModelEntry(build_mobilenet_v2, MOBILENET_ARGS),
    **{name: ModelEntry(partial(build_deit, name), deit_args(name)) for name in DEIT_SIZES},
}
MODEL_NAMES: tuple[str, ...] = tuple(_MODELS)
for _name, _model in _MODELS.items():
    MODELS.register(_name, _model)


def _entry(name: str) -> ModelEntry:
    if name not in _MODELS:
        raise InputError(f"unknown model {name!r}: use one of {', '.join(MODEL_NAMES)}")
    return _MODELS[name]


def model_args(name: str) -> dict[str, ModelArg]:
    """The keyword arguments ``build_model`` accepts for model ``name`` (name -> :class:`ModelArg`)."""
    return dict(_entry(name).args)


def build_model(name: str, num_classes: int = 10, in_channels: int = 1, image_size: int = 8,
                **args: Any) -> nn.Module:
    """A freshly initialised float model (draws from torch's global RNG: seed it first).

    ``args``: the model's own keyword arguments (:func:`model_args`); an unknown one or a bad value is an
    InputError that lists what the model accepts.  Build under ``with torch.device("meta"):`` to get the
    structure without allocating weights.
    """
    entry = _entry(name)
    sizes = (("num_classes", num_classes), ("in_channels", in_channels), ("image_size", image_size))
    for label, value in sizes:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{label} must be a positive integer, got {value!r}")
    if num_classes < 2:
        raise InputError(f"num_classes must be at least 2, got {num_classes}")
    return entry.build(num_classes, in_channels, image_size, **check_args(name, entry.args, args))
