"""The embedded digits written as real dataset files of another shape, so that the real loaders run.

``write_mnist_idx`` writes the four MNIST IDX files (28x28 grey), ``write_cifar_batches`` the CIFAR-10
python batches (32x32 RGB, the grey digit in all three channels).  The train/test split is the digits'
own fixed 70/30 split; pixels are resized bilinearly from 8x8 and scaled to 0..255 like the originals.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def _digit_splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from wcatsim.datasets.bundle import stratified_split
    from wcatsim.datasets.digits import SPLIT_SEED, TEST_FRACTION, _read

    x, y = _read()  # (N, 1, 8, 8) in [0, 1]
    train, test = stratified_split(y, TEST_FRACTION, SPLIT_SEED)
    return {"train": (x[train], y[train]), "test": (x[test], y[test])}


def _resize(x: np.ndarray, size: int) -> np.ndarray:
    """(N, 1, 8, 8) in [0, 1] -> (N, size, size) uint8 (bilinear, corners aligned)."""
    big = F.interpolate(torch.from_numpy(x), size=(size, size), mode="bilinear", align_corners=True)
    return np.clip(np.rint(big.numpy()[:, 0] * 255.0), 0, 255).astype(np.uint8)


def write_mnist_idx(root: Path, size: int = 28) -> Path:
    """train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-* in ``root`` (created)."""
    root.mkdir(parents=True, exist_ok=True)
    names = {"train": "train", "test": "t10k"}
    for split, (x, y) in _digit_splits().items():
        images = _resize(x, size)
        head = (2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in images.shape)
        (root / f"{names[split]}-images-idx3-ubyte").write_bytes(head + images.tobytes())
        head = (2049).to_bytes(4, "big") + len(y).to_bytes(4, "big")
        (root / f"{names[split]}-labels-idx1-ubyte").write_bytes(head + y.astype(np.uint8).tobytes())
    return root


def write_cifar_batches(root: Path, size: int = 32) -> Path:
    """data_batch_1..5 and test_batch (CIFAR-10 python format) in ``root`` (created)."""
    root.mkdir(parents=True, exist_ok=True)
    splits = _digit_splits()

    def dump(path: Path, x: np.ndarray, y: np.ndarray) -> None:
        grey = _resize(x, size).reshape(len(x), -1)
        data = np.concatenate([grey, grey, grey], axis=1)  # R, G, B planes as CIFAR stores them
        with open(path, "wb") as handle:
            pickle.dump({b"data": data, b"labels": [int(v) for v in y]}, handle)

    x, y = splits["train"]
    for i, part in enumerate(np.array_split(np.arange(len(y)), 5), start=1):
        dump(root / f"data_batch_{i}", x[part], y[part])
    dump(root / "test_batch", *splits["test"])
    return root
