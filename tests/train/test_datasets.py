"""Datasets: the embedded digits, IDX and CIFAR loaders on tiny files written here, synthetic sets."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from sram_models.errors import InputError
from wcatsim.train.datasets import DATASET_NAMES, load_dataset
from wcatsim.train.datasets.augment import RandomCropFlip
from wcatsim.train.datasets.cifar import CIFAR10_MEAN, CIFAR10_STD


def test_digits_split_is_fixed_stratified_and_normalised() -> None:
    data = load_dataset("digits", seed=0)
    assert (data.num_classes, data.in_channels, data.image_size, data.name) == (10, 1, 8, "digits")
    assert len(data.train) + len(data.val) + len(data.test) == 1797
    x_test, y_test = data.test_tensors()
    assert x_test.dtype == torch.float32 and y_test.dtype == torch.int64 and x_test.shape[1:] == (1, 8, 8)
    counts = torch.bincount(y_test, minlength=10)
    assert len(y_test) == 539 and int(counts.min()) >= 52 and int(counts.max()) <= 56  # 30% of 174..183
    other = load_dataset("digits", seed=5)
    assert torch.equal(other.test_tensors()[0], x_test), "the test split does not depend on the seed"
    assert not torch.equal(other.val.y, data.val.y) or not torch.equal(other.val.x, data.val.x)
    assert len(data.val) == 126  # 10% of every class of the 1,258-image train pool
    pool = torch.cat([data.train.x, data.val.x])
    assert abs(float(pool.mean())) < 1e-5 and abs(float(pool.std()) - 1) < 1e-3
    image, label = data.train[0]
    assert image.shape == (1, 8, 8) and label.dtype == torch.int64


def test_unknown_name_and_bad_val_fraction() -> None:
    with pytest.raises(InputError, match=r"unknown dataset 'imagenet'.*allowed: digits, mnist"):
        load_dataset("imagenet")
    with pytest.raises(InputError, match="val_fraction"):
        load_dataset("digits", val_fraction=0.7)
    assert set(DATASET_NAMES) >= {"digits", "mnist", "fashion_mnist", "cifar10", "synthetic_cifar"}


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    magic = 0x0800 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_loader_reads_tiny_files(tmp_path: Path, name: str, compress: bool) -> None:
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (40, 28, 28))
    test = rng.integers(0, 256, (20, 28, 28))
    write_idx(tmp_path / "train-images-idx3-ubyte", train, compress)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(40) % 10, compress)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", test, compress)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(20) % 10, compress)
    data = load_dataset(name, root=tmp_path, val_fraction=0.25)
    assert (data.num_classes, data.in_channels, data.image_size) == (10, 1, 28)
    assert (len(data.train), len(data.val), len(data.test)) == (30, 10, 20)
    x, y = data.test_tensors()
    assert y.tolist() == (np.arange(20) % 10).tolist()
    mean, std = data.mean[0], data.std[0]
    want = ((test[3] / 255.0 - mean) / std).astype(np.float32)
    assert torch.allclose(x[3, 0], torch.from_numpy(want), atol=1e-5)


def test_idx_loader_accepts_the_torchvision_layout_and_names_missing_files(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", np.zeros((10, 28, 28)), False)
    write_idx(raw / "train-labels-idx1-ubyte", np.arange(10), False)
    write_idx(raw / "t10k-images-idx3-ubyte", np.zeros((10, 28, 28)), False)
    with pytest.raises(InputError, match="lacks t10k-labels-idx1-ubyte"):
        load_dataset("mnist", root=tmp_path)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(10), True)
    assert len(load_dataset("mnist", root=tmp_path, val_fraction=0.0).test) == 10
    with pytest.raises(InputError, match="does not exist: it should hold train-images-idx3-ubyte"):
        load_dataset("fashion_mnist", root=tmp_path / "nowhere")
    with pytest.raises(InputError, match="set data.root"):
        load_dataset("mnist")
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"garbage!!")
    with pytest.raises(InputError, match="not an unsigned-byte IDX file"):
        load_dataset("mnist", root=tmp_path)


def write_cifar_batch(path: Path, n: int, rng: np.random.Generator) -> np.ndarray:
    data = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
    with open(path, "wb") as handle:
        pickle.dump({b"data": data, b"labels": [i % 10 for i in range(n)], b"batch_label": b"x"}, handle)
    return data


def test_cifar_loader_reads_tiny_batches_and_augments(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        write_cifar_batch(folder / f"data_batch_{i}", 20, rng)
    test = write_cifar_batch(folder / "test_batch", 10, rng)
    data = load_dataset("cifar10", root=tmp_path, val_fraction=0.1)
    assert (data.num_classes, data.in_channels, data.image_size) == (10, 3, 32)
    assert (len(data.train), len(data.val), len(data.test)) == (90, 10, 10)
    x, _ = data.test_tensors()
    raw = test.reshape(-1, 3, 32, 32)[4].astype(np.float32) / 255.0
    want = (raw - np.array(CIFAR10_MEAN, dtype=np.float32)[:, None, None]) / np.array(
        CIFAR10_STD, dtype=np.float32
    )[:, None, None]
    assert torch.allclose(x[4], torch.from_numpy(want), atol=1e-5)
    assert data.train.augment is not None and data.test.augment is None and data.val.augment is None
    image, _ = data.train[0]
    assert image.shape == (3, 32, 32)


def test_cifar_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="lacks data_batch_1, data_batch_2"):
        load_dataset("cifar10", root=tmp_path)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        write_cifar_batch(tmp_path / f"data_batch_{i}", 10, rng)
    with open(tmp_path / "test_batch", "wb") as handle:
        pickle.dump({b"data": Path("/etc")}, handle)  # an object a CIFAR batch never holds
    with pytest.raises(InputError, match="not a CIFAR-10 python batch"):
        load_dataset("cifar10", root=tmp_path)


def window(padded: torch.Tensor, dy: int, dx: int, flip: bool) -> torch.Tensor:
    crop = padded[:, dy : dy + 8, dx : dx + 8]
    return crop.flip(2) if flip else crop


def test_random_crop_flip_returns_shifted_windows_of_the_padded_image() -> None:
    mean, std = (0.5, 0.4), (0.25, 0.5)
    augment = RandomCropFlip(mean, std, padding=4)
    x = torch.randn(64, 2, 8, 8)
    out = augment(x, generator=torch.Generator().manual_seed(0))
    fill = torch.tensor([-0.5 / 0.25, -0.4 / 0.5]).view(2, 1, 1)
    padded = fill.expand(2, 16, 16).clone()
    flips = shifts = 0
    for image, result in zip(x, out, strict=True):
        padded[:, 4:12, 4:12] = image
        matches = [
            (dy, dx, flip)
            for dy in range(9) for dx in range(9) for flip in (False, True)
            if torch.equal(result, window(padded, dy, dx, flip))
        ]
        assert matches, "every output is a (possibly mirrored) 8x8 window of the padded image"
        flips += matches[0][2]
        shifts += (matches[0][0], matches[0][1]) != (4, 4)
    assert 16 <= flips <= 48, f"about half flipped ({flips}/64)"
    assert shifts > 40


@pytest.mark.parametrize(
    "name,shape,total", [("synthetic_cifar", (3, 32, 32), 2500), ("synthetic_digits", (1, 8, 8), 1000)]
)
def test_synthetic_sets_are_fixed_and_shaped(name: str, shape: tuple[int, ...], total: int) -> None:
    a = load_dataset(name, seed=0)
    b = load_dataset(name, seed=1)
    assert a.test.x.shape[1:] == shape and a.num_classes == 10
    assert torch.equal(a.test.x, b.test.x), "the images do not depend on the seed"
    assert len(a.train) + len(a.val) + len(a.test) == total
    assert torch.bincount(a.test.y, minlength=10).min() > 0
