"""A sweep called from Python logs each finished point and writes it to TensorBoard (issue 19 §2).

The per-point lines used to come from the CLI alone (its ``on_row`` printer); the library now logs one
INFO record per point on ``wcatsim.experiments.sweeps.sweep`` with the row on it, and prints nothing.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tests.events import scalars

SWEEP_LOGGER = "wcatsim.experiments.sweeps.sweep"


@pytest.fixture(scope="module")
def wcat(digits_runs):
    from wcatsim.train.runs import load_run

    return load_run(digits_runs["wcat"], device="cpu")


def _points(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == SWEEP_LOGGER and getattr(r, "point", None) is not None]


def test_random_flip_logs_one_record_per_point_and_prints_nothing(wcat, tmp_path, caplog, capsys) -> None:
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep

    caplog.set_level(logging.INFO, logger="wcatsim")
    out = tmp_path / "rf.csv"
    rows = random_flip_sweep(wcat, [0.0, 2e-2], samples=3, out=out, progress=True)
    records = _points(caplog)
    assert [r.point for r in records] == rows and [r.resumed for r in records] == [False, False]
    assert {r.sweep for r in records} == {"random-flip"} and all(r.levelno == logging.INFO for r in records)
    first, second = (r.getMessage() for r in records)
    assert first.startswith("random-flip ber 0 (1/2): accuracy ") and "over 3 realisations" in first
    assert second.startswith("random-flip ber 0.02 (2/2): accuracy ")
    assert f"{rows[1]['acc_mean']:.2f}%" in second and f"95% CI {rows[1]['ci_low']:.2f}-" in second
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "", "off a terminal the library drew or printed"

    caplog.clear()
    again = random_flip_sweep(wcat, [0.0, 2e-2], samples=3, out=out, progress=True)  # resumed from the table
    records = _points(caplog)
    assert [r.point for r in records] == again == rows and [r.resumed for r in records] == [True, True]
    assert records[0].getMessage().endswith("(resumed)")


def test_on_a_terminal_the_bar_shows_the_last_finished_point(wcat, tmp_path, monkeypatch) -> None:
    import io
    import sys

    from wcatsim.experiments.sweeps.sweep import random_flip_sweep

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    rows = random_flip_sweep(wcat, [0.0, 2e-2], samples=2, out=tmp_path / "rf.csv", progress=True)
    drawn = sys.stderr.getvalue()
    assert "random-flip" in drawn and "\r" in drawn  # a bar, redrawn in place
    assert f"ber 0.02: {rows[1]['acc_mean']:.2f}%" in drawn


def test_a_quiet_library_logger_keeps_the_sweep_silent(wcat, tmp_path, caplog) -> None:
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep

    caplog.set_level(logging.WARNING, logger="wcatsim")  # what a caller (or --quiet) chooses
    random_flip_sweep(wcat, [0.0], samples=2, out=tmp_path / "rf.csv")
    assert not _points(caplog)


def test_voltage_sweep_points_in_tensorboard_are_the_table_rows(wcat, tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from wcatsim.experiments.sweeps.sweep import voltage_sweep

    board = tmp_path / "board"
    rows = voltage_sweep(wcat, "chandramoorthy14", [1.0, 0.85, 0.8], chips=2, out=tmp_path / "sv.csv",
                         tensorboard=board)  # fmt: skip
    found = scalars(board)
    key = next(k for k in ("voltage", "voltage_v") if k in rows[0])  # the table's voltage column
    for column in (key, "ber", "acc_mean", "ci_low", "energy_norm"):
        tag = f"sweep_voltage/{column}"
        assert found[tag] == [(i, float(np.float32(r[column]))) for i, r in enumerate(rows)], tag
    assert [v for _, v in found[f"sweep_voltage/{key}"]] == [float(np.float32(v)) for v in (1.0, 0.85, 0.8)]


def test_random_flip_in_tensorboard_steps_by_point_with_the_ber_as_its_own_scalar(wcat, tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep

    board = tmp_path / "board"
    rows = random_flip_sweep(wcat, [0.0, 1e-2], samples=2, out=tmp_path / "rf.csv", tensorboard=board)
    found = scalars(board)
    assert found["random_flip/ber"] == [(0, 0.0), (1, float(np.float32(1e-2)))]
    means = [(i, float(np.float32(r["acc_mean"]))) for i, r in enumerate(rows)]
    assert found["random_flip/acc_mean"] == means
    assert found["random_flip/acc_mean"][0][1] == float(np.float32(rows[0]["clean_acc"]))  # ber 0 is clean
