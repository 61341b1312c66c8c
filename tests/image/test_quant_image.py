"""Integer weight images: running from a model's own image is bit-for-bit its fake-quant forward."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sram_models.errors import InputError
from wcatsim.image import LayerImage, run_from_image, weight_image
from wcatsim.train.models import build_model
from wcatsim.train.quant import (
    QuantConfig,
    clip_weights_,
    layer_stats,
    quantize,
    quantized_layers,
    range_parameters,
    reinit_ranges,
)
from wcatsim.train.quant.functions import grid_bounds

METHODS = ["maxabs", "lsq", "wcat", "wclip", "plclip"]


def conv_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Conv2d(6, 8, 3, stride=2, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 3 * 3, 5),
    )


def linear_net() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(2 * 8 * 8, 32), nn.ReLU(), nn.Linear(32, 5))


def own_codes(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: layer.codes for name, layer in weight_image(model).items()}


@pytest.mark.parametrize("builder", [conv_net, linear_net])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_run_from_own_image_equals_fake_quant_exactly(method: str, bits: int, builder) -> None:
    torch.manual_seed(bits)
    model = quantize(builder(), QuantConfig(method=method, bits=bits, range_init="mse", w_max=0.1))
    model(torch.randn(16, 2, 8, 8))  # a training-mode pass (batch-norm statistics move)
    model.eval()
    x = torch.randn(7, 2, 8, 8)
    for context in (torch.inference_mode, torch.no_grad):
        with context():
            fake = model(x)
            with run_from_image(model, own_codes(model)):
                from_image = model(x)
        assert torch.equal(fake, from_image), f"{method} {bits} bits under {context.__name__}"


@pytest.mark.parametrize("method", METHODS)
def test_resnet20_runs_from_its_image_exactly(method: str) -> None:
    torch.manual_seed(0)
    model = quantize(build_model("resnet20", 10, 3, 32), QuantConfig(method=method, bits=4))
    model.eval()
    x = torch.randn(4, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        fake = model(x)
        with run_from_image(model, own_codes(model)):
            from_image = model(x)
    assert len(quantized_layers(model)) == 20  # all 19 convs (option-A shortcuts have none) and the fc
    assert torch.equal(fake, from_image)


def test_image_codes_are_int16_on_cpu_in_the_grid_and_match_the_weights() -> None:
    torch.manual_seed(0)
    model = quantize(conv_net(), QuantConfig(method="wcat", bits=4))
    image = weight_image(model)
    assert list(image) == ["0", "3", "6"]
    qmin, qmax = grid_bounds(4)
    for name, layer in quantized_layers(model).items():
        entry = image[name]
        assert isinstance(entry, LayerImage) and entry.bits == 4
        assert entry.codes.dtype == torch.int16 and entry.codes.device.type == "cpu"
        assert entry.codes.shape == layer.weight.shape
        assert qmin <= int(entry.codes.min()) and int(entry.codes.max()) <= qmax
        assert torch.equal(entry.dequantized(), layer.quantizer(layer.weight).detach())
        assert entry.step == float(torch.tensor(entry.step, dtype=torch.float32)), "step is a float32 value"


def test_run_from_other_codes_uses_them_and_restores_everything() -> None:
    torch.manual_seed(0)
    model = quantize(conv_net(), QuantConfig(method="maxabs", bits=4)).eval()
    x = torch.randn(3, 2, 8, 8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        clean = model(x)
    image = weight_image(model)
    flipped = image["0"].codes.clone()
    flipped[0, 0, 0, 0] = grid_bounds(4)[0] if flipped[0, 0, 0, 0] != grid_bounds(4)[0] else 0
    with torch.no_grad(), run_from_image(model, {"0": flipped.numpy().astype(np.int64)}):
        corrupted = model(x)
        # the reference: layer 0 by hand with codes * step, the rest of the model as usual
        step = torch.tensor(image["0"].step, dtype=torch.float32)
        first = F.conv2d(x, flipped.to(torch.float32) * step, model[0].bias, padding=1)
        want = model[1:](first)
    assert torch.equal(corrupted, want)
    assert not torch.equal(corrupted, clean)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "parameters untouched"
    with torch.no_grad():
        assert torch.equal(model(x), clean), "restored on exit"


def test_run_from_image_builds_no_autograd_graph() -> None:
    model = quantize(conv_net(), QuantConfig(method="wcat", bits=4)).eval()
    with run_from_image(model, own_codes(model)):
        layer = quantized_layers(model)["0"]
        assert layer._image_weight is not None and not layer._image_weight.requires_grad
    with torch.inference_mode(), run_from_image(model, own_codes(model)):
        out = model(torch.randn(2, 2, 8, 8))
        assert not out.requires_grad


def test_run_from_image_rejects_bad_images() -> None:
    model = quantize(conv_net(), QuantConfig(method="maxabs", bits=4))
    codes = own_codes(model)
    with pytest.raises(InputError, match="not quantized layers"):
        with run_from_image(model, {"conv9": codes["0"]}):
            pass
    with pytest.raises(InputError, match="shape"):
        with run_from_image(model, {"0": codes["3"]}):
            pass
    with pytest.raises(InputError, match=r"leave the 4-bit grid \[-8, 7\]"):
        with run_from_image(model, {"0": codes["0"].clone().fill_(8)}):
            pass
    with pytest.raises(InputError, match="integers"):
        with run_from_image(model, {"0": codes["0"].float()}):
            pass
    with pytest.raises(InputError, match="no quantized layers"):
        weight_image(conv_net())


def test_float_checkpoint_loads_into_the_quantized_model_and_ranges_reinitialise() -> None:
    torch.manual_seed(0)
    float_model = conv_net()
    with torch.no_grad():
        for p in float_model.parameters():
            p.mul_(3.0)
    state = float_model.state_dict()
    torch.manual_seed(1)
    model = quantize(conv_net(), QuantConfig(method="wcat", bits=4, range_init="max_abs"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert unexpected == []
    assert sorted(missing) == ["0.quantizer.alpha", "3.quantizer.alpha", "6.quantizer.alpha"]
    reinit_ranges(model)
    for name, layer in quantized_layers(model).items():
        assert torch.equal(layer.weight, state[f"{name}.weight"])
        assert layer.quantizer.alpha.item() == pytest.approx(float(state[f"{name}.weight"].abs().max()))
    # and a quantized checkpoint round-trips strictly
    twin = quantize(conv_net(), QuantConfig(method="wcat", bits=4))
    twin.load_state_dict(model.state_dict())
    twin.eval(), model.eval()
    x = torch.randn(2, 2, 8, 8)
    with torch.no_grad():
        assert torch.equal(twin(x), model(x))


def test_range_parameters_layer_stats_clip_and_deepcopy() -> None:
    torch.manual_seed(0)
    net = conv_net()
    with torch.no_grad():
        for layer in (net[0], net[3], net[6]):
            layer.weight.normal_(0, 0.1)  # bell-shaped, as trained weights are: the MSE range clips tails
    model = quantize(net, QuantConfig(method="wcat", bits=4, range_init="mse"))
    params = range_parameters(model)
    layers = quantized_layers(model)
    assert len(params) == 3
    assert all(p is layers[n].quantizer.alpha for n, p in zip("036", params, strict=True))
    assert range_parameters(quantize(conv_net(), QuantConfig(method="maxabs"))) == []
    stats = layer_stats(model)
    for name, layer in quantized_layers(model).items():
        s = stats[name]
        w = layer.weight.detach()
        assert s["range"] == pytest.approx(layer.quantizer.alpha.item())
        assert s["step"] == pytest.approx(s["range"] / 8)
        assert s["max_abs_weight"] == pytest.approx(float(w.abs().max()))
        assert s["clipped_fraction"] == pytest.approx(float((w.abs() > s["range"]).float().mean()))
        assert s["bits"] == 4 and s["code_min"] == -8 and len(s["code_histogram"]) == 16
        assert sum(s["code_histogram"]) == w.numel() == s["numel"]
        assert s["range"] < s["max_abs_weight"], "mse init clips the tails"
    clipped = quantize(conv_net(), QuantConfig(method="wclip", w_max=0.05))
    clip_weights_(clipped)
    for layer in quantized_layers(clipped).values():
        assert layer.weight.abs().max().item() == float(torch.tensor(0.05)), "clipped to float32(w_max)"
    twin = copy.deepcopy(model)
    assert torch.equal(weight_image(twin)["3"].codes, weight_image(model)["3"].codes)


def test_reinit_ranges_follows_loaded_weights_for_lsq() -> None:
    torch.manual_seed(0)
    lsq = quantize(conv_net(), QuantConfig(method="lsq", bits=4))
    with torch.no_grad():
        for layer in quantized_layers(lsq).values():
            layer.weight.mul_(4.0)
    reinit_ranges(lsq)
    for layer in quantized_layers(lsq).values():
        want = 2 * layer.weight.detach().abs().mean().item() / 7**0.5  # 2 E|w| / sqrt(Qp)
        assert layer.quantizer.step_size.item() == pytest.approx(want, rel=1e-6)


def plclip_steps_by_hand(model: nn.Module, base: float, bits: int) -> dict[str, float]:
    """kmchiti/WCAT _set_plclip_values: base * max(0.2, max|w_l| / the largest max|w|), / 2^(N-1)."""
    tops = {n: float(m.weight.detach().abs().max()) for n, m in quantized_layers(model).items()}
    return {n: base * max(0.2, t / max(tops.values())) / 2 ** (bits - 1) for n, t in tops.items()}


def test_plclip_ranges_follow_the_current_weights_and_the_stored_weights_are_never_clipped() -> None:
    torch.manual_seed(0)
    model = quantize(conv_net(), QuantConfig(method="plclip", bits=4, plclip_base=0.5))
    layers = quantized_layers(model)
    with torch.no_grad():
        layers["6"].weight.mul_(0.1)  # a small layer: its share falls below the 0.2 floor
    for _ in range(2):
        want = plclip_steps_by_hand(model, 0.5, 4)
        got = {n: li.step for n, li in weight_image(model).items()}
        assert got == pytest.approx(want, rel=1e-6)
        assert got["6"] == pytest.approx(0.5 * 0.2 / 8, rel=1e-6), "floor of 0.2 of the base range"
        with torch.no_grad():
            layers["0"].weight.mul_(5.0)  # the largest layer grows: every other layer's share shrinks
    now = {n: li.step for n, li in weight_image(model).items()}
    assert now == pytest.approx(plclip_steps_by_hand(model, 0.5, 4), rel=1e-6) and now != want
    before = {n: m.weight.detach().clone() for n, m in layers.items()}
    clip_weights_(model)  # plclip clips in the forward only (the WCAT code): stored weights are kept
    assert all(torch.equal(before[n], m.weight) for n, m in layers.items())
    # a deep copy (as the naive reference and attack baselines make) is grouped with its own layers
    twin = copy.deepcopy(model)
    steps = {n: li.step for n, li in weight_image(model).items()}
    with torch.no_grad():
        quantized_layers(twin)["3"].weight.mul_(100.0)  # now the largest layer of the copy only
    assert {n: li.step for n, li in weight_image(model).items()} == steps
    twin_steps = {n: li.step for n, li in weight_image(twin).items()}
    assert twin_steps == pytest.approx(plclip_steps_by_hand(twin, 0.5, 4), rel=1e-6)
    assert twin_steps["3"] == pytest.approx(0.5 / 8, rel=1e-6) and twin_steps["0"] < steps["0"]
    # the gradient of a weight outside the range is zero, inside it passes
    x = torch.randn(4, 2, 8, 8)
    model(x).sum().backward()
    layer = layers["0"]
    outside = layer.weight.detach().abs() > weight_image(model)["0"].step * 8
    assert outside.any() and (~outside).any()
    assert torch.all(layer.weight.grad[outside] == 0) and torch.any(layer.weight.grad[~outside] != 0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_run_from_image_equals_fake_quant_on_gpu() -> None:
    torch.manual_seed(0)
    model = quantize(build_model("resnet20", 10, 3, 32), QuantConfig(method="wcat", bits=4)).cuda().eval()
    x = torch.randn(8, 3, 32, 32, device="cuda")
    with torch.inference_mode():
        fake = model(x)
        with run_from_image(model, own_codes(model)):
            from_image = model(x)
    assert torch.equal(fake, from_image)
