"""The embedded UCI handwritten digits (8x8, 1,797 images, pixel values 0..16), shipped in
``data/digits/digits.csv.gz`` (see its README for the source)."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np

from sram_models.paths import data_dir
from wcatsim.config.registries import DATASETS

from .bundle import DatasetBundle, make_bundle, stratified_split

# The test split is fixed for everyone: 30% of every class, chosen with this seed (70/30 split, as in
# the scikit-learn digits examples' usual hold-out), independent of the training seed.
TEST_FRACTION = 0.3
SPLIT_SEED = 0
PIXEL_MAX = 16.0


@lru_cache(maxsize=1)
def _read() -> tuple[np.ndarray, np.ndarray]:
    path = data_dir() / "digits" / "digits.csv.gz"
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.float32)
    return table[:, :64].reshape(-1, 1, 8, 8) / PIXEL_MAX, table[:, 64].astype(np.int64)


@DATASETS.register("digits")
def load_digits(root: Path | None = None, seed: int = 0, val_fraction: float = 0.1) -> DatasetBundle:
    """The embedded UCI digits, 8x8 (``root`` is ignored).

    70/30 stratified train/test split (fixed, seed 0), validation carved from train with ``seed``.
    Pixels scaled to [0, 1], then normalised by the mean and standard deviation of the 70% train pool."""
    x, y = _read()
    train_idx, test_idx = stratified_split(y, TEST_FRACTION, SPLIT_SEED)
    pool = x[train_idx]
    mean, std = (float(pool.mean()),), (float(pool.std()),)
    return make_bundle(
        "digits", pool, y[train_idx], x[test_idx], y[test_idx], mean, std, 10, seed, val_fraction
    )
