"""``data.name = "imagefolder"``: layout, class order, extensions, flat val + labels, preprocessing."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sram_models.errors import InputError
from wcatsim.train.datasets import load_dataset
from wcatsim.train.datasets.synthetic import write_image_folder
from wcatsim.train.datasets.transforms import (
    CROP_RATIO,
    CROP_SCALE,
    EvalTransform,
    TrainTransform,
    centre_box,
    random_crop_box,
    resized_shape,
)

SMALL = {"image_size": 16, "resize": 20}
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("if") / "data", classes=3, train_per_class=6,
                              val_per_class=3, size=24, extension=".JPEG")


def test_class_indices_are_sorted_folder_names_and_val_is_held_out(folder: Path) -> None:
    data = load_dataset("imagefolder", root=folder, val_fraction=1 / 3, seed=0, **SMALL)
    assert data.classes == ("n0000000", "n0000001", "n0000002") and data.num_classes == 3
    assert (data.in_channels, data.image_size) == (3, 16)
    for split in (data.train, data.val, data.test):
        for name, label in zip(split.files, split.labels.tolist(), strict=True):
            assert name.split("/")[0] == data.classes[label], "label = position of the folder name, sorted"
    # 6 per class, a third held out of every class for validation; train and val never share a file
    assert torch.bincount(data.val.labels).tolist() == [2, 2, 2]
    assert torch.bincount(data.train.labels).tolist() == [4, 4, 4]
    assert not set(data.train.files) & set(data.val.files)
    assert len(data.test) == 9 and torch.bincount(data.test.labels).tolist() == [3, 3, 3]
    x, y = data.test[0]
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and y.dtype == torch.int64
    other = load_dataset("imagefolder", root=folder, val_fraction=1 / 3, seed=1, **SMALL)
    assert other.val.files != data.val.files, "data.seed picks the validation split"


def test_class_order_is_sorted_not_creation_order_and_extensions_case_insensitive(tmp_path: Path) -> None:
    for split, count in (("train", 2), ("val", 1)):
        for name, ext in (("zebra", ".PnG"), ("apple", ".jpeg"), ("Mango", ".JPG")):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                fmt = "PNG" if ext.lower() == ".png" else "JPEG"
                Image.new("RGB", (20, 20), (10 * i, 0, 0)).save(folder / f"img{i}{ext}", format=fmt)
            (folder / "notes.txt").write_text("not an image")
            (folder / ".hidden.jpg").write_bytes(b"")
    data = load_dataset("imagefolder", root=tmp_path, val_fraction=0.0, **SMALL)
    assert data.classes == ("Mango", "apple", "zebra"), "code-point order, as torchvision sorts"
    assert len(data.train) == 6 and len(data.test) == 3


def test_preprocessing_constant_colour_gives_the_normalised_value(tmp_path: Path) -> None:
    image = Image.new("RGB", (50, 30), (200, 100, 50))
    for interpolation in ("bilinear", "bicubic"):
        x = EvalTransform(16, 20, interpolation, MEAN, STD)(image)
        assert x.shape == (3, 16, 16)
        for c, value in enumerate((200, 100, 50)):
            expected = (value / 255.0 - MEAN[c]) / STD[c]
            assert torch.allclose(x[c], torch.full((16, 16), expected), atol=1e-5), (interpolation, c)


def test_resize_keeps_aspect_and_crop_is_centred() -> None:
    assert resized_shape(50, 40, 36) == (45, 36)
    assert resized_shape(40, 50, 36) == (36, 45)
    assert resized_shape(333, 500, 256) == (256, 384)  # int(256 * 500 / 333) = 384
    assert centre_box(45, 36, 32) == (6, 2, 38, 34)  # round(13 / 2) = 6 (banker's: 6.5 -> 6), round(2) = 2
    # a left-red / right-blue image: the centre crop of a wide image keeps both halves equally
    image = Image.new("RGB", (60, 20), (255, 0, 0))
    image.paste((0, 0, 255), (30, 0, 60, 20))
    x = EvalTransform(20, 20, "bilinear", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))(image)
    red = (x[0] > 0.5).float().mean(dim=0)
    assert torch.all(red[:9] == 1) and torch.all(red[11:] == 0), "crop centred: red left half, blue right"


def test_random_resized_crop_boxes_are_inside_in_range_and_seeded() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        left, top, right, bottom = random_crop_box(80, 60, rng)
        w, h = right - left, bottom - top
        assert 0 <= left < right <= 80 and 0 <= top < bottom <= 60
        assert CROP_SCALE[0] * 4800 * 0.8 <= w * h <= 4800, (w, h)
        assert CROP_RATIO[0] * 0.8 <= w / h <= CROP_RATIO[1] * 1.25, (w, h)
    # a 1000 x 10 strip can never hold a crop of ratio <= 4/3 with 8% of its area: the centred fallback
    assert random_crop_box(1000, 10, np.random.default_rng(1)) == (493, 0, 506, 10)
    image = Image.fromarray(np.random.default_rng(2).integers(0, 255, (40, 50, 3), dtype=np.uint8))
    augment = TrainTransform(16, "bilinear", MEAN, STD)
    assert torch.equal(augment(image, seed=7), augment(image, seed=7))
    draws = {augment(image, seed=s).sum().item() for s in range(6)}
    assert len(draws) == 6, "different seeds, different crops"
    torch.manual_seed(3)
    a = augment(image)
    torch.manual_seed(3)
    assert torch.equal(a, augment(image)), "without a seed the draw follows torch's global generator"


def test_flat_val_with_labels_file_matches_class_folders(tmp_path: Path) -> None:
    nested = write_image_folder(tmp_path / "nested", classes=3, train_per_class=2, val_per_class=2, size=20)
    flat = write_image_folder(tmp_path / "flat", classes=3, train_per_class=2, val_per_class=2, size=20,
                              flat_val=True)
    a = load_dataset("imagefolder", root=nested, val_fraction=0.0, **SMALL)
    b = load_dataset("imagefolder", root=flat, val_fraction=0.0, **SMALL)
    label_a = {Path(f).name: int(y) for f, y in zip(a.test.files, a.test.labels, strict=True)}
    label_b = {Path(f).name: int(y) for f, y in zip(b.test.files, b.test.labels, strict=True)}
    assert label_a == label_b and len(label_a) == 6
    for i in range(len(b.test)):
        name = b.test.files[i]
        j = a.test.files.index(next(f for f in a.test.files if f.endswith(name)))
        assert torch.equal(a.test[j][0], b.test[i][0])
    # Kaggle's LOC_val_solution.csv (first token of PredictionString is the WNID), no extension in ImageId
    lines = (flat / "val_labels.txt").read_text().split("\n")
    rows = [f"{Path(n).stem},{w} 1 2 3 4" for n, w in (line.split() for line in lines if line)]
    (flat / "val_labels.txt").unlink()
    (flat / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "\n".join(rows) + "\n")
    c = load_dataset("imagefolder", root=flat, val_fraction=0.0, **SMALL)
    assert c.test.labels.tolist() == b.test.labels.tolist()


def test_flat_val_without_train_takes_classes_from_the_labels(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "d", classes=2, train_per_class=1, val_per_class=2, size=20,
                              flat_val=True)
    shutil.rmtree(root / "train")
    data = load_dataset("imagefolder", root=root, val_fraction=0.1, **SMALL)
    assert data.classes == ("n0000000", "n0000001") and len(data.train) == 0 and len(data.test) == 4


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("numeric", "numeric labels"),
        ("devkit", "ILSVRC2012_validation_ground_truth"),
        ("unlabelled", "gives no label for 1 images"),
        ("unknown_wnid", "classes that have no train folder"),
        ("no_labels_file", "flat folder of images"),
        ("empty_train_class", "holds no .jpg/.jpeg/.png file"),
        ("extra_val_class", "has no folder of the same name"),
        ("no_val", "has no val/ folder"),
        ("no_root", "does not exist"),
    ],
)
def test_bad_layouts_are_one_line_errors(tmp_path: Path, damage: str, message: str) -> None:
    root = write_image_folder(tmp_path / "d", classes=2, train_per_class=1, val_per_class=1, size=20,
                              flat_val=damage in ("numeric", "devkit", "unlabelled", "unknown_wnid",
                                                  "no_labels_file"))
    labels = root / "val_labels.txt"
    if damage == "numeric":
        labels.write_text("val_00000.jpg 3\nval_00001.jpg 1\n")
    elif damage == "devkit":
        labels.write_text("65\n970\n")
    elif damage == "unlabelled":
        labels.write_text(labels.read_text().splitlines()[0] + "\n")
    elif damage == "unknown_wnid":
        labels.write_text("val_00000.jpg n0000000\nval_00001.jpg n9999999\n")
    elif damage == "no_labels_file":
        labels.unlink()
    elif damage == "empty_train_class":
        (root / "train" / "n0000005").mkdir()
    elif damage == "extra_val_class":
        (root / "val" / "n0000007").mkdir()
    elif damage == "no_val":
        shutil.rmtree(root / "val")
    elif damage == "no_root":
        root = tmp_path / "nowhere"
    with pytest.raises(InputError, match=message) as info:
        load_dataset("imagefolder", root=root, **SMALL)
    assert "\n" not in str(info.value)


def test_a_corrupt_image_is_a_one_line_error_also_from_a_loader_worker(tmp_path: Path) -> None:
    from wcatsim.train.datasets.streaming import Streamer

    root = write_image_folder(tmp_path / "d", classes=2, train_per_class=2, val_per_class=2, size=20)
    bad = sorted((root / "val" / "n0000001").iterdir())[-1]  # the test split's last image (sorted order)
    bad.write_bytes(b"not a jpeg at all")
    data = load_dataset("imagefolder", root=root, val_fraction=0.0, **SMALL)
    with pytest.raises(InputError, match="cannot decode image"):
        data.test[len(data.test) - 1]
    with pytest.raises(InputError, match="cannot decode image") as info:
        list(Streamer(data.test, batch_size=2, workers=1)(range(len(data.test))))
    assert "\n" not in str(info.value) and "Traceback" not in str(info.value)


def test_imagefolder_config_keys_are_checked() -> None:
    from wcatsim.config import load_config
    from wcatsim.errors import ConfigError

    with pytest.raises(ConfigError, match="only apply to data.name"):
        load_config([], ["data.mean=[0.5, 0.5, 0.5]"])
    with pytest.raises(ConfigError, match="data.resize"):
        load_config([], ["data.name=imagefolder", "data.resize=100"])
    cfg = load_config([], ["data.name=imagefolder", "data.root=/x", "data.stream=true"])
    assert cfg.data.stream is True and cfg.data.interpolation == "auto"
    assert math.isclose(cfg.data.mean[0], 0.485)
