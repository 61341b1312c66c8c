"""Small synthetic data sets for tests: random but learnable (a smooth class template plus noise).

The images are drawn from a fixed generator (DATA_SEED), so they are the same whatever the training seed;
the seed passed to the loader only picks the validation split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from wcatsim.config.registries import DATASETS

from .augment import RandomCropFlip
from .bundle import DatasetBundle, make_bundle

DATA_SEED = 20230  # fixed: the synthetic images never change between runs
# template strength against pixel noise: high enough that a small model learns it in a few epochs, low
# enough that it does not reach 100% at once
SIGNAL = 0.35
NOISE = 0.25


def synthetic_images(
    n: int, channels: int, size: int, classes: int, rng: np.random.Generator, signal: float = SIGNAL
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` learnable images: a smooth class template (4x4 noise, upsampled) x a random gain + pixel noise.

    ``signal`` is the template's amplitude against the pixel noise :data:`NOISE` (:data:`SIGNAL` for the
    tests' sets; ``benchmarks/cifar_shaped.py`` takes a weaker one so a ResNet-20 is not perfect).
    Returns float32 images in [0, 1], ``(n, channels, size, size)``, and int64 balanced labels.
    """
    coarse = torch.from_numpy(rng.standard_normal((classes, channels, 4, 4)).astype(np.float32))
    templates = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False).numpy()
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    x = 0.5 + signal * templates[labels] * rng.uniform(0.6, 1.4, (n, 1, 1, 1)) + NOISE * rng.standard_normal(
        (n, channels, size, size)
    )
    return np.clip(x, 0.0, 1.0).astype(np.float32), labels.astype(np.int64)


def _load(name: str, channels: int, size: int, n_train: int, n_test: int, seed: int, val_fraction: float,
          augment: bool) -> DatasetBundle:
    rng = np.random.default_rng(DATA_SEED)
    x, y = synthetic_images(n_train + n_test, channels, size, 10, rng)
    mean = tuple(float(v) for v in x[:n_train].mean(axis=(0, 2, 3)))
    std = tuple(float(v) for v in x[:n_train].std(axis=(0, 2, 3)))
    return make_bundle(
        name, x[:n_train], y[:n_train], x[n_train:], y[n_train:], mean, std, 10, seed, val_fraction,
        augment=RandomCropFlip(mean, std) if augment else None,
    )


@DATASETS.register("synthetic_cifar")
def load_synthetic_cifar(root: Path | None = None, seed: int = 0, val_fraction: float = 0.1
                         ) -> DatasetBundle:
    """Synthetic 3x32x32, 10 classes (``root`` is ignored).

    2,000 training and 500 test images, CIFAR augmentation on train."""
    return _load("synthetic_cifar", 3, 32, 2000, 500, seed, val_fraction, augment=True)


@DATASETS.register("synthetic_digits")
def load_synthetic_digits(root: Path | None = None, seed: int = 0, val_fraction: float = 0.1
                          ) -> DatasetBundle:
    """Synthetic 1x8x8, 10 classes (``root`` is ignored).

    700 training and 300 test images, no augmentation."""
    return _load("synthetic_digits", 1, 8, 700, 300, seed, val_fraction, augment=False)


def write_image_folder(
    root: str | Path, classes: int = 3, train_per_class: int = 8, val_per_class: int = 4, size: int = 64,
    seed: int = DATA_SEED, extension: str = ".jpg", quality: int = 90, flat_val: bool = False,
    varied_sizes: bool = True,
) -> Path:
    """Write a small imagefolder (``root/train/<class>/*``, ``root/val/<class>/*``) of generated, learnable
    RGB images: each class a smooth colour template plus noise, the same :func:`_images` recipe.

    Class folders are named ``n0000000``, ``n0000001``, ... (WNID-like). ``extension`` picks the format
    (``.jpg``, ``.JPEG``, ``.png``); ``varied_sizes`` makes images up to 1.5x as wide or tall, so resizing
    keeps an aspect ratio; ``flat_val`` writes val/ as one flat folder with ``val_labels.txt``
    (``filename WNID`` lines) in ``root``, the ImageNet validation archive's layout.
    """
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    names = [f"n{c:07d}" for c in range(classes)]
    fmt = "PNG" if extension.lower() == ".png" else "JPEG"
    labels_lines = []
    n_train, n_val = train_per_class * classes, val_per_class * classes
    # one set of class templates for both splits
    x, y = synthetic_images(n_train + n_val, 3, size, classes, rng)
    pixels = (np.clip(x, 0.0, 1.0) * 255).round().astype(np.uint8).transpose(0, 2, 3, 1)
    # exactly train_per_class / val_per_class images of every class (each class has their sum in x)
    members = [np.flatnonzero(y == c) for c in range(classes)]
    train_idx = np.sort(np.concatenate([m[:train_per_class] for m in members]))
    val_idx = np.sort(np.concatenate([m[train_per_class:] for m in members]))
    for split, chosen in (("train", train_idx), ("val", val_idx)):
        for j, i in enumerate(chosen):
            image = Image.fromarray(pixels[i])
            if varied_sizes:
                w, h = size, size
                if rng.uniform() < 0.5:
                    w = int(size * rng.uniform(1.0, 1.5))
                else:
                    h = int(size * rng.uniform(1.0, 1.5))
                image = image.resize((w, h), Image.Resampling.BILINEAR)
            file = f"{split}_{j:05d}{extension}"
            if split == "val" and flat_val:
                folder = root / "val"
                labels_lines.append(f"{file} {names[y[i]]}")
            else:
                folder = root / split / names[y[i]]
            folder.mkdir(parents=True, exist_ok=True)
            image.save(folder / file, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    if flat_val:
        (root / "val_labels.txt").write_text("\n".join(labels_lines) + "\n", encoding="utf-8")
    return root
