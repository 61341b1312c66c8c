"""Runs you can find (issue 19 §4): a command given fewer -c/--set than at training names the runs it could
have meant; `wcatsim runs` lists the runs under a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wcatsim.cli._common import Experiment
from wcatsim.cli.main import cli
from wcatsim.config import load_config
from wcatsim.store.runs import run_dir_for


def _fake_run(root: Path, overrides: list[str], summary: dict | None = None) -> Path:
    """A run directory as `wcatsim train` leaves it, for the lookup (config.toml, a checkpoint file)."""
    cfg = load_config([], overrides)
    run = run_dir_for(cfg, root)
    run.mkdir(parents=True)
    (run / "config.toml").write_text(cfg.to_toml())
    (run / "checkpoint.pt").write_bytes(b"not read by the lookup")
    if summary is not None:
        (run / "summary.json").write_text(json.dumps(summary))
    return run


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_fewer_settings_than_at_training_name_the_runs_they_could_mean(
    in_tmp: Path, capsys: pytest.CaptureFixture
) -> None:
    five = _fake_run(Path("runs"), ["trainer.epochs=5"])
    seed1 = _fake_run(Path("runs"), ["trainer.epochs=5", "trainer.seed=1"])
    seven = _fake_run(Path("runs"), ["trainer.epochs=7"])  # disagrees with --set trainer.epochs=5 below
    lsq = _fake_run(Path("runs"), ["trainer.epochs=5", "quant.method=lsq"])

    # nothing given, and no run of the default settings: refused, naming every run (each agrees with it)
    result = CliRunner().invoke(cli, ["random-flip", "--ber", "0,1e-3", "--quiet"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: no trained run at runs/small_cnn-digits-wcat4-"), line
    assert all(str(run) in line for run in (five, seed1, lsq, seven)) and "--run DIR" in line, line
    assert f"{seed1} (trainer.epochs=5, trainer.seed=1)" in line  # how it differs from what was asked
    assert not Path(run_dir_for(load_config(), Path("runs"))).exists()  # nothing made

    # epochs 5 and seed 2: no run agrees with both, so none is named (the ordinary "train it first")
    two = CliRunner().invoke(cli, ["random-flip", "--ber", "0", "--quiet", "--set", "trainer.epochs=5",
                                   "--set", "trainer.seed=2"])  # fmt: skip
    assert two.exit_code == 2 and "does not exist; train it first" in two.stderr, two.output
    assert "runs/small_cnn-digits-wcat4-" in two.stderr and str(five) not in two.stderr

    # given trainer.epochs=5: the selected run exists; the others that agree (seed 1, lsq) are named
    exp = Experiment((), ("trainer.epochs=5", "quant.method=wcat"), None)
    assert exp.dir == five
    capsys.readouterr()
    Experiment((), ("trainer.epochs=5", "quant.method=wcat"), None)
    note = capsys.readouterr().err
    assert note.startswith(f"note: these settings select {five}; 1 other run(s)") and str(seed1) in note
    assert "trainer.seed=1" in note and str(lsq) not in note  # quant.method=wcat was given

    # every key given: nothing else agrees, nothing said
    Experiment((), ("trainer.epochs=5", "trainer.seed=1"), None)
    assert capsys.readouterr().err == ""


def test_wcatsim_runs_lists_model_quantizer_dataset_accuracy_health_and_tables(in_tmp: Path) -> None:
    healthy = _fake_run(Path("runs"), ["trainer.epochs=5"], {"healthy": True, "test_accuracy": 97.5})
    (healthy / "random_flip.csv").write_text("ber\n0\n")
    (healthy / "random_flip.20260101T000000Z.1a2b3c4d.csv").write_text("ber\n0\n")
    (healthy / "bfa_flips.csv").write_text("trial\n")
    stopped = _fake_run(
        Path("runs"), ["quant.method=lsq"],
        {"healthy": False, "reason": "validation accuracy 10.00% at epoch 3 is at chance: ...",
         "test_accuracy": 9.9},
    )  # fmt: skip
    result = CliRunner().invoke(cli, ["runs"])
    assert result.exit_code == 0, result.output
    header, *lines = result.output.strip().splitlines()
    assert header.split() == ["run", "model", "quantizer", "dataset", "test_acc_%", "health", "tables"]
    rows = {line.split()[0]: line for line in lines}
    assert set(rows) == {str(healthy), str(stopped)}
    assert rows[str(healthy)].split() == [
        str(healthy), "small_cnn", "wcat4", "digits", "97.50", "healthy", "random_flip.csv+1,bfa_flips.csv"
    ]
    assert rows[str(stopped)].split()[1:5] == ["small_cnn", "lsq4", "digits", "9.90"]
    assert "unhealthy: validation accuracy 10.00% at epoch 3 is at chance" in rows[str(stopped)]

    missing = CliRunner().invoke(cli, ["runs", "nowhere"])
    assert missing.exit_code == 2 and "no folder nowhere" in missing.stderr
