"""``load_dataset(name, root=None, seed=0, val_fraction=0.1, ...)``: one entry point for every data set.

Each data-set format registers its loader in :data:`wcatsim.config.registries.DATASETS` where it is
defined, as ``loader(root, seed, val_fraction, **options) -> DatasetBundle`` (``root`` is None for the
embedded and synthetic sets, which ignore it); its keyword-only parameters are the options it takes.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from pathlib import Path
from typing import Any

from sram_models.errors import InputError
from wcatsim.config.registries import DATASETS

from .bundle import DatasetBundle, check_val_fraction

# The files that register data sets, imported in this order: the order of DATASET_NAMES (help texts,
# messages).  A new format file is added here.
DATASET_MODULES = ("digits", "idx", "cifar", "imagefolder", "synthetic")
for _module in DATASET_MODULES:
    importlib.import_module(f"{__package__}.{_module}")

DATASET_NAMES: tuple[str, ...] = DATASETS.names()
# share of the training split held out for validation (model selection), stratified by class
DEFAULT_VAL_FRACTION = 0.1
# how evaluation reads the splits: every bundle records them; a loader that builds its datasets with
# them (imagefolder: its reading workers) takes them as keyword options too
_READING = ("stream", "workers")


def _options(loader: Any) -> set[str]:
    """Return the keyword-only parameter names of ``loader``: the options it takes."""
    return {p.name for p in inspect.signature(loader).parameters.values() if p.kind is p.KEYWORD_ONLY}


def load_dataset(
    name: str, root: str | Path | None = None, seed: int = 0, val_fraction: float = DEFAULT_VAL_FRACTION,
    *, stream: bool | str = "auto", workers: int = 2, **options: Any,
) -> DatasetBundle:
    """Load a data set by name.

    ``root`` is the local folder of mnist / fashion_mnist / cifar10 / imagefolder (ignored by the
    embedded and synthetic sets); ``seed`` picks the validation split only (test splits are fixed).
    ``stream`` / ``workers``: how evaluation reads the splits (data.stream, data.workers); ``options``:
    the format's own options, e.g. imagefolder's preprocessing (image_size, resize, interpolation, mean,
    std, val_labels; see :func:`wcatsim.train.datasets.imagefolder.load_imagefolder`).
    """
    loader = DATASETS.get(name)
    check_val_fraction(val_fraction)
    takes = _options(loader)
    unknown = sorted(set(options) - takes)
    if unknown:
        owners = [other for other, load in DATASETS.items() if set(unknown) <= _options(load)]
        if owners:
            owner = " and ".join(owners)
            raise InputError(f"{', '.join(unknown)} only apply to the {owner} dataset, not {name}")
        own = sorted(takes - set(_READING))
        raise InputError(f"{', '.join(unknown)}: not an option of the {name} dataset (its options: "
                         f"{', '.join(own) or 'none'})")
    reading = {"stream": stream, "workers": workers}
    options.update({key: value for key, value in reading.items() if key in takes})
    path = Path(root).expanduser() if root not in (None, "") else None
    bundle = loader(path, seed, val_fraction, **options)
    return dataclasses.replace(bundle, stream=stream, workers=int(workers))
