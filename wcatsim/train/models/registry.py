"""Build a model by name: ``build_model(name, num_classes, in_channels, image_size, **args)``.

Each model file registers its builders in :data:`wcatsim.config.registries.MODELS` where the model is
defined (:func:`wcatsim.train.models.args.register_model`); this module imports those files and builds
through the registry.  ``args`` are the model's own keyword arguments (the config's ``[model.args]``),
e.g. a small ``width`` for quick tests; :func:`model_args` lists them per model, docs/models.md describes
them.
"""

from __future__ import annotations

import importlib
from typing import Any

from torch import nn

from sram_models.errors import InputError
from wcatsim.config.registries import MODELS

from .args import ModelArg, ModelEntry, check_args

# The files that register models, imported in this order: the order of MODEL_NAMES (help texts, the
# README's list).  A new model file is added here.
MODEL_MODULES = ("small", "lenet", "resnet_cifar", "resnet_imagenet", "vgg", "mobilenet", "vit")
for _module in MODEL_MODULES:
    importlib.import_module(f"{__package__}.{_module}")

MODEL_NAMES: tuple[str, ...] = MODELS.names()


def _entry(name: str) -> ModelEntry:
    return MODELS.get(name)


def model_args(name: str) -> dict[str, ModelArg]:
    """Return the keyword arguments ``build_model`` accepts for model ``name``.

    Parameters
    ----------
    name : str
        A registered model name.

    Returns
    -------
    dict of str to ModelArg
    """
    return dict(_entry(name).args)


def build_model(name: str, num_classes: int = 10, in_channels: int = 1, image_size: int = 8,
                **args: Any) -> nn.Module:
    """Build a freshly initialised float model (draws from torch's global RNG: seed it first).

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
