"""`wcatsim train` on bad data (issue 19 §8): images checked before training, one-line decode errors even
from a loader worker, and a new run that fails on bad input leaves none of its files behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from wcatsim.cli.main import cli


def _folder(root: Path, splits=("train", "val"), corrupt: str | None = None) -> Path:
    for split in splits:
        for label in "ab":
            (root / split / label).mkdir(parents=True)
            for i in range(6):
                Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(root / split / label / f"{i}.jpg")
    if corrupt:
        (root / corrupt).write_bytes(b"\xff\xd8\xff\xe0" + b"not a jpeg" * 5)
    return root


SMALL = ["--set", "data.name=imagefolder", "--set", "data.image_size=8", "--set", "data.resize=8",
         "--set", "trainer.epochs=1"]  # fmt: skip


def test_a_corrupt_jpeg_is_named_before_training_starts(tmp_path: Path) -> None:
    data = _folder(tmp_path / "data", corrupt="val/b/2.jpg")
    result = CliRunner().invoke(cli, ["train", "--out", str(tmp_path / "run"), *SMALL,
                                      "--set", f"data.root={data}"])  # fmt: skip
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot decode image {data / 'val' / 'b' / '2.jpg'}: ") and len(line) < 300
    assert "remove or replace that file" in line
    assert "training run" not in result.output and not (tmp_path / "run").exists()


def test_a_decode_error_in_a_loader_worker_is_one_short_line(tmp_path: Path) -> None:
    from wcatsim.train.datasets.imagefolder import ImageDecodeError, ImageFileDataset
    from wcatsim.train.datasets.transforms import EvalTransform

    data = _folder(tmp_path / "data", splits=("val",), corrupt="val/a/1.jpg")
    files = [f"a/{i}.jpg" for i in range(6)]
    dataset = ImageFileDataset(data / "val", files, torch.zeros(6, dtype=torch.int64).numpy(),
                               EvalTransform(8, 8, "bilinear", (0.5,) * 3, (0.5,) * 3))  # fmt: skip
    loader = torch.utils.data.DataLoader(dataset, batch_size=6, num_workers=1)
    with pytest.raises(ImageDecodeError) as caught:
        next(iter(loader))
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message and "worker" not in message, message
    assert message.startswith(f"cannot decode image {data / 'val' / 'a' / '1.jpg'}: "), message


def test_a_new_run_that_fails_on_bad_input_leaves_no_config_or_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wcatsim.cli.train as train_cli

    data = _folder(tmp_path / "data", splits=("val",))
    monkeypatch.setattr(train_cli, "check_images", lambda cfg: None)  # let the trainer meet the empty split
    result = CliRunner().invoke(cli, ["train", "--out", str(tmp_path / "new" / "run"), *SMALL,
                                      "--set", f"data.root={data}"])  # fmt: skip
    assert result.exit_code == 2 and "training split is empty" in result.stderr, result.output
    assert not (tmp_path / "new").exists(), sorted(p.name for p in (tmp_path / "new").rglob("*"))

    # the check before training (not patched out): the folder is named and nothing is made either
    monkeypatch.undo()
    named = CliRunner().invoke(cli, ["train", "--out", str(tmp_path / "new" / "run"), *SMALL,
                                     "--set", f"data.root={data}"])  # fmt: skip
    assert named.exit_code == 2 and f"{data / 'train'} holds no image" in named.stderr, named.output
    assert not (tmp_path / "new").exists()


def test_images_smaller_than_image_size_are_said_to_be_upsampled(tmp_path: Path) -> None:
    """issue 19 §6: 8 px images under data.image_size = 16 train, and the command says they are upsampled."""
    from wcatsim.train.datasets.imagefolder import ImageFileDataset, check_image_files

    data = _folder(tmp_path / "data")
    Image.new("RGB", (20, 12)).save(data / "train" / "a" / "wide.png")
    bigger = ImageFileDataset(data / "train" / "a", ["wide.png", "0.jpg"], torch.zeros(2).numpy(), None)
    assert check_image_files(bigger) == 12  # the largest shorter side: min(20, 12) beats min(8, 8)
    (data / "train" / "a" / "wide.png").unlink()
    args = ["train", "--out", str(tmp_path / "run"), "--set", "data.name=imagefolder", "--set",
            f"data.root={data}", "--set", "trainer.epochs=1", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(cli, [*args, "--set", "data.image_size=16", "--set", "data.resize=16"])
    assert result.exit_code == 0, result.output
    (note,) = result.stderr.strip().splitlines()
    assert note == (
        f"note: every image under {data} is upsampled: the largest shorter side is 8 px and data.image_size "
        "is 16; set data.image_size=8 and data.resize=8 to keep the images' size"
    )
    kept = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "run8"), "--set", "data.image_size=8",
                                    "--set", "data.resize=8"])  # fmt: skip
    assert kept.exit_code == 0, kept.output
    assert "upsampled" not in kept.stderr
