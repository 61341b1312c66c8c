"""Image preprocessing for decoded files (Pillow + NumPy, no torchvision): the ImageNet conventions.

Evaluation: the shorter side resized to ``resize`` with the aspect ratio kept (the longer side truncated
to an integer, as torchvision's ``Resize(int)`` does), a centre crop of ``size`` (offsets rounded as
torchvision's ``CenterCrop``), pixels scaled to [0, 1], then ``(x - mean) / std`` per channel.
Training: a random-resized crop (area share in [0.08, 1], aspect ratio in [3/4, 4/3], ten tries and then
a centre crop of the clamped ratio: the Inception augmentation of Szegedy et al., CVPR 2015, as
torchvision implements it), resized to ``size`` x ``size``, a horizontal flip with probability 1/2, then
the same scaling. Pillow's bilinear and bicubic filters widen their support when shrinking, which is
the antialiased resize torchvision applies to PIL images and timm uses for DeiT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

# The Inception random-resized-crop ranges (Szegedy et al. 2015; torchvision's RandomResizedCrop defaults).
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
CROP_TRIES = 10

_FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


def resampling(name: str) -> Image.Resampling:
    """Pillow's filter for ``bilinear`` / ``bicubic``."""
    try:
        return _FILTERS[name]
    except KeyError:
        raise ValueError(f"interpolation {name!r}: use bilinear or bicubic") from None


def resized_shape(width: int, height: int, shorter: int) -> tuple[int, int]:
    """(width, height) with the shorter side ``shorter`` and the aspect kept (longer side truncated)."""
    if width <= height:
        return shorter, int(shorter * height / width)
    return int(shorter * width / height), shorter


def centre_box(width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the centred ``size`` x ``size`` square."""
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return left, top, left + size, top + size


def random_crop_box(width: int, height: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of an Inception random-resized crop of a ``width`` x ``height`` image."""
    area = width * height
    log_lo, log_hi = math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])
    for _ in range(CROP_TRIES):
        target = area * rng.uniform(*CROP_SCALE)
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return left, top, left + w, top + h
    ratio = width / height  # fallback: the whole image, clamped to the ratio range, centred
    if ratio < CROP_RATIO[0]:
        w, h = width, int(round(width / CROP_RATIO[0]))
    elif ratio > CROP_RATIO[1]:
        w, h = int(round(height * CROP_RATIO[1])), height
    else:
        w, h = width, height
    top, left = (height - h) // 2, (width - w) // 2
    return left, top, left + w, top + h


def to_tensor(image: Image.Image, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """An RGB image as a float32 (3, H, W) tensor, pixels / 255 then (x - mean) / std per channel."""
    x = np.asarray(image, dtype=np.float32) / np.float32(255.0)
    x = (x - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


@dataclass(frozen=True)
class EvalTransform:
    """Resize the shorter side to ``resize``, centre-crop ``size``, normalise."""

    size: int = 224
    resize: int = 256
    interpolation: str = "bilinear"
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)

    def __call__(self, image: Image.Image, seed: int | None = None) -> torch.Tensor:
        w, h = resized_shape(image.width, image.height, self.resize)
        image = image.resize((w, h), resampling(self.interpolation))
        return to_tensor(image.crop(centre_box(w, h, self.size)), self.mean, self.std)


@dataclass(frozen=True)
class TrainTransform:
    """Random-resized crop to ``size`` x ``size``, horizontal flip with probability 1/2, normalise.

    ``seed`` fixes the draw (the trainer passes one per image, so the augmentation does not depend on
    which loader worker decodes the image); without one, a seed is drawn from torch's global generator.
    """

    size: int = 224
    interpolation: str = "bilinear"
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)

    def __call__(self, image: Image.Image, seed: int | None = None) -> torch.Tensor:
        if seed is None:
            seed = int(torch.randint(0, 2**62, ()))
        rng = np.random.default_rng(seed)
        box = random_crop_box(image.width, image.height, rng)
        image = image.resize((self.size, self.size), resampling(self.interpolation), box=box)
        if rng.uniform() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return to_tensor(image, self.mean, self.std)
