"""Training's messages through logging and its scalars in TensorBoard (issue 19 §2).

The event files are read back with TensorBoard's own reader (EventAccumulator), which needs the
``tensorboard`` extra (``make install`` installs it; skipped without it). TensorBoard stores a scalar
as float32, so each value is compared exactly with the float32 of the number metrics.csv holds.
"""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

from tests.events import scalars
from wcatsim.config import load_config
from wcatsim.errors import InputError
from wcatsim.store.atomic import read_csv
from wcatsim.train.quant import quantized_layers
from wcatsim.train.runs import load_run
from wcatsim.train.trainer import train

TINY = ["trainer.epochs=2", "trainer.steps_per_epoch=3"]


def f32(value: float) -> float:
    return float(np.float32(value))


def test_a_tiny_wcat_run_writes_loss_accuracy_lr_and_each_learned_range(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    board = tmp_path / "board"
    result = train(load_config([], [*TINY, "quant.method=wcat", "quant.bits=4"]), out_dir=tmp_path / "run",
                   device="cpu", progress=False, tensorboard=board)  # fmt: skip
    found = scalars(board)
    metrics = read_csv(result.run_dir / "metrics.csv")
    assert len(metrics) == 2
    for tag, column in (("train/loss", "train_loss"), ("train/accuracy", "train_accuracy"),
                        ("val/accuracy", "val_accuracy"), ("lr", "lr"),
                        ("range_ratio/mean", "mean_range_ratio")):  # fmt: skip
        assert found[tag] == [(int(r["epoch"]), f32(float(r[column]))) for r in metrics], tag
    assert found["test/accuracy"] == [(2, f32(result.test_accuracy))]
    run = load_run(result.run_dir, device="cpu")  # the best checkpoint: its ranges at its epoch
    layers = list(quantized_layers(run.model))
    assert layers and {t for t in found if t.startswith("range/")} == {f"range/{n}" for n in layers}
    best = result.best_epoch
    for name, stats in result.summary["layers"].items():
        assert dict(found[f"range/{name}"])[best] == f32(stats["range"]), name
        ratio = stats["range"] / stats["max_abs_weight"]
        assert dict(found[f"range_ratio/{name}"])[best] == pytest.approx(ratio, rel=1e-6), name


def test_a_quantizer_without_a_learned_range_writes_no_range_tags(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    board = tmp_path / "board"
    train(load_config([], [*TINY, "quant.method=maxabs", "quant.bits=4"]), out_dir=tmp_path / "run",
          device="cpu", progress=False, tensorboard=board)  # fmt: skip
    found = scalars(board)
    assert "train/loss" in found and len(found["train/loss"]) == 2
    assert not [t for t in found if t.startswith("range/")], sorted(found)


def test_without_the_tensorboard_package_the_run_is_refused_before_anything_is_written(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` raises ImportError
    with pytest.raises(InputError, match=r"pip install 'wcatsim\[tensorboard\]'"):
        train(load_config([], TINY), out_dir=tmp_path / "run", device="cpu", progress=False,
              tensorboard=tmp_path / "board")  # fmt: skip
    assert not (tmp_path / "run").exists() and not (tmp_path / "board").exists()
    (tmp_path / "file").write_text("x")
    monkeypatch.delitem(sys.modules, "tensorboard")
    with pytest.raises(InputError, match="is a file"):
        train(load_config([], TINY), out_dir=tmp_path / "run", device="cpu", progress=False,
              tensorboard=tmp_path / "file")  # fmt: skip


def test_the_library_logs_each_epoch_and_prints_nothing_itself(tmp_path, caplog, capsys) -> None:
    caplog.set_level(logging.INFO, logger="wcatsim")
    result = train(load_config([], TINY), out_dir=tmp_path / "run", device="cpu", progress=True)
    records = [r for r in caplog.records if r.name == "wcatsim.train.trainer"]
    epochs = [r for r in records if r.epoch_row is not None]
    assert [r.epoch_row["epoch"] for r in epochs] == [1, 2]
    assert [r.getMessage().split(" lr ")[0] for r in epochs] == ["epoch 1/2", "epoch 2/2"]
    # the metrics row rides on the record
    for record, row in zip(epochs, read_csv(result.run_dir / "metrics.csv"), strict=True):
        assert record.epoch_row["train_loss"] == float(row["train_loss"])
        assert record.epoch_row["val_accuracy"] == float(row["val_accuracy"])
    # every logged line is the line train.log holds (after its UTC stamp), in order
    logged = [line.split(" ", 2)[2] for line in (result.run_dir / "train.log").read_text().splitlines()]
    assert [r.getMessage() for r in records] == logged
    assert records[-1].getMessage().startswith("done: best epoch")
    out = capsys.readouterr()
    assert out.out == "" and out.err == "", "the library printed (it logs; the application prints)"
    package = logging.getLogger("wcatsim")
    assert any(isinstance(h, logging.NullHandler) for h in package.handlers)
    assert all(isinstance(h, logging.NullHandler) for h in package.handlers), package.handlers
