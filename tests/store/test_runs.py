"""Run directories: stable names, their files, and loading a trained model back (wcatsim.train.runs)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from wcatsim.config import load_config
from wcatsim.errors import CheckpointError
from wcatsim.store.atomic import read_csv
from wcatsim.store.runs import run_dir_for, run_name
from wcatsim.train.checkpoints import BEST, read_checkpoint
from wcatsim.train.evaluate import accuracy
from wcatsim.train.quant import quantized_layers
from wcatsim.train.runs import load_run

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_run_name_is_readable_and_hashes_only_model_data_quant_trainer() -> None:
    base = load_config()
    name = run_name(base)
    assert re.fullmatch(r"small_cnn-digits-wcat4-[0-9a-f]{8}", name), name
    assert run_dir_for(base) == Path("runs") / name
    assert run_dir_for(base, Path("/x")) == Path("/x") / name
    # attack settings never change which model is meant
    attacked = load_config(
        [CONFIGS / "attack" / "random_flip.toml", CONFIGS / "attack" / "bfa.toml"],
        ["attack.random_flip.samples=7", "attack.bfa.k_top=3", "attack.sweep.chips=2"],
    )
    assert run_name(attacked) == name
    # every model-defining section does
    for override in ("trainer.epochs=31", "trainer.seed=1", "quant.bits=8", "data.seed=1", "model.name=mlp"):
        assert run_name(load_config([], [override])) != name, override
    float_name = run_name(load_config([CONFIGS / "quantization" / "float.toml"]))
    assert float_name.startswith("small_cnn-digits-float-")


def test_run_name_does_not_depend_on_how_the_config_was_written(tmp_path: Path) -> None:
    a = tmp_path / "a.toml"
    a.write_text("[trainer]\nlr = 0.002\nepochs = 3\n")
    b = tmp_path / "b.toml"
    b.write_text("[trainer]\nepochs = 3\nlr = 2e-3\n")
    assert run_name(load_config([a])) == run_name(load_config([b])) == run_name(
        load_config([], ["trainer.epochs=3", "trainer.lr=0.002"])
    )


def test_run_directory_holds_the_files_other_tools_read(digits_runs: dict[str, Path]) -> None:
    for method, run_dir in digits_runs.items():
        for name in ("config.toml", "train.log", "metrics.csv", "checkpoint.pt", "last.pt", "summary.json"):
            assert (run_dir / name).is_file(), f"{method}: {name} missing"
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["quantizer"] == method and summary["bits"] == 4
        assert summary["model"] == "small_cnn" and summary["dataset"] == "digits"
        assert 0.0 <= summary["test_accuracy"] <= 100.0
        assert summary["test_accuracy"] > 80.0, f"{method} learned nothing: {summary['test_accuracy']}%"
        assert list(summary["layers"]) == ["conv1", "conv2", "conv3", "fc"]
        for stats in summary["layers"].values():
            assert set(stats) == {"range", "max_abs_weight", "clipped_fraction"}
        config = load_config([run_dir / "config.toml"])
        assert len(read_csv(run_dir / "metrics.csv")) == config.trainer.epochs
        assert run_dir.name == run_name(config)


def test_ranges_in_the_summary_follow_each_quantizer(digits_runs: dict[str, Path]) -> None:
    maxabs = json.loads((digits_runs["maxabs"] / "summary.json").read_text())["layers"]
    for name, s in maxabs.items():
        assert s["range"] == pytest.approx(s["max_abs_weight"], rel=1e-6), name
        assert s["clipped_fraction"] == 0.0, name
    wcat = json.loads((digits_runs["wcat"] / "summary.json").read_text())["layers"]
    for name, s in wcat.items():
        # range decay pulls alpha below max|w| (the mechanism of the paper): some weights are clipped
        assert s["range"] < s["max_abs_weight"], f"{name}: range {s['range']} >= max|w| {s['max_abs_weight']}"
        assert s["clipped_fraction"] > 0.0, name


def test_load_run_gives_the_trained_quantized_model_in_eval_mode(digits_runs: dict[str, Path]) -> None:
    run = load_run(digits_runs["wcat"], device="cpu")
    assert not run.model.training
    assert list(quantized_layers(run.model)) == ["conv1", "conv2", "conv3", "fc"]
    assert run.config == load_config([digits_runs["wcat"] / "config.toml"])
    assert run.dir == digits_runs["wcat"] and run.device == torch.device("cpu")
    x, y = run.data.test_tensors()
    summary = json.loads((run.dir / "summary.json").read_text())
    assert round(accuracy(run.model, x, y), 4) == summary["test_accuracy"]


def test_checkpoints_load_with_weights_only(digits_runs: dict[str, Path]) -> None:
    payload = torch.load(digits_runs["lsq"] / BEST, map_location="cpu", weights_only=True)
    assert payload["config"]["quant"]["method"] == "lsq"
    assert payload["version"] and payload["format"].startswith("wcatsim-checkpoint")
    assert "[quant]" in payload["config_toml"]


def test_load_run_without_checkpoint_names_the_train_command(tmp_path: Path, digits_runs: dict) -> None:
    with pytest.raises(CheckpointError, match="does not exist.*wcatsim train"):
        load_run(tmp_path / "never-trained")
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(digits_runs["wcat"] / "config.toml", half / "config.toml")
    with pytest.raises(CheckpointError, match=r"no trained model.*wcatsim train -c .*config.toml --out"):
        load_run(half)


def test_unreadable_checkpoint_is_a_checkpoint_error(tmp_path: Path) -> None:
    (tmp_path / BEST).write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable wcatsim checkpoint"):
        read_checkpoint(tmp_path / BEST)
    with pytest.raises(CheckpointError):
        load_run(tmp_path)
