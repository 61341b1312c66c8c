"""``data.name = "imagefolder"``: JPEG/PNG files in class folders, decoded with Pillow as they are read.

Layout (torchvision's ImageFolder, as ImageNet is usually laid out)::

    data.root/train/<class>/*.JPEG     training images; the validation split is held out of them
    data.root/val/<class>/*.JPEG       the test split

Class indices are the positions of the class folder names (ImageNet's WNIDs) in sorted order, which is
what torchvision's and timm's weights expect. Files are matched by extension, case-insensitively
(``.jpg``, ``.jpeg``, ``.png``; ``.JPEG`` as ImageNet names them), in class folders and their
subfolders, in sorted order. The ImageNet validation archive's own layout, one flat ``val`` folder, is
accepted with a labels file: ``filename WNID`` lines (``data.val_labels``, or ``val_labels.txt`` in
``data.root``) or Kaggle's ``LOC_val_solution.csv``. Numeric labels (the devkit's
``ILSVRC2012_validation_ground_truth.txt``) are refused: they count classes in the devkit's own order,
not the sorted WNIDs the weights use. Without a train folder the class list is that of the val folders
(or of the labels file): a subset of ImageNet's classes then gets other indices than the weights' own.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from sram_models.errors import InputError
from wcatsim.config.registries import DATASETS

from .bundle import DatasetBundle, check_val_fraction, dataset_folder, stratified_split
from .transforms import EvalTransform, TrainTransform

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
LABEL_FILES = ("val_labels.txt", "LOC_val_solution.csv")
EXPECTED = "train/<class>/*.jpg and val/<class>/*.jpg (or a flat val/ folder with val_labels.txt)"


IMAGE_FIX = "remove or replace that file (every image of the folder is read)"


class ImageDecodeError(InputError):
    """An image file that does not decode (exit 2).

    Raised in a DataLoader worker, it reaches the main process rebuilt from a message that carries the
    worker's traceback (``torch.utils.data._utils.ExceptionWrapper.reraise`` calls the class with that
    text); the constructor keeps only its own line, so the command prints one short line.
    """

    def __init__(self, message: str) -> None:
        if "DataLoader worker" in message or "Traceback" in message:
            ours = [line for line in message.splitlines() if "cannot decode image" in line]
            if ours:
                message = ours[-1].split("cannot decode image", 1)[1]
                message = "cannot decode image" + message
        super().__init__(message)


def check_image_files(*datasets: Any, threads: int = 8) -> int:
    """Open every file of ``datasets`` (:class:`ImageFileDataset`) and decode its header, before any
    training: the first file that does not open raises :class:`ImageDecodeError` naming it.

    ``Image.open`` reads the header (format, size, mode); ``verify`` checks what Pillow can check without
    decoding the pixels.  Threads: the work is file reads (8: a local disk or NFS keeps that many busy).
    Returns the largest shorter side over the images, in pixels (0 for no image): below
    ``data.image_size`` every image is upsampled, which the caller says.
    """
    from concurrent.futures import ThreadPoolExecutor

    paths = [d.root / f for d in datasets if isinstance(d, ImageFileDataset) for f in d.files]

    def problem(path: Path) -> str | int:
        try:
            with Image.open(path) as image:
                side = min(image.size)
                image.verify()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            return f"{path}: {exc}"
        return side

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        found = list(pool.map(problem, paths))
    bad = [p for p in found if isinstance(p, str)]
    if bad:
        more = f" ({len(bad)} of {len(paths)} images do not open)" if len(bad) > 1 else ""
        raise ImageDecodeError(f"cannot decode image {bad[0]}{more}; {IMAGE_FIX}")
    return max((side for side in found if isinstance(side, int)), default=0)


class ImageFileDataset(Dataset):
    """Image files with integer labels, decoded and transformed on access.

    ``dataset[i]`` -> (float32 (3, size, size) tensor, int64 label); ``dataset[(i, seed)]`` fixes the
    random augmentation of a training transform with ``seed``.
    """

    seeded_items = True  # the trainer may pass (index, seed) pairs

    def __init__(self, root: Path, files: Sequence[str], labels: np.ndarray, transform: Any,
                 workers: int = 0) -> None:
        self.root = Path(root)
        self.files = list(files)
        self.targets = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.transform = transform
        self.workers = int(workers)  # loader workers a trainer may use for it

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, seed = item if isinstance(item, tuple) else (item, None)
        path = self.root / self.files[index]
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB")
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageDecodeError(f"cannot decode image {path}: {exc}; {IMAGE_FIX}") from None
        return self.transform(rgb, seed), self.targets[index]

    @property
    def labels(self) -> torch.Tensor:
        return self.targets

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (3, self.transform.size, self.transform.size)

    def identity(self, indices: np.ndarray | None = None) -> bytes:
        """SHA-256 over each file's path, size, modification time and label (in order) and the transform:
        what identifies the images without reading them all."""
        digest = hashlib.sha256(repr(self.transform).encode())
        chosen = range(len(self.files)) if indices is None else indices
        for i in chosen:
            stat = (self.root / self.files[i]).stat()
            digest.update(f"{self.files[i]}\t{stat.st_size}\t{stat.st_mtime_ns}\t{int(self.targets[i])}\n"
                          .encode())
        return digest.digest()


def _is_image(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _images_under(folder: Path) -> list[str]:
    """Image files under ``folder`` (subfolders included), as sorted paths relative to ``folder``."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        rel = Path(dirpath).relative_to(folder)
        names = [name for name in sorted(filenames) if _is_image(name)]
        found.extend(name if str(rel) == "." else str(rel / name) for name in names)
    return sorted(found)


def _class_folders(split: Path) -> list[str]:
    entries = os.scandir(split)
    return sorted(entry.name for entry in entries if entry.is_dir() and not entry.name.startswith("."))


def _scan_classes(split: Path, classes: Sequence[str], allow_empty: bool) -> tuple[list[str], np.ndarray]:
    index = {name: i for i, name in enumerate(classes)}
    files: list[str] = []
    labels: list[int] = []
    for name in _class_folders(split):
        if name not in index:
            raise InputError(
                f"class folder {split / name} has no folder of the same name in {split.parent / 'train'}; "
                "the class list comes from train/ (sorted folder names)"
            )
        found = _images_under(split / name)
        if not found and not allow_empty:
            raise InputError(
                f"class folder {split / name} holds no {'/'.join(IMAGE_EXTENSIONS)} file; remove it or add "
                "images (class indices are the positions of the folder names in sorted order)"
            )
        files.extend(f"{name}/{f}" for f in found)
        labels.extend([index[name]] * len(found))
    return files, np.asarray(labels, dtype=np.int64)


def read_labels_file(path: Path) -> dict[str, str]:
    """``filename -> WNID`` from ``filename WNID`` lines or Kaggle's ``LOC_val_solution.csv``."""
    if not path.is_file():
        raise InputError(f"labels file {path} does not exist; it should hold `filename WNID` lines")
    out: dict[str, str] = {}
    kaggle = path.suffix.lower() == ".csv"
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if kaggle:
            if number == 1 and line.lower().startswith("imageid"):
                continue
            name, _, rest = line.partition(",")
            tokens = [name, *(rest.split()[:1])]
        else:
            tokens = line.split()
        numeric = (len(tokens) == 1 and re.fullmatch(r"\d+", tokens[0])) or (
            len(tokens) >= 2 and tokens[1].isdigit()
        )
        if numeric:
            raise InputError(
                f"{path} line {number}: numeric labels ({line!r}) are in some tool's own class order (the "
                "devkit's ILSVRC2012_validation_ground_truth.txt counts classes by ILSVRC2012_ID, not in "
                "the sorted-WNID order of the weights): give `filename WNID` lines, e.g. from Kaggle's "
                "LOC_val_solution.csv"
            )
        if len(tokens) < 2:
            raise InputError(f"{path} line {number}: expected `filename WNID`, got {line!r}")
        out[tokens[0]] = tokens[1]
    if not out:
        raise InputError(f"labels file {path} holds no `filename WNID` line")
    return out


def _flat_val(split: Path, root: Path, labels_path: str, classes: Sequence[str] | None
              ) -> tuple[list[str], np.ndarray, list[str]]:
    if labels_path:
        path = Path(labels_path)
        path = path if path.is_absolute() else root / path
    else:
        found = [root / name for name in LABEL_FILES if (root / name).is_file()]
        if not found:
            raise InputError(
                f"{split} is a flat folder of images: name their labels with data.val_labels (a file of "
                f"`filename WNID` lines), or put {' or '.join(LABEL_FILES)} in {root}"
            )
        path = found[0]
    wnid_of = read_labels_file(path)
    if classes is None:
        classes = sorted(set(wnid_of.values()))
    index = {name: i for i, name in enumerate(classes)}
    files = sorted(name for name in os.listdir(split) if _is_image(name))
    labels, unlabelled, unknown = [], [], []
    for name in files:
        wnid = wnid_of.get(name, wnid_of.get(Path(name).stem))
        if wnid is None:
            unlabelled.append(name)
        elif wnid not in index:
            unknown.append(f"{name} ({wnid})")
        else:
            labels.append(index[wnid])
    if unlabelled:
        raise InputError(f"{path} gives no label for {len(unlabelled)} images of {split}, e.g. "
                         f"{', '.join(unlabelled[:3])}")
    if unknown:
        raise InputError(f"{path} labels {len(unknown)} images with classes that have no train folder, e.g. "
                         f"{', '.join(unknown[:3])}")
    return files, np.asarray(labels, dtype=np.int64), list(classes)


@DATASETS.register("imagefolder")
def load_imagefolder(
    root: Path | str | None, seed: int = 0, val_fraction: float = 0.1, *, image_size: int = 224,
    resize: int = 256, interpolation: str = "bilinear", mean: Sequence[float] = (0.485, 0.456, 0.406),
    std: Sequence[float] = (0.229, 0.224, 0.225), val_labels: str = "", stream: bool | str = "auto",
    workers: int = 2,
) -> DatasetBundle:
    """Images in class folders under ``root``, streamed from disk.

    ``root/train`` gives the train and validation splits, ``root/val`` the test split."""
    check_val_fraction(val_fraction)
    root = dataset_folder("imagefolder", root, EXPECTED)
    train_dir, val_dir = root / "train", root / "val"
    if not val_dir.is_dir():
        raise InputError(f"{root} has no val/ folder: it should hold {EXPECTED}")
    mean, std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
    classes: list[str] | None = _class_folders(train_dir) if train_dir.is_dir() else None
    if classes is not None and not classes:
        raise InputError(f"{train_dir} holds no class folder: it should hold <class>/*.jpg")
    if classes is not None:
        train_files, train_labels = _scan_classes(train_dir, classes, allow_empty=False)
    else:
        train_files, train_labels = [], np.zeros(0, dtype=np.int64)
    val_classes = _class_folders(val_dir)
    if val_classes:
        if classes is None:
            classes = val_classes
        test_files, test_labels = _scan_classes(val_dir, classes, allow_empty=True)
    else:
        test_files, test_labels, classes = _flat_val(val_dir, root, val_labels, classes)
    if not test_files:
        raise InputError(f"{val_dir} holds no {'/'.join(IMAGE_EXTENSIONS)} image: it should hold {EXPECTED}")
    if len(classes) < 2:
        raise InputError(f"{root} has {len(classes)} class: a classifier needs at least two class folders")
    evaluate = EvalTransform(image_size, resize, interpolation, mean, std)
    augment = TrainTransform(image_size, interpolation, mean, std)
    kept, held = stratified_split(train_labels, val_fraction, seed)
    train_root = train_dir if train_dir.is_dir() else root
    return DatasetBundle(
        name="imagefolder",
        train=ImageFileDataset(train_root, [train_files[i] for i in kept], train_labels[kept], augment,
                               workers),
        val=ImageFileDataset(train_root, [train_files[i] for i in held], train_labels[held], evaluate,
                             workers),
        test=ImageFileDataset(val_dir, test_files, test_labels, evaluate, workers),
        num_classes=len(classes),
        in_channels=3,
        image_size=int(image_size),
        mean=mean,
        std=std,
        stream=stream,
        workers=int(workers),
        classes=tuple(classes),
    )
