"""MNIST and Fashion-MNIST from their IDX files (plain or .gz) in a local folder."""

from __future__ import annotations

import gzip
import zlib
from functools import partial
from pathlib import Path

import numpy as np

from sram_models.errors import InputError
from wcatsim.config.registries import DATASETS

from .bundle import DatasetBundle, dataset_folder, make_bundle

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# mean and std of the training images' pixels in [0, 1]: MNIST 0.1307/0.3081 (the PyTorch MNIST example),
# Fashion-MNIST 0.2860/0.3530 (computed the same way on its 60,000 training images)
NORMALISATION = {"mnist": ((0.1307,), (0.3081,)), "fashion_mnist": ((0.2860,), (0.3530,))}
# torchvision keeps the files in <root>/MNIST/raw or <root>/FashionMNIST/raw; both layouts are accepted
SUBFOLDERS = {"mnist": ("", "raw", "MNIST/raw"), "fashion_mnist": ("", "raw", "FashionMNIST/raw")}
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def _find(root: Path, name: str, stem: str) -> Path | None:
    for sub in SUBFOLDERS[name]:
        for suffix in ("", ".gz"):
            path = root / sub / (stem + suffix)
            if path.is_file():
                return path
    return None


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (images: magic 2051, N x rows x cols uint8; labels: magic 2049, N uint8)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        # a truncated download: gzip raises EOFError, which click would report as a bare "Aborted!"
        raise InputError(
            f"{path} cannot be decompressed ({type(exc).__name__}: the file is truncated or not gzip); "
            "replace it with a complete copy"
        ) from None
    if len(data) < 8:
        raise InputError(f"{path} is not an IDX file (too short)")
    magic = int.from_bytes(data[0:4], "big")
    dims = magic & 0xFF
    if magic >> 8 != 0x08 or dims not in (1, 3):
        raise InputError(f"{path} is not an unsigned-byte IDX file (magic {magic})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise InputError(f"{path} holds {body.size} bytes of data, its header says {shape}")
    return body.reshape(shape)


def load_idx_dataset(name: str, root: Path | None, seed: int = 0, val_fraction: float = 0.1) -> DatasetBundle:
    """MNIST-like data set ``name`` from its four IDX files in ``root`` (plain or .gz)."""
    expected = ", ".join(f"{stem}[.gz]" for stem in FILES.values())
    root = dataset_folder(name, root, expected)
    found = {key: _find(root, name, stem) for key, stem in FILES.items()}
    missing = [FILES[key] for key, path in found.items() if path is None]
    if missing:
        raise InputError(f"{root} lacks {', '.join(missing)} (plain or .gz) for {name}: expected {expected}")
    arrays = {key: read_idx(path) for key, path in found.items()}
    for split in ("train", "test"):
        if arrays[f"{split}_images"].ndim != 3 or arrays[f"{split}_labels"].ndim != 1:
            raise InputError(f"{name} {split} files in {root} have the wrong dimensions (images 3, labels 1)")
        if arrays[f"{split}_images"].shape[0] != arrays[f"{split}_labels"].shape[0]:
            raise InputError(f"{name} {split} images and labels in {root} differ in count")
    train_x = arrays["train_images"][:, None].astype(np.float32) / 255.0
    test_x = arrays["test_images"][:, None].astype(np.float32) / 255.0
    mean, std = NORMALISATION[name]
    return make_bundle(
        name, train_x, arrays["train_labels"].astype(np.int64), test_x,
        arrays["test_labels"].astype(np.int64), mean, std, 10, seed, val_fraction,
    )


for _name in NORMALISATION:  # mnist, fashion_mnist: one format, two data sets
    DATASETS.register(_name, partial(load_idx_dataset, _name), doc=f"{_name} from its IDX files in data.root")
