"""CIFAR-10 from the python batches (data_batch_1..5, test_batch) in a local folder.

The batches are pickles; they are read with an unpickler that only admits the builtins and NumPy array
types they consist of (no arbitrary code on load).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from sram_models.errors import InputError
from wcatsim.config.registries import DATASETS

from .augment import RandomCropFlip
from .bundle import DatasetBundle, dataset_folder, make_bundle

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
# per-channel mean and standard deviation of the 50,000 training images in [0, 1]
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("builtins", "dict"), ("builtins", "list"), ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch -> (images (N, 3, 32, 32) uint8, labels int64)."""
    try:
        with open(path, "rb") as handle:
            batch = _BatchUnpickler(handle, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as error:
        raise InputError(f"{path} is not a CIFAR-10 python batch ({error})") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
        raise InputError(f"{path} is not a CIFAR-10 python batch (data shape {data.shape})")
    return data.reshape(-1, 3, 32, 32), labels


@DATASETS.register("cifar10")
def load_cifar10(root: Path | None, seed: int = 0, val_fraction: float = 0.1) -> DatasetBundle:
    """CIFAR-10 from its python batches in ``root``, random crop and flip on train."""
    expected = f"{', '.join(TRAIN_FILES)} and {TEST_FILE} (the python version, cifar-10-batches-py)"
    root = dataset_folder("cifar10", root, expected)
    folder = root / "cifar-10-batches-py" if (root / "cifar-10-batches-py").is_dir() else root
    missing = [name for name in (*TRAIN_FILES, TEST_FILE) if not (folder / name).is_file()]
    if missing:
        raise InputError(f"{folder} lacks {', '.join(missing)}: expected {expected}")
    parts = [read_batch(folder / name) for name in TRAIN_FILES]
    train_x = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    train_y = np.concatenate([p[1] for p in parts])
    test_x, test_y = read_batch(folder / TEST_FILE)
    return make_bundle(
        "cifar10", train_x, train_y, test_x.astype(np.float32) / 255.0, test_y, CIFAR10_MEAN, CIFAR10_STD, 10,
        seed, val_fraction, augment=RandomCropFlip(CIFAR10_MEAN, CIFAR10_STD),
    )
