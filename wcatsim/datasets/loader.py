"""``load_dataset(name, root=None, seed=0, val_fraction=0.1)``: one entry point for every data set."""

from __future__ import annotations

from pathlib import Path

from sram_models.errors import InputError

from .bundle import DatasetBundle, check_val_fraction
from .cifar import load_cifar10
from .digits import load_digits
from .idx import load_idx_dataset
from .synthetic import load_synthetic_cifar, load_synthetic_digits

DATASET_NAMES = ("digits", "mnist", "fashion_mnist", "cifar10", "synthetic_cifar", "synthetic_digits")
# share of the training split held out for validation (model selection), stratified by class
DEFAULT_VAL_FRACTION = 0.1


def load_dataset(
    name: str, root: str | Path | None = None, seed: int = 0, val_fraction: float = DEFAULT_VAL_FRACTION
) -> DatasetBundle:
    """Load a data set by name.  ``root`` is the local folder of mnist / fashion_mnist / cifar10 (ignored
    by the embedded and synthetic sets); ``seed`` picks the validation split only (test splits are fixed)."""
    if name not in DATASET_NAMES:
        raise InputError(f"unknown dataset {name!r}: use one of {', '.join(DATASET_NAMES)}")
    check_val_fraction(val_fraction)
    path = Path(root).expanduser() if root not in (None, "") else None
    if name == "digits":
        return load_digits(seed, val_fraction)
    if name in ("mnist", "fashion_mnist"):
        return load_idx_dataset(name, path, seed, val_fraction)
    if name == "cifar10":
        return load_cifar10(path, seed, val_fraction)
    if name == "synthetic_cifar":
        return load_synthetic_cifar(seed, val_fraction)
    return load_synthetic_digits(seed, val_fraction)
