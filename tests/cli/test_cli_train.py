"""``wcatsim train`` and ``wcatsim eval`` end to end, and every bad input's one-line error (exit 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from cli.main import cli

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = ["--set", "trainer.epochs=2", "--set", "trainer.steps_per_epoch=3", "--device", "cpu", "--quiet"]


def invoke(*args: str | Path):
    """``wcatsim ARGS`` through the real command group."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_train_then_eval_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = invoke("train", *TINY, "--out", out)
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.stdout and f"run directory: {out}" in result.stdout
    for name in ("config.toml", "train.log", "metrics.csv", "checkpoint.pt", "last.pt", "summary.json"):
        assert (out / name).is_file(), name
    again = invoke("train", *TINY, "--out", out)
    assert again.exit_code == 0 and "already trained" in again.stdout

    table = invoke("eval", out, "--device", "cpu")
    assert table.exit_code == 0, table.output
    summary = json.loads((out / "summary.json").read_text())
    assert f"test accuracy {summary['test_accuracy']:.2f}%" in table.stdout
    assert "small_cnn on digits, 4-bit wcat" in table.stdout
    for layer in ("conv1", "conv2", "conv3", "fc"):
        assert any(line.startswith(layer) for line in table.stdout.splitlines()), layer

    report = json.loads(invoke("eval", out, "--json", "--device", "cpu").stdout)
    assert report["test_accuracy"] == summary["test_accuracy"]
    for name, stats in report["layers"].items():
        assert sum(stats["code_histogram"]) == stats["numel"], name
        assert len(stats["code_histogram"]) == 16 and stats["code_min"] == -8
        assert stats["range"] == pytest.approx(summary["layers"][name]["range"])
        assert stats["step"] == pytest.approx(stats["range"] / 8)


def test_eval_finds_the_run_from_config_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # runs/ is relative to the working directory
    layer = CONFIGS / "quantization" / "4bit_maxabs.toml"
    assert invoke("train", "-c", layer, *TINY).exit_code == 0
    # an attack layer does not change which run is meant
    result = invoke("eval", "-c", layer, "-c", CONFIGS / "attack" / "bfa.toml", *TINY[:4], "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["quantizer"] == "maxabs"


def _other_config_run(tmp_path: Path) -> Path:
    run = tmp_path / "other"
    assert invoke("train", *TINY, "--out", run).exit_code == 0
    return run


# (arguments, substrings of the one-line error); every one must exit with code 2 and no traceback.
BAD_INPUTS = [
    (["train", "--set", "trainer.epoch=3"], ["unknown key 'trainer.epoch'", "--set", "did you mean"]),
    (["train", "--set", "trainer.epochs=many"], ["trainer.epochs", "expected an integer"]),
    (["train", "--set", "trainer.optimizer=rmsprop"], ["trainer.optimizer", "sgd, adam"]),
    (["train", "--set", "quant.bits=1"], ["quant.bits", "2..8"]),
    (["train", "--set", "quant.method=binary"], ["quant.method", "wcat"]),
    (["train", "--set", "model.name=vgg"], ["model.name", "resnet20"]),
    (["train", "--set", "trainer.lr=0"], ["trainer.lr", "> 0"]),
    (["train", "--set", "trainer.epochs"], ["KEY=VALUE"]),
    (["train", "-c", "{tmp}/missing.toml"], ["missing.toml does not exist"]),
    (["train", "-c", "{bad_toml}"], ["bad.toml", "not valid TOML"]),
    (["train", "-c", "{unknown_key_toml}"], ["unknown.toml", "trainer.learning_rate", "allowed keys"]),
    (["train", "--set", "data.name=cifar10", "--set", "data.root="], ["cifar10", "data.root"]),
    (["train", "--set", "data.name=mnist", "--set", "data.root={tmp}/nowhere"], ["nowhere"]),
    (["train", "--init-from", "{tmp}/nothing.pt"], ["nothing.pt", "does not exist"]),
    (["train", "--init-from", "{garbage}"], ["garbage.pt", "not a readable wcatsim checkpoint"]),
    (
        ["train", "--set", "model.name=mlp", "--init-from", "{other}/checkpoint.pt"],
        ["holds a small_cnn model, this run trains a mlp"],
    ),
    (["train", "--set", "trainer.lr=0.5", "--out", "{other}"], ["another config", "trainer.lr", "--fresh"]),
    (["train", "--set", "quant.bits=8", "--out", "{other}"], ["4-bit wcat", "8-bit wcat", "bit width"]),
    (["eval", "{tmp}/never-trained"], ["never-trained does not exist", "wcatsim train"]),
    (["eval", "{empty}"], ["holds no trained model", "wcatsim train"]),
    (["eval", "--set", "trainer.epochz=2"], ["trainer.epochz"]),
]


@pytest.mark.parametrize(("args", "expected"), BAD_INPUTS, ids=[" ".join(a)[:60] for a, _ in BAD_INPUTS])
def test_bad_input_gives_one_clear_line_and_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], expected: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    places = {"tmp": str(tmp_path)}
    if any("{bad_toml}" in a for a in args):
        (tmp_path / "bad.toml").write_text("[trainer\nepochs = 2\n")
        places["bad_toml"] = str(tmp_path / "bad.toml")
    if any("{unknown_key_toml}" in a for a in args):
        (tmp_path / "unknown.toml").write_text("[trainer]\nlearning_rate = 0.1\n")
        places["unknown_key_toml"] = str(tmp_path / "unknown.toml")
    if any("{garbage}" in a for a in args):
        (tmp_path / "garbage.pt").write_bytes(b"\x00" * 64)
        places["garbage"] = str(tmp_path / "garbage.pt")
    if any("{other}" in a for a in args):
        places["other"] = str(_other_config_run(tmp_path))
    if any("{empty}" in a for a in args):
        (tmp_path / "empty").mkdir()
        places["empty"] = str(tmp_path / "empty")
    argv = [a.format(**places) for a in args]
    if argv[0] == "train":
        # a tiny budget first, so that the case's own --set values win
        argv[1:1] = ["--set", "trainer.epochs=1", "--set", "trainer.steps_per_epoch=2", "--quiet"]
    result = invoke(*argv)
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in expected:
        assert part in lines[0], f"{part!r} missing from: {lines[0]}"


def test_an_unhealthy_training_exits_3_with_one_line_and_keeps_what_it_has(tmp_path: Path) -> None:
    out = tmp_path / "diverged"
    result = invoke("train", "--set", "trainer.optimizer=sgd", "--set", "trainer.lr=1e30", "--set",
                    "trainer.epochs=2", "--set", "trainer.steps_per_epoch=2", "--out", out, "--quiet")
    assert result.exit_code == 3, f"exit {result.exit_code}: {result.output}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: loss became"), result.stderr
    for part in ("training stopped", "trainer.lr", "trainer.grad_clip"):
        assert part in lines[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["healthy"] is False and summary["reason"] in lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given when there is no GPU")
def test_cuda_without_a_gpu_is_exit_code_2(tmp_path: Path) -> None:
    result = invoke("train", "--device", "cuda", "--out", tmp_path / "r", "--quiet")
    assert result.exit_code == 2 and "no CUDA GPU" in result.stderr


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_train_and_eval_on_a_gpu(tmp_path: Path, digits_runs: dict) -> None:
    result = invoke("train", *TINY[:4], "--device", "cuda", "--out", tmp_path / "r", "--quiet")
    assert result.exit_code == 0, result.output
    cpu = json.loads(invoke("eval", digits_runs["wcat"], "--json", "--device", "cpu").stdout)
    gpu = json.loads(invoke("eval", digits_runs["wcat"], "--json", "--device", "cuda").stdout)
    # the same integer codes on both devices; accuracy within one test image (float reduction order)
    for name in cpu["layers"]:
        assert cpu["layers"][name]["code_histogram"] == gpu["layers"][name]["code_histogram"], name
    assert abs(cpu["test_accuracy"] - gpu["test_accuracy"]) <= 100.0 / cpu["test_images"] + 1e-9


def test_train_copes_with_a_run_directory_copied_elsewhere(tmp_path: Path, digits_runs: dict) -> None:
    # a finished run moved to another folder is still complete there (nothing is retrained)
    moved = tmp_path / "moved"
    shutil.copytree(digits_runs["lsq"], moved)
    result = invoke("train", "-c", moved / "config.toml", "--out", moved, "--quiet", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "already trained" in result.stdout


def test_clustering_flag_sets_the_setting_and_refuses_a_negative_lambda(tmp_path: Path) -> None:
    from sram_models.tomlio import read_toml

    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--quiet", "--set", "trainer.epochs=1", "--set",
            "trainer.steps_per_epoch=1", "--set", "quant.method=maxabs"]  # fmt: skip
    result = CliRunner().invoke(cli, [*args, "--clustering", "0.25"])
    assert result.exit_code == 0, result.output
    assert read_toml(out / "config.toml")["trainer"]["clustering"] == 0.25
    bad = CliRunner().invoke(cli, [*args, "--clustering", "-1"])
    assert bad.exit_code == 2 and "--clustering" in bad.output, bad.output
