"""``load_dataset(name, root=None, seed=0, val_fraction=0.1, ...)``: one entry point for every data set."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sram_models.errors import InputError
from wcatsim.config.registries import DATASETS

from .bundle import DatasetBundle, check_val_fraction
from .cifar import load_cifar10
from .digits import load_digits
from .idx import load_idx_dataset
from .imagefolder import load_imagefolder
from .synthetic import load_synthetic_cifar, load_synthetic_digits

DATASET_NAMES = (
    "digits", "mnist", "fashion_mnist", "cifar10", "imagefolder", "synthetic_cifar", "synthetic_digits",
)
# share of the training split held out for validation (model selection), stratified by class
DEFAULT_VAL_FRACTION = 0.1


def load_dataset(
    name: str, root: str | Path | None = None, seed: int = 0, val_fraction: float = DEFAULT_VAL_FRACTION,
    *, stream: bool | str = "auto", workers: int = 2, **imagefolder: Any,
) -> DatasetBundle:
    """Load a data set by name.  ``root`` is the local folder of mnist / fashion_mnist / cifar10 /
    imagefolder (ignored by the embedded and synthetic sets); ``seed`` picks the validation split only
    (test splits are fixed).  ``stream`` / ``workers``: how evaluation reads the splits (data.stream,
    data.workers); ``imagefolder``: the imagefolder preprocessing options (image_size, resize,
    interpolation, mean, std, val_labels; see :func:`wcatsim.train.datasets.imagefolder.load_imagefolder`)."""
    if name not in DATASET_NAMES:
        raise InputError(f"unknown dataset {name!r}: use one of {', '.join(DATASET_NAMES)}")
    check_val_fraction(val_fraction)
    if imagefolder and name != "imagefolder":
        names = ", ".join(sorted(imagefolder))
        raise InputError(f"{names} only apply to the imagefolder dataset, not {name}")
    path = Path(root).expanduser() if root not in (None, "") else None
    if name == "imagefolder":
        return load_imagefolder(path, seed, val_fraction, stream=stream, workers=workers, **imagefolder)
    if name == "digits":
        bundle = load_digits(seed, val_fraction)
    elif name in ("mnist", "fashion_mnist"):
        bundle = load_idx_dataset(name, path, seed, val_fraction)
    elif name == "cifar10":
        bundle = load_cifar10(path, seed, val_fraction)
    elif name == "synthetic_cifar":
        bundle = load_synthetic_cifar(seed, val_fraction)
    else:
        bundle = load_synthetic_digits(seed, val_fraction)
    return dataclasses.replace(bundle, stream=stream, workers=int(workers))


for _name in DATASET_NAMES:  # the dispatcher above serves every name it lists
    DATASETS.register(_name, load_dataset)
