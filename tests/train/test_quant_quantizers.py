"""Quantizers: codes in the grid, rounding error bounds, hand-derived gradients, bit-error training."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sram_models.errors import InputError
from tests import naive
from wcatsim.train.quant import QuantConfig, quantize, quantized_layers
from wcatsim.train.quant.functions import grid_bounds, half_levels
from wcatsim.train.quant.quantizers import (
    FixedRangeQuantizer,
    LsqQuantizer,
    MaxAbsQuantizer,
    PlclipQuantizer,
    WcatQuantizer,
)
from wcatsim.train.quant.range_init import sawb_range

METHODS = ["maxabs", "lsq", "wcat", "wclip", "plclip"]


def make_quantizer(method: str, bits: int, w: torch.Tensor, **kwargs):
    if method == "maxabs":
        return MaxAbsQuantizer(bits, **kwargs)
    if method == "lsq":
        q = LsqQuantizer(bits, **kwargs)
    elif method == "wcat":
        q = WcatQuantizer(bits, range_init="mse", **kwargs)
    elif method == "plclip":  # alone in its group: the base range, here one that clips part of the weights
        return PlclipQuantizer(bits, 0.6 * float(w.abs().max()), **kwargs)
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


@pytest.mark.parametrize("gradient", ["paper", "wcat_code"])
def test_lsq_gradients_match_hand_derivation(gradient: str) -> None:
    torch.manual_seed(1)
    w = torch.randn(60)
    upstream = torch.randn(60)
    q = LsqQuantizer(3, gradient=gradient)
    with torch.no_grad():
        q.step_size.fill_(0.3)
    w.requires_grad_(True)
    (q(w) * upstream).sum().backward()
    want_w, want_step = naive.naive_lsq_grads(w.detach().tolist(), 0.3, upstream.tolist(), 3, gradient)
    assert ((w.detach() / 0.3).abs() > 4).sum() > 5, "the test tensor must have weights outside the grid"
    assert w.grad.tolist() == pytest.approx(want_w, abs=1e-7)
    assert float(q.step_size.grad) == pytest.approx(want_step, rel=1e-5)


def test_lsq_wcat_code_gradient_is_the_paper_one_plus_the_unscaled_rounding_term() -> None:
    # Written out once more in float64 on a tensor with every weight inside the grid, where
    # wcat_code = sum(u * (round(v) - g v)) and paper = g * sum(u * (round(v) - v)).
    torch.manual_seed(2)
    w = torch.rand(400) * 0.8 - 0.4
    upstream = torch.randn(400)
    grads = {}
    for gradient in ("paper", "wcat_code"):
        q = LsqQuantizer(4, gradient=gradient)
        with torch.no_grad():
            q.step_size.fill_(0.06)  # grid [-0.48, 0.42]: every weight inside
        (q(w) * upstream).sum().backward()
        grads[gradient] = float(q.step_size.grad)
    v = (w / torch.tensor(0.06)).double()
    u = upstream.double()
    g = 1 / math.sqrt(7 * 400)
    assert grads["paper"] == pytest.approx(float(g * (u * (v.round() - v)).sum()), rel=1e-4)
    assert grads["wcat_code"] == pytest.approx(float((u * (v.round() - g * v)).sum()), rel=1e-4)
    with pytest.raises(InputError, match="lsq_gradient"):
        QuantConfig(method="lsq", lsq_gradient="esser")
    net = quantize(small_net(), QuantConfig(method="lsq", lsq_gradient="wcat_code"))
    assert quantized_layers(net)["0"].quantizer.gradient == "wcat_code"


@pytest.mark.parametrize("method", ["wcat", "lsq"])
def test_a_learned_range_driven_through_zero_stays_positive_and_recovers(method: str) -> None:
    torch.manual_seed(3)
    w = torch.randn(500) * 0.1
    q = make_quantizer(method, 4, w)
    param = q.range_parameter()
    positive = float(param.detach())
    step_positive = q.step(w).clone()
    out_positive = q(w).detach()
    with torch.no_grad():
        param.fill_(-positive)  # one optimiser step overshot zero
    # the range in use is |parameter|: the same model, bit for bit
    assert torch.equal(q.step(w), step_positive) and torch.equal(q(w).detach(), out_positive)
    assert not q.range_at_floor(w)
    # the gradient reaches the parameter with the sign flipped (d|p|/dp = -1), so a step that would
    # widen the range moves p away from zero on its side
    (q(w) - w).pow(2).sum().backward()  # the MSE: wider ranges clip less
    grad_negative = float(param.grad)
    param.grad = None
    with torch.no_grad():
        param.fill_(positive)
    (q(w) - w).pow(2).sum().backward()  # the MSE: wider ranges clip less
    assert grad_negative == pytest.approx(-float(param.grad), rel=1e-6) and grad_negative != 0
    # at (or below) the floor: the floor is used, it is reported, and the gradient still passes
    param.grad = None
    with torch.no_grad():
        param.fill_(1e-12)
    floor = 1e-3 * float(w.abs().max()) / (8 if method == "lsq" else 1)
    assert float(q.step(w)) == pytest.approx(floor / (1 if method == "lsq" else 8), rel=1e-6)
    assert q.range_at_floor(w)
    (q(w) - w).pow(2).sum().backward()  # the MSE: wider ranges clip less
    assert float(param.grad) < 0, "clipped weights pull a range at the floor up (gradient descent: -grad)"
    assert not MaxAbsQuantizer(4).range_at_floor(w)


def test_collapsed_ranges_names_the_layers_at_their_floor() -> None:
    from wcatsim.train.quant import collapsed_ranges

    torch.manual_seed(0)
    net = quantize(small_net(), QuantConfig(method="wcat", bits=4))
    assert collapsed_ranges(net) == []
    with torch.no_grad():
        quantized_layers(net)["3"].quantizer.alpha.fill_(0.0)
    assert collapsed_ranges(net) == ["3"]
    assert collapsed_ranges(quantize(small_net(), QuantConfig(method="maxabs"))) == []


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
    assert float(layers["0"].quantizer.step(layers["0"].weight)) * 8 == pytest.approx(0.3)
    assert float(layers["3"].quantizer.step(layers["3"].weight)) * 8 == pytest.approx(0.3 * 0.2)


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
