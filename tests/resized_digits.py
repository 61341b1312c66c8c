"""The embedded digits written as real dataset files of another shape, so that the real loaders run.

``write_mnist_idx`` writes the four MNIST IDX files (28x28 grey), ``write_cifar_batches`` the CIFAR-10
python batches (32x32 RGB, the grey digit in all three channels).  The train/test split is the digits'
own fixed 70/30 split (1,258 training and 539 test images); pixels are resized bilinearly from 8x8 and
scaled to 0..255 like the originals.  ``shifts`` adds copies of every *training* image moved by whole
pixels (zero fill): the shipped recipes use batch 256, and 1,258 images would give 5 optimizer steps an
epoch, where MNIST and CIFAR-10 give ~200; the test split is never copied.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# (dy, dx) pixel moves of the extra training copies at the target size: the original and three moved ones
SHIFTS = ((0, 0), (0, 2), (2, 0), (-2, -2))


def _digit_splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from wcatsim.train.datasets.bundle import stratified_split
    from wcatsim.train.datasets.digits import SPLIT_SEED, TEST_FRACTION, _read

    x, y = _read()  # (N, 1, 8, 8) in [0, 1]
    train, test = stratified_split(y, TEST_FRACTION, SPLIT_SEED)
    return {"train": (x[train], y[train]), "test": (x[test], y[test])}


def _resize(x: np.ndarray, size: int) -> np.ndarray:
    """(N, 1, 8, 8) in [0, 1] -> (N, size, size) uint8 (bilinear, corners aligned)."""
    big = F.interpolate(torch.from_numpy(x), size=(size, size), mode="bilinear", align_corners=True)
    return np.clip(np.rint(big.numpy()[:, 0] * 255.0), 0, 255).astype(np.uint8)


def _shifted(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """(N, H, W) moved by (dy, dx) pixels, zeros shifted in."""
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def _images(size: int, shifts: tuple[tuple[int, int], ...]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per split (uint8 images (N, size, size), labels); the training split with its shifted copies."""
    out = {}
    for split, (x, y) in _digit_splits().items():
        images = _resize(x, size)
        if split == "train" and shifts:
            images = np.concatenate([_shifted(images, dy, dx) for dy, dx in shifts])
            y = np.tile(y, len(shifts))
        out[split] = (images, y)
    return out


def write_mnist_idx(root: Path, size: int = 28, shifts: tuple[tuple[int, int], ...] = ()) -> Path:
    """train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-* in ``root`` (created)."""
    root.mkdir(parents=True, exist_ok=True)
    names = {"train": "train", "test": "t10k"}
    for split, (images, y) in _images(size, shifts).items():
        head = (2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in images.shape)
        (root / f"{names[split]}-images-idx3-ubyte").write_bytes(head + images.tobytes())
        head = (2049).to_bytes(4, "big") + len(y).to_bytes(4, "big")
        (root / f"{names[split]}-labels-idx1-ubyte").write_bytes(head + y.astype(np.uint8).tobytes())
    return root


def write_cifar_batches(root: Path, size: int = 32, shifts: tuple[tuple[int, int], ...] = ()) -> Path:
    """data_batch_1..5 and test_batch (CIFAR-10 python format) in ``root`` (created)."""
    root.mkdir(parents=True, exist_ok=True)
    splits = _images(size, shifts)

    def dump(path: Path, images: np.ndarray, y: np.ndarray) -> None:
        grey = images.reshape(len(images), -1)
        data = np.concatenate([grey, grey, grey], axis=1)  # R, G, B planes as CIFAR stores them
        with open(path, "wb") as handle:
            pickle.dump({b"data": data, b"labels": [int(v) for v in y]}, handle)

    x, y = splits["train"]
    for i, part in enumerate(np.array_split(np.arange(len(y)), 5), start=1):
        dump(root / f"data_batch_{i}", x[part], y[part])
    dump(root / "test_batch", *splits["test"])
    return root
