"""``wcatsim quantize``: post-training quantization into a run directory the other commands accept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from wcatsim.cli.main import cli

REPO = Path(__file__).resolve().parents[2]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def float_weights(digits_runs, tmp_path_factory) -> Path:
    """The float weights of the trained 4-bit WCAT digits model (learned ranges dropped), as safetensors."""
    from wcatsim.train.models import build_model

    own = build_model("small_cnn", num_classes=10, in_channels=1, image_size=8).state_dict()
    trained = torch.load(Path(digits_runs["wcat"]) / "checkpoint.pt", weights_only=True)["model"]
    path = tmp_path_factory.mktemp("ptq") / "small_cnn.safetensors"
    save_file({k: v.contiguous() for k, v in trained.items() if k in own}, str(path))
    return path


def test_quantize_writes_a_run_that_eval_random_flip_and_bfa_accept(float_weights: Path, tmp_path) -> None:
    out = tmp_path / "ptq"
    layer = REPO / "configs" / "quantization" / "4bit_maxabs.toml"
    result = invoke("quantize", "-c", layer, "--weights", float_weights, "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert f"run directory: {out}" in result.output
    assert "batch-norm statistics of the file kept" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["post_training"]["weights_sha256"] and summary["quantizer"] == "maxabs"
    assert summary["test_accuracy"] > 80, "the trained weights, 4-bit max-abs quantized, still classify"
    evaluated = json.loads(invoke("eval", out, "--json", "--device", "cpu").stdout)
    assert evaluated["test_accuracy"] == summary["test_accuracy"]
    flip = invoke("random-flip", "--run", out, "--ber", "1e-2", "--samples", "2", "--quiet", "--device",
                  "cpu")
    assert flip.exit_code == 0, flip.output
    attack = invoke("bfa", "--run", out, "--trials", "1", "--max-flips", "2", "--eval-images", "50",
                    "--no-progress", "--device", "cpu")
    assert attack.exit_code == 0, attack.output
    bfa = json.loads((out / "bfa_summary.json").read_text())
    assert bfa["eval_images"]["images"] == 50 and bfa["test_images"] == 50
    # the same layers and weights into the same directory: re-quantized; another config: refused
    again = invoke("quantize", "-c", layer, "--weights", float_weights, "--out", out, "--device", "cpu",
                   "--quiet")
    assert again.exit_code == 0, again.output
    other = invoke("quantize", "--weights", float_weights, "--out", out, "--device", "cpu")
    assert other.exit_code == 2 and "already holds another run" in other.output


def test_calibration_reestimates_batch_norm_statistics_on_training_images(float_weights: Path) -> None:
    from wcatsim.config import load_config
    from wcatsim.train.datasets import load_dataset
    from wcatsim.train.posttraining import recalibrate_batchnorm
    from wcatsim.train.runs import build_model_for

    cfg = load_config([], [f"model.weights={json.dumps(str(float_weights))}", "quant.method=maxabs"])
    data = load_dataset("digits")
    model = build_model_for(cfg, data).eval()
    images = data.eval_images("train", list(range(40)))  # one batch (of at most 64)
    seen = {}
    model.bn2.register_forward_hook(lambda m, inputs, output: seen.setdefault("x", inputs[0].detach()))
    assert recalibrate_batchnorm(model, images, torch.device("cpu")) == 3
    x = seen["x"]  # the quantized network's input to bn2 on those 40 images
    assert torch.allclose(model.bn2.running_mean, x.mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(model.bn2.running_var, x.var(dim=(0, 2, 3), unbiased=True), rtol=1e-5)
    assert not model.training and model.bn2.momentum == 0.1, "eval mode and the momentum are restored"


def test_a_model_at_chance_is_refused_unless_allowed(tmp_path: Path) -> None:
    from wcatsim.train.models import build_model

    torch.manual_seed(0)
    model = build_model("small_cnn", num_classes=10, in_channels=1, image_size=8)
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.copy_(torch.arange(10.0))  # always answers class 9
    path = tmp_path / "chance.safetensors"
    save_file(model.state_dict(), str(path))
    refused = invoke("quantize", "--weights", path, "--out", tmp_path / "a", "--device", "cpu")
    assert refused.exit_code == 2 and "is at chance" in refused.output
    assert (tmp_path / "a" / "checkpoint.pt").is_file(), "written for inspection before refusing"
    allowed = invoke("quantize", "--weights", path, "--out", tmp_path / "b", "--device", "cpu",
                     "--allow-degenerate")
    assert allowed.exit_code == 0, allowed.output
    missing = invoke("quantize", "--out", tmp_path / "c", "--device", "cpu")
    assert missing.exit_code == 2 and "pass --weights FILE" in missing.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given when there is no GPU")
def test_quantize_on_cuda_without_a_gpu_is_exit_code_2(float_weights: Path, tmp_path: Path) -> None:
    result = invoke("quantize", "--weights", float_weights, "--out", tmp_path / "q", "--device", "cuda")
    assert result.exit_code == 2 and "no CUDA GPU is available" in result.output
