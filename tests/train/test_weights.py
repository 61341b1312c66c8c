"""``model.weights``: safetensors and torch files, containers, tolerated and refused key differences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from wcatsim.config import load_config
from wcatsim.errors import ConfigError
from wcatsim.train.checkpoints import WeightsError, load_weights, read_weights_file


def _float_state(seed: int = 0) -> dict[str, torch.Tensor]:
    from wcatsim.train.models import build_model

    torch.manual_seed(seed)
    model = build_model("small_cnn", num_classes=10, in_channels=1, image_size=8)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # unlike any fresh initialisation
        model.bn1.running_mean.fill_(0.25)
    return {k: v.clone() for k, v in model.state_dict().items()}


def _fresh():
    from wcatsim.train.models import build_model

    torch.manual_seed(99)
    return build_model("small_cnn", num_classes=10, in_channels=1, image_size=8)


@pytest.mark.parametrize("form", ["safetensors", "plain", "model", "state_dict", "nested", "parallel"])
def test_weights_load_from_every_container(tmp_path: Path, form: str) -> None:
    state = _float_state()
    if form == "safetensors":
        path = tmp_path / "w.safetensors"
        save_file(state, str(path))
    else:
        path = tmp_path / "w.pth"
        payload = {
            "plain": state,
            "model": {"model": state, "epoch": 300, "args": "deit release"},
            "state_dict": {"state_dict": state, "optimizer": {"lr": 0.1}},
            "nested": {"model": {"state_dict": state}},
            "parallel": {f"module.{k}": v for k, v in state.items()},
        }[form]
        torch.save(payload, path)
    model = _fresh()
    load_weights(model, read_weights_file(path), path)
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value), (form, key)


def test_a_missing_num_batches_tracked_is_tolerated_and_dtypes_cast(tmp_path: Path) -> None:
    state = {k: v for k, v in _float_state().items() if not k.endswith("num_batches_tracked")}
    state["conv1.weight"] = state["conv1.weight"].half()
    model = _fresh()
    before = model.bn1.num_batches_tracked.clone()
    load_weights(model, state, "w")
    assert torch.equal(model.bn1.num_batches_tracked, before)
    assert model.conv1.weight.dtype == torch.float32
    assert torch.equal(model.conv1.weight, state["conv1.weight"].float())


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing", r"missing conv1.weight, conv2.weight, conv3.weight and 1 more"),
        ("unexpected", r"unexpected head.weight, head.bias"),
        ("shape", r"shape of fc.weight: \(10, 16\) vs \(10, 256\)"),
    ],
)
def test_keys_that_do_not_fit_are_one_line_listing_the_first_few(damage: str, message: str) -> None:
    state = _float_state()
    if damage == "missing":
        for key in ("conv1.weight", "conv2.weight", "conv3.weight", "fc.weight"):
            del state[key]
    elif damage == "unexpected":
        state["head.weight"] = torch.zeros(2, 2)
        state["head.bias"] = torch.zeros(2)
    else:
        state["fc.weight"] = torch.zeros(10, 16)
    with pytest.raises(WeightsError, match=message) as info:
        load_weights(_fresh(), state, "w.pth")
    assert "\n" not in str(info.value)


def test_unreadable_files_are_refused_without_running_code(tmp_path: Path, capfd) -> None:
    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    pickled = tmp_path / "evil.pth"
    torch.save({"model": Payload()}, pickled)
    with pytest.raises(WeightsError, match="weights_only=True"):
        read_weights_file(pickled)
    assert "code ran" not in capfd.readouterr().out
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 20)
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        read_weights_file(junk)
    torch.save({"epoch": 3, "note": "no tensors"}, tmp_path / "meta.pth")
    with pytest.raises(WeightsError, match="holds no state dict of tensors"):
        read_weights_file(tmp_path / "meta.pth")
    with pytest.raises(WeightsError, match="does not exist"):
        read_weights_file(tmp_path / "absent.pth")


def test_weights_go_in_before_quantization_and_set_the_ranges(tmp_path: Path) -> None:
    from wcatsim.image import weight_image
    from wcatsim.store.runs import config_hash
    from wcatsim.train.datasets import load_dataset
    from wcatsim.train.runs import build_model_for

    state = _float_state()
    path = tmp_path / "w.safetensors"
    save_file(state, str(path))
    for method in ("maxabs", "wcat"):
        cfg = load_config([], [f"model.weights={json.dumps(str(path))}", f"quant.method={method}"])
        model = build_model_for(cfg, load_dataset("digits"))
        image = weight_image(model)
        for layer in ("conv1", "fc"):
            w = state[f"{layer}.weight"]
            assert torch.equal(getattr(model, layer).weight, w)
            # max_abs range init (both methods by default): range = max|w|, step = range / 2^(N-1)
            assert image[layer].step == pytest.approx(float(w.abs().max()) / 8, rel=1e-6), (method, layer)
        assert float(model.bn1.running_mean[0]) == 0.25
    # the file's hash is part of the run directory's name
    first = config_hash(cfg)
    save_file(_float_state(seed=1), str(path))
    changed = load_config([], [f"model.weights={json.dumps(str(path))}", "quant.method=wcat"])
    assert config_hash(changed) != first


def test_weights_and_init_from_together_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file(_float_state(), str(path))
    with pytest.raises(ConfigError, match="both give the starting weights"):
        load_config([], [f"model.weights={json.dumps(str(path))}", 'trainer.init_from="x.pt"'])
    with pytest.raises(Exception, match="does not exist"):
        load_config([], ['model.weights="absent.safetensors"'])


def test_train_starts_from_weights_given_with_the_flag(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wcatsim.cli.main import cli

    state = _float_state()
    path = tmp_path / "w.safetensors"
    save_file(state, str(path))
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", "--weights", str(path), "--set", "quant.method=float", "--set",
                                      "trainer.epochs=1", "--set", "trainer.steps_per_epoch=1", "--set",
                                      "trainer.lr=1e-12", "--out", str(run), "--quiet", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    trained = torch.load(run / "checkpoint.pt", weights_only=True)["model"]
    assert torch.allclose(trained["conv1.weight"], state["conv1.weight"], atol=1e-8), "one step at lr 1e-12"
    assert f'weights = "{path}"' in (run / "config.toml").read_text()
