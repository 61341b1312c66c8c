"""The CLI prints the library's log lines as before, nothing of progress with --quiet, and
--tensorboard DIR on train, random-flip and sweep-voltage (issue 19 §2)."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.events import scalars

TINY = ["--set", "trainer.epochs=2", "--set", "trainer.steps_per_epoch=2", "--device", "cpu"]


def _cli(*args):
    from cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def run(digits_runs, tmp_path) -> Path:
    """A private copy of the trained 4-bit WCAT digits run (these tests write tables into it)."""
    return Path(shutil.copytree(digits_runs["wcat"], tmp_path / "run"))


def _no_cli_handler_left() -> None:
    package = logging.getLogger("wcatsim")
    assert all(isinstance(h, logging.NullHandler) for h in package.handlers), package.handlers
    assert package.level == logging.NOTSET


def test_train_prints_one_line_per_epoch_off_a_terminal_and_nothing_with_quiet(tmp_path) -> None:
    loud = _cli("train", *TINY, "--out", tmp_path / "loud")
    assert loud.exit_code == 0, loud.output
    err = loud.stderr.splitlines()
    assert [line.split(" lr ")[0] for line in err if line.startswith("epoch ")] == ["epoch 1/2", "epoch 2/2"]
    assert err[0].startswith("training loud: ") and err[-1].startswith("done: best epoch 2")
    assert "\r" not in loud.stderr, "a bar was drawn although stderr is not a terminal"
    _no_cli_handler_left()

    quiet = _cli("train", *TINY, "--out", tmp_path / "quiet", "--quiet")
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""
    out = quiet.stdout.splitlines()
    assert len(out) == 2 and out[0].startswith("test accuracy ") and out[1].startswith("run directory: ")
    _no_cli_handler_left()


def test_random_flip_prints_its_table_once_and_nothing_of_progress_with_quiet(run) -> None:
    loud = _cli("random-flip", "--run", run, "--ber", "0,1e-2", "--samples", "2", "--device", "cpu")
    assert loud.exit_code == 0, loud.output
    lines = loud.stdout.strip().splitlines()
    assert len(lines) == 4 and lines[0].split()[0] == "ber" and lines[-1].startswith("table: "), lines
    assert "random-flip ber" not in loud.stderr, "a point was printed twice (table row and log line)"
    _no_cli_handler_left()

    quiet = _cli("random-flip", "--run", run, "--ber", "0,2e-2", "--samples", "2", "--device", "cpu",
                 "--quiet")  # fmt: skip
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == "" and quiet.stdout.strip().splitlines() == [f"table: {run / 'random_flip.csv'}"]
    _no_cli_handler_left()


def test_tensorboard_flag_on_train_and_both_sweeps(run, tmp_path) -> None:
    pytest.importorskip("tensorboard")
    trained = _cli("train", *TINY, "--out", tmp_path / "t", "--tensorboard", tmp_path / "tb_train", "--quiet")
    assert trained.exit_code == 0, trained.output
    found = scalars(tmp_path / "tb_train")
    assert [step for step, _ in found["train/loss"]] == [1, 2] and "range/conv1" in found  # default: wcat

    flips = _cli("random-flip", "--run", run, "--ber", "0,1e-2", "--samples", "2", "--device", "cpu",
                 "--tensorboard", tmp_path / "tb_rf", "--quiet")  # fmt: skip
    assert flips.exit_code == 0, flips.output
    assert [step for step, _ in scalars(tmp_path / "tb_rf")["random_flip/acc_mean"]] == [0, 1]

    volts = _cli("sweep-voltage", "--run", run, "--voltages", "1.0,0.9", "--chips", "1", "--device", "cpu",
                 "--tensorboard", tmp_path / "tb_sv", "--quiet")  # fmt: skip
    assert volts.exit_code == 0, volts.output
    assert [step for step, _ in scalars(tmp_path / "tb_sv")["sweep_voltage/acc_mean"]] == [0, 1]


def test_tensorboard_without_its_package_or_onto_a_file_is_one_line_and_exit_2(tmp_path, monkeypatch) -> None:
    (tmp_path / "afile").write_text("x")
    onto_file = _cli("train", *TINY, "--out", tmp_path / "a", "--tensorboard", tmp_path / "afile")
    assert onto_file.exit_code == 2 and len(onto_file.stderr.strip().splitlines()) == 1, onto_file.output
    assert "--tensorboard" in onto_file.stderr and not (tmp_path / "a").exists()

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if the extra were not installed
    missing = _cli("train", *TINY, "--out", tmp_path / "b", "--tensorboard", tmp_path / "tb")
    assert missing.exit_code == 2, missing.output
    (line,) = missing.stderr.strip().splitlines()
    assert line == "error: --tensorboard needs the tensorboard package: pip install 'wcatsim[tensorboard]'"
    assert not (tmp_path / "b").exists() and not (tmp_path / "tb").exists()
    _no_cli_handler_left()
