"""In-memory image datasets, the bundle a loader returns, and the split/normalise helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sram_models.errors import InputError


class ImageTensorDataset(Dataset):
    """Images (N, C, H, W) float32, already normalised, and int64 labels, held in memory.

    ``augment`` (training sets only) maps a batch (B, C, H, W) to an augmented batch; ``__getitem__``
    applies it to single images, and a trainer may call :meth:`augment_batch` on whole batches instead
    (much faster).  ``x`` and ``y`` are the un-augmented tensors.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, augment: Callable[..., torch.Tensor] | None = None):
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{x.shape[0]} images but {y.shape[0]} labels")
        self.x = x.contiguous()
        self.y = y.to(torch.int64)
        self.augment = augment

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.x[index]
        if self.augment is not None:
            image = self.augment(image.unsqueeze(0))[0]
        return image, self.y[index]

    def augment_batch(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The training augmentation applied to a batch (identity without one)."""
        return x if self.augment is None else self.augment(x, generator=generator)


@dataclass
class DatasetBundle:
    """What :func:`wcatsim.train.datasets.load_dataset` returns."""

    name: str
    train: Dataset  # augmented on access where the dataset has an augmentation (CIFAR-10, imagefolder)
    val: Dataset  # carved from the training split (may be empty when val_fraction = 0)
    test: Dataset
    num_classes: int
    in_channels: int
    image_size: int
    mean: tuple[float, ...]  # per-channel normalisation applied to every split (in [0, 1] pixel units)
    std: tuple[float, ...]
    # How evaluation reads a split (data.stream): "auto" (by size), True (stream), False (in memory).
    stream: bool | str = "auto"
    workers: int = 2  # DataLoader worker processes for streamed splits (data.workers)
    classes: tuple[str, ...] = ()  # class names in label order, where the dataset has them (imagefolder)

    def eval_images(self, split: str = "test", indices: Any = None, batch_size: int | None = None) -> Any:
        """The split (or its subset ``indices``) as :class:`wcatsim.train.datasets.streaming.EvalImages`:
        held in memory or streamed as ``stream`` and its size decide, always in the same order."""
        from .streaming import EvalImages

        return EvalImages(self._split(split), indices, stream=self.stream, workers=self.workers,
                          batch_size=batch_size)

    def test_subset(self, images: int | None, seed: int = 0) -> tuple[Any, torch.Tensor, dict | None]:
        """(x, y, record) of a fixed, class-stratified, seeded subset of ``images`` test images
        (:func:`wcatsim.train.datasets.streaming.stratified_subset`); ``images`` 0 or None: the whole test set
        and record None. ``x`` is a tensor, or a lazy view for large streamed sets."""
        from .streaming import stratified_subset, subset_record

        if not images:
            x, y = self.test_tensors()
            return x, y, None
        from .streaming import labels_of

        indices = stratified_subset(labels_of(self.test), images, seed)
        x, y = self.eval_images("test", indices).tensors()
        return x, y, subset_record(indices, len(self.test), seed)

    def _split(self, split: str) -> Dataset:
        """A split for evaluation: ``train`` without its augmentation."""
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val or test, got {split!r}")
        return self._unaugmented_train() if split == "train" else getattr(self, split)

    def _unaugmented_train(self) -> Dataset:
        train = self.train
        if not hasattr(train, "x") and hasattr(train, "transform") and hasattr(self.val, "transform"):
            import copy

            train = copy.copy(train)
            train.transform = self.val.transform  # the evaluation preprocessing
        return train

    def _tensors(self, dataset: Dataset) -> tuple[Any, torch.Tensor]:
        if hasattr(dataset, "x") and hasattr(dataset, "y"):
            return dataset.x, dataset.y
        from .streaming import EvalImages

        return EvalImages(dataset, stream=self.stream, workers=self.workers).tensors()

    def test_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole test split: (x float32 normalised (N, C, H, W), y int64); for file datasets too large
        to hold, ``x`` is a :class:`wcatsim.train.datasets.streaming.LazyImages` that decodes when sliced."""
        return self._tensors(self.test)

    def val_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._tensors(self.val)

    def train_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The training split without augmentation (file datasets: with the evaluation preprocessing)."""
        return self._tensors(self._unaugmented_train())


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held_out): ``round(fraction * count)`` of every class held out, chosen by a NumPy
    generator with ``seed``; both index arrays sorted."""
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = int(round(fraction * len(members)))
        held.append(rng.permutation(members)[:take])
    held_out = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    kept = np.setdiff1d(np.arange(len(labels)), held_out)
    return kept, held_out


def normalise(x: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(N, C, H, W) pixels in [0, 1] -> float32 tensor, channel c mapped to (x - mean[c]) / std[c]."""
    m = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
    return torch.from_numpy(((x.astype(np.float32) - m) / s).astype(np.float32))


def dataset_folder(name: str, root: Path | str | None, expected: str) -> Path:
    """The local folder a dataset is read from; a missing one is an error saying what goes where."""
    if root is None:
        raise InputError(
            f"dataset {name!r} is read from a local folder: set data.root to the folder holding {expected}"
        )
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"dataset folder {root} does not exist: it should hold {expected}")
    return root


def check_val_fraction(val_fraction: float) -> None:
    if not 0.0 <= val_fraction < 0.5:
        raise InputError(f"data.val_fraction {val_fraction!r} must be in [0, 0.5), e.g. 0.1")


def make_bundle(
    name: str, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
    mean: tuple[float, ...], std: tuple[float, ...], num_classes: int, seed: int, val_fraction: float,
    augment: Callable[..., torch.Tensor] | None = None,
) -> DatasetBundle:
    """Normalise, carve a stratified validation split (seeded) from train, wrap as datasets."""
    check_val_fraction(val_fraction)
    for split, labels in (("training", train_y), ("test", test_y)):
        # a label outside 0..C-1 would index past the classifier's outputs deep inside torch
        if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            bad = int(labels.max()) if int(labels.max()) >= num_classes else int(labels.min())
            raise InputError(
                f"{name}: a {split} label is {bad}, but the dataset has {num_classes} classes "
                f"(0..{num_classes - 1}): the label file is damaged or belongs to another dataset"
            )
    kept, held = stratified_split(train_y, val_fraction, seed)
    x_train = normalise(train_x, mean, std)
    y_train = torch.from_numpy(train_y.astype(np.int64))
    return DatasetBundle(
        name=name,
        train=ImageTensorDataset(x_train[kept], y_train[kept], augment),
        val=ImageTensorDataset(x_train[held], y_train[held]),
        test=ImageTensorDataset(normalise(test_x, mean, std), torch.from_numpy(test_y.astype(np.int64))),
        num_classes=num_classes,
        in_channels=int(train_x.shape[1]),
        image_size=int(train_x.shape[2]),
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
    )
