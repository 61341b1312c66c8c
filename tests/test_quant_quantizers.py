"""Quantizers: codes in the grid, rounding error bounds, hand-derived gradients, bit-error training."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sram_models.errors import InputError
from tests import naive
from wcatsim.quant import QuantConfig, quantize, quantized_layers
from wcatsim.quant.functions import grid_bounds, half_levels
from wcatsim.quant.quantizers import FixedRangeQuantizer, LsqQuantizer, MaxAbsQuantizer, WcatQuantizer
from wcatsim.quant.range_init import sawb_range

METHODS = ["maxabs", "lsq", "wcat", "wclip", "plclip"]


def make_quantizer(method: str, bits: int, w: torch.Tensor, **kwargs):
    if method == "maxabs":
        return MaxAbsQuantizer(bits, **kwargs)
    if method == "lsq":
        q = LsqQuantizer(bits, **kwargs)
    elif method == "wcat":
        q = WcatQuantizer(bits, range_init="mse", **kwargs)
    else:  # a fixed range that clips part of the weights
        return FixedRangeQuantizer(bits, 0.6 * float(w.abs().max()), method, **kwargs)
    q.init_range(w)
    return q


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("method", METHODS)
def test_codes_in_grid_and_error_within_half_a_step(method: str, bits: int) -> None:
    torch.manual_seed(bits)
    w = torch.randn(3000) * 0.1
    q = make_quantizer(method, bits, w)
    out = q(w).detach()
    codes = q.codes(w)
    step = q.step(w)
    qmin, qmax = grid_bounds(bits)
    assert torch.equal(codes, codes.round()), "codes are integers"
    assert int(codes.min()) >= qmin and int(codes.max()) <= qmax
    assert torch.equal(out, codes * step), "the forward is exactly codes * step"
    w_range = step * half_levels(bits)
    clamped = torch.clamp(w, -w_range, w_range)
    error = (out - clamped).abs()
    top_bin = clamped > (qmax + 0.5) * step  # only the grid's missing positive code costs more
    tol = 4 * torch.finfo(torch.float32).eps * float(w_range)  # float32 rounding of codes * step
    assert float(error[~top_bin].max()) <= float(step) / 2 + tol
    if top_bin.any():
        assert float(error[top_bin].max()) <= float(step) + tol


def test_maxabs_step_and_top_code() -> None:
    w = torch.tensor([-0.8, -0.1, 0.0, 0.3, 0.8])
    q = MaxAbsQuantizer(4)
    assert float(q.step(w)) == pytest.approx(0.8 / 8)
    # max|w| lands on 2^(N-1) = 8 and is clamped to the grid's top code 7; -max|w| keeps -8
    assert q.codes(w).tolist() == [-8.0, -1.0, 0.0, 3.0, 7.0]


@pytest.mark.parametrize("clamp_grad", ["ste", "pwl", "mad"])
def test_wcat_gradients_match_hand_derivation(clamp_grad: str) -> None:
    torch.manual_seed(0)
    w = torch.randn(50, dtype=torch.float64).to(torch.float32)
    upstream = torch.randn(50)
    q = WcatQuantizer(4, clamp_grad=clamp_grad)
    with torch.no_grad():
        q.alpha.fill_(0.9)
    w.requires_grad_(True)
    (q(w) * upstream).sum().backward()
    want_w, want_alpha = naive.naive_wcat_grads(w.detach().tolist(), 0.9, upstream.tolist(), clamp_grad)
    assert (w.detach().abs() > 0.9).sum() > 5, "the test tensor must have clipped weights"
    assert w.grad.tolist() == pytest.approx(want_w, rel=1e-5, abs=1e-7)
    assert float(q.alpha.grad) == pytest.approx(want_alpha, rel=1e-5)


def test_lsq_gradients_match_hand_derivation() -> None:
    torch.manual_seed(1)
    w = torch.randn(60)
    upstream = torch.randn(60)
    q = LsqQuantizer(3)
    with torch.no_grad():
        q.step_size.fill_(0.3)
    w.requires_grad_(True)
    (q(w) * upstream).sum().backward()
    want_w, want_step = naive.naive_lsq_grads(w.detach().tolist(), 0.3, upstream.tolist(), 3)
    assert w.grad.tolist() == pytest.approx(want_w, abs=1e-7)
    assert float(q.step_size.grad) == pytest.approx(want_step, rel=1e-5)


def test_fixed_range_and_maxabs_gradients() -> None:
    w = torch.tensor([-0.9, -0.2, 0.1, 0.5, 0.95], requires_grad=True)
    upstream = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    (FixedRangeQuantizer(4, 0.5, "wclip")(w) * upstream).sum().backward()
    assert w.grad.tolist() == [0.0, 2.0, 3.0, 4.0, 0.0]  # zero outside the fixed range
    w.grad = None
    (MaxAbsQuantizer(4)(w) * upstream).sum().backward()
    assert w.grad.tolist() == upstream.tolist()  # straight through


def test_bit_error_training_flips_in_training_only_with_straight_through_gradient() -> None:
    torch.manual_seed(0)
    w = (torch.randn(20000) * 0.1).requires_grad_(True)
    q = WcatQuantizer(4, train_ber=0.05)
    q.init_range(w)
    step = q.step(w)
    clean = q.codes(w)
    noisy = q(w)
    changed = float((noisy.detach() != clean * step).float().mean())
    # a code changes when any of its 4 bits flips: 1 - 0.95^4 = 0.185
    expected = 1 - 0.95**4
    bound = 5 * math.sqrt(expected * (1 - expected) / w.numel())
    assert abs(changed - expected) < bound, f"changed share {changed} vs {expected} +- {bound}"
    noisy.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w)), "straight-through: the flips do not change the gradient"
    q.eval()
    assert torch.equal(q(w).detach(), clean * step), "no flips in eval mode"


def test_config_validation_names_the_fix() -> None:
    with pytest.raises(InputError, match="use one of float, maxabs"):
        QuantConfig(method="pact")
    with pytest.raises(InputError, match="2..8"):
        QuantConfig(bits=9)
    with pytest.raises(InputError, match="2..8"):
        QuantConfig(bits=True)
    with pytest.raises(InputError, match="clamp_grad"):
        QuantConfig(clamp_grad="tanh")
    with pytest.raises(InputError, match="2, 4 and 8 bits"):
        QuantConfig(bits=3, range_init="sawb")
    with pytest.raises(InputError, match="w_max"):
        QuantConfig(method="wclip", w_max=0.0)
    with pytest.raises(InputError, match="train_ber"):
        QuantConfig(train_ber=0.7)
    with pytest.raises(InputError, match="list of layer names"):
        QuantConfig(exclude="fc")
    assert QuantConfig(exclude=["fc"]).exclude == ("fc",)


def small_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))


def test_plclip_ranges_are_layer_shares_floored() -> None:
    torch.manual_seed(0)
    net = small_net()
    with torch.no_grad():
        net[0].weight.mul_(0).add_(0.5)  # max 0.5
        net[3].weight.clamp_(-0.05, 0.05)  # max 0.05: share 0.1 -> floor 0.2
    quantize(net, QuantConfig(method="plclip", plclip_base=0.3))
    layers = quantized_layers(net)
    assert float(layers["0"].quantizer.w_range) == pytest.approx(0.3)
    assert float(layers["3"].quantizer.w_range) == pytest.approx(0.3 * 0.2)


def test_float_method_leaves_the_model_alone_and_exclude_keeps_layers_float() -> None:
    net = small_net()
    assert quantize(net, QuantConfig(method="float")) is net
    assert quantized_layers(net) == {}
    net = quantize(small_net(), QuantConfig(method="maxabs", exclude=("0",)))
    assert list(quantized_layers(net)) == ["3"]
    with pytest.raises(InputError, match="already quantized"):
        quantize(net, QuantConfig())
    with pytest.raises(InputError, match="its layers are: 0, 3"):
        quantize(small_net(), QuantConfig(exclude=("conv9",)))


def test_conv_and_linear_subclasses_are_refused_unless_excluded() -> None:
    class ScaledLinear(nn.Linear):
        def forward(self, x):
            return super().forward(x) * 2

    net = nn.Sequential(nn.Linear(4, 4), ScaledLinear(4, 2))
    with pytest.raises(InputError, match=r"1 \(ScaledLinear\).*quant.exclude"):
        quantize(net, QuantConfig(method="maxabs"))
    quantize(net, QuantConfig(method="maxabs", exclude=("1",)))
    assert list(quantized_layers(net)) == ["0"]


def test_config_settings_reach_the_quantizers() -> None:
    torch.manual_seed(0)
    cfg = QuantConfig(method="wcat", bits=4, clamp_grad="mad", range_init="sawb", train_ber=0.01)
    net = quantize(small_net(), cfg)
    q = quantized_layers(net)["0"].quantizer
    assert (q.bits, q.clamp_grad, q.range_init, q.train_ber) == (4, "mad", "sawb", 0.01)
    weights = quantized_layers(net)["0"].weight
    assert q.alpha.item() == pytest.approx(sawb_range(weights, 4))
