"""Small synthetic data sets for tests: random but learnable (a smooth class template plus noise).

The images are drawn from a fixed generator (DATA_SEED), so they are the same whatever the training seed;
the seed passed to the loader only picks the validation split.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .augment import RandomCropFlip
from .bundle import DatasetBundle, make_bundle

DATA_SEED = 20230  # fixed: the synthetic images never change between runs
# template strength against pixel noise: high enough that a small model learns it in a few epochs, low
# enough that it does not reach 100% at once
SIGNAL = 0.35
NOISE = 0.25


def _images(
    n: int, channels: int, size: int, classes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    coarse = torch.from_numpy(rng.standard_normal((classes, channels, 4, 4)).astype(np.float32))
    templates = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False).numpy()
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    x = 0.5 + SIGNAL * templates[labels] * rng.uniform(0.6, 1.4, (n, 1, 1, 1)) + NOISE * rng.standard_normal(
        (n, channels, size, size)
    )
    return np.clip(x, 0.0, 1.0).astype(np.float32), labels.astype(np.int64)


def _load(name: str, channels: int, size: int, n_train: int, n_test: int, seed: int, val_fraction: float,
          augment: bool) -> DatasetBundle:
    rng = np.random.default_rng(DATA_SEED)
    x, y = _images(n_train + n_test, channels, size, 10, rng)
    mean = tuple(float(v) for v in x[:n_train].mean(axis=(0, 2, 3)))
    std = tuple(float(v) for v in x[:n_train].std(axis=(0, 2, 3)))
    return make_bundle(
        name, x[:n_train], y[:n_train], x[n_train:], y[n_train:], mean, std, 10, seed, val_fraction,
        augment=RandomCropFlip(mean, std) if augment else None,
    )


def load_synthetic_cifar(seed: int = 0, val_fraction: float = 0.1) -> DatasetBundle:
    """3x32x32, 10 classes, 2,000 training and 500 test images, CIFAR augmentation on train."""
    return _load("synthetic_cifar", 3, 32, 2000, 500, seed, val_fraction, augment=True)


def load_synthetic_digits(seed: int = 0, val_fraction: float = 0.1) -> DatasetBundle:
    """1x8x8, 10 classes, 700 training and 300 test images, no augmentation."""
    return _load("synthetic_digits", 1, 8, 700, 300, seed, val_fraction, augment=False)
