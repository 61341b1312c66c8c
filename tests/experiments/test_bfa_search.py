"""The progressive bit search: a hand-computed iteration, the naive reference, replay, widening, stalls."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tests.naive import naive_bfa_step, naive_steps
from wcatsim.experiments.attacks.bits import code_bits
from wcatsim.experiments.attacks.problem import ImageAttackProblem, as_model_input
from wcatsim.experiments.attacks.search import commit, layer_candidates, search_step
from wcatsim.image import run_from_image, weight_image
from wcatsim.memory.replay import PrefixReplay
from wcatsim.train.models import build_model
from wcatsim.train.quant import QuantConfig, quantize, quantized_layers


def _linear_model(weights: list[np.ndarray]) -> nn.Module:
    """Bias-free linear layers with these weights, 4-bit wclip at range 0.8: step 0.1 (as float32)."""
    layers = []
    for w in weights:
        layer = nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(w.astype(np.float32)))
        layers.append(layer)
    return quantize(nn.Sequential(*layers), QuantConfig(method="wclip", bits=4, w_max=0.8)).eval()


def _problem(model: nn.Module, x: torch.Tensor, y: torch.Tensor, share_prefix: bool = True):
    image = weight_image(model)
    codes = {name: img.codes.clone() for name, img in image.items()}
    steps = {name: img.step for name, img in image.items()}
    bits = {name: img.bits for name, img in image.items()}
    return ImageAttackProblem(model, x, y, steps, bits, share_prefix=share_prefix), codes


def _as_tuples(flips) -> list[tuple]:
    return [(f.layer, f.index, f.bit, f.code_before, f.code_after) for f in flips]


def test_one_layer_iteration_flips_the_hand_computed_bit() -> None:
    # logits = W x with x = (1, 0) and label 0: dL/dW = outer(softmax - onehot, x), so only column 0 has
    # gradients: row 0 gets p0 - 1 = -(p1 + p2), the largest in magnitude, and is the k_top = 1 weight.
    # Its code is 5 = 0101 and its gradient negative (lowering it raises the loss): the candidate bits are
    # bit 0 (|g| s 1), bit 2 (|g| s 4) and the sign bit (0 -> 1, |g| s 8).  n = 1 takes the sign bit:
    # 5 -> 5 - 8 = -3, which lowers logit 0 and so raises the loss.
    w = np.array([[0.5, 0.1], [0.2, -0.3], [-0.1, 0.4]])
    model = _linear_model([w])
    x, y = torch.tensor([[1.0, 0.0]]), torch.tensor([0])
    problem, codes = _problem(model, x, y)
    assert codes["0"].tolist() == [[5, 1], [2, -3], [-1, 4]]
    step = search_step(problem, codes, k_top=1)
    assert _as_tuples(step.flips) == [("0", 0, 3, 5, -3)]
    logits_before = np.array([0.5, 0.2, -0.1])
    logits_after = np.array([-0.3, 0.2, -0.1])

    def ce(z: np.ndarray) -> float:
        return float(np.log(np.exp(z).sum()) - z[0])

    assert step.loss_before == pytest.approx(ce(logits_before), rel=1e-6)
    assert step.loss_after == pytest.approx(ce(logits_after), rel=1e-6)
    assert step.n == 1 and step.k_top == 1 and not step.widenings


def _hand_step(w1: np.ndarray, w2: np.ndarray, x: np.ndarray, label: int, k: int, step: float = 0.1):
    """Steps 1-4 written out in float64 NumPy for logits = W2 W1 x (codes W / step)."""
    def loss_of(a: np.ndarray, b: np.ndarray) -> float:
        z = (b * step) @ ((a * step) @ x)
        return float(np.log(np.exp(z - z.max()).sum()) + z.max() - z[label])

    c1, c2 = np.rint(w1 / step).astype(int), np.rint(w2 / step).astype(int)
    h = (c1 * step) @ x
    z = (c2 * step) @ h
    p = np.exp(z - z.max())
    p /= p.sum()
    delta = p - np.eye(len(z))[label]
    grads = {"0": np.outer((c2 * step).T @ delta, x), "1": np.outer(delta, h)}
    codes = {"0": c1, "1": c2}
    base = loss_of(c1, c2)
    values = [1, 2, 4, -8]
    best = None
    for name in ("0", "1"):
        g = grads[name].ravel()
        top = sorted(range(g.size), key=lambda i: (-abs(g[i]), i))[:k]
        cands = []
        for i in top:
            code = int(codes[name].ravel()[i])
            stored = [(code % 16 >> b) & 1 for b in range(4)]
            for b in range(4):
                bg = g[i] * step * values[b]
                if (stored[b] == 0 and bg > 0) or (stored[b] == 1 and bg < 0):
                    cands.append((-abs(bg), i, b))
        i, b = sorted(cands)[0][1:]
        new = codes[name].copy().ravel()
        stored = [(int(new[i]) % 16 >> j) & 1 for j in range(4)]
        stored[b] ^= 1
        new[i] = sum(s * v for s, v in zip(stored, values, strict=True))
        new = new.reshape(codes[name].shape)
        trial = loss_of(new, c2) if name == "0" else loss_of(c1, new)
        if trial > base and (best is None or trial > best[0]):
            best = (trial, name, i, b, int(codes[name].ravel()[i]), int(new.ravel()[i]))
    return best


def test_two_layer_iteration_matches_a_numpy_hand_computation() -> None:
    w1 = np.array([[0.3, -0.2, 0.1], [-0.4, 0.5, 0.2], [0.1, 0.1, -0.6], [0.7, -0.1, 0.0]])
    w2 = np.array([[0.2, -0.5, 0.3, 0.1], [-0.3, 0.4, 0.6, -0.2], [0.5, 0.1, -0.4, 0.3]])
    x = np.array([0.9, -0.5, 0.4])
    for k in (1, 3, 12):
        expected = _hand_step(w1, w2, x, label=2, k=k)
        model = _linear_model([w1, w2])
        problem, codes = _problem(model, torch.from_numpy(x[None].astype(np.float32)), torch.tensor([2]))
        step = search_step(problem, codes, k_top=k)
        assert len(step.flips) == 1
        assert _as_tuples(step.flips)[0] == expected[1:], f"k_top={k}"
        assert step.loss_after == pytest.approx(expected[0], rel=1e-5)


SMALL_CASES = [
    ("small_cnn", 1, 8, "maxabs"), ("mlp", 1, 8, "wcat"), ("lenet5", 1, 8, "lsq"),
    ("small_cnn", 1, 8, "wclip"),
    pytest.param(("resnet20", 3, 8, "plclip"), marks=pytest.mark.slow),
]


@pytest.mark.parametrize("case", SMALL_CASES, ids=lambda c: f"{c[0]}-{c[3]}")
def test_fast_search_matches_the_naive_reference_flip_for_flip(case: tuple) -> None:
    name, channels, size, method = case
    torch.manual_seed(0)
    model = quantize(build_model(name, 10, channels, size), QuantConfig(method=method, bits=4)).eval()
    x, y = torch.randn(12, channels, size, size), torch.randint(0, 10, (12,))
    x = as_model_input(model, x)  # the layout the attack runs in; the naive version gets the same tensor
    problem, codes = _problem(model, x, y, share_prefix=True)
    steps = naive_steps(model)  # the reference derives its steps from the parameters, not weight_image
    assert steps == {n: i.step for n, i in weight_image(model).items()}, "steps differ from the formulas"
    bits = {n: layer.quantizer.bits for n, layer in quantized_layers(model).items()}
    naive_codes = {n: c.clone() for n, c in codes.items()}
    for iteration in range(3):
        step = search_step(problem, codes, k_top=7)
        flips, loss_before, loss_after = naive_bfa_step(model, naive_codes, steps, bits, x, y, k_top=7)
        assert _as_tuples(step.flips) == flips, f"{name}-{method} iteration {iteration}"
        assert step.loss_before == loss_before and step.loss_after == loss_after
        commit(codes, step.flips)
        for layer, index, _, _, after in flips:
            naive_codes[layer].view(-1)[index] = after
        assert all(torch.equal(codes[n], naive_codes[n]) for n in codes)


class _InPlaceNet(nn.Module):
    """A net that modifies module outputs in place (ReLU(inplace) and ``+=``), to test the replay."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.act = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 36, 5)

    def forward(self, x):
        h = self.act(self.bn1(self.conv1(x)))
        out = self.conv2(h)
        out += h
        return self.fc(self.act(out).flatten(1))


def test_replayed_forwards_equal_full_forwards_even_with_in_place_ops() -> None:
    torch.manual_seed(1)
    for model, x in [
        (quantize(_InPlaceNet(), QuantConfig(method="maxabs", bits=4)).eval(), torch.randn(6, 1, 6, 6)),
        (quantize(build_model("resnet20", 10, 3, 8), QuantConfig(method="wcat", bits=4)).eval(),
         torch.randn(3, 3, 8, 8)),
    ]:
        layers = quantized_layers(model)
        codes = {n: i.codes for n, i in weight_image(model).items()}
        replay = PrefixReplay(model, list(layers.values()))
        with torch.no_grad(), run_from_image(model, codes):
            for _ in range(2):  # the first record finds the in-place ops, the second keeps copies
                with replay.recording():
                    reference = model(x).clone()
            assert replay.recorded
            for name, layer in layers.items():
                changed = codes[name].clone()
                changed.view(-1)[0] = -changed.view(-1)[0] - 1
                with run_from_image(model, {name: changed}):
                    full = model(x)
                    with replay.replaying(replay.first_call(layer)):
                        replayed = model(x)
                assert torch.equal(full, replayed), name
            with replay.replaying(10**6):
                assert torch.equal(model(x), reference)


def test_in_place_model_search_matches_naive() -> None:
    torch.manual_seed(2)
    model = quantize(_InPlaceNet(), QuantConfig(method="maxabs", bits=4)).eval()
    x, y = as_model_input(model, torch.randn(10, 1, 6, 6)), torch.randint(0, 5, (10,))
    problem, codes = _problem(model, x, y)
    steps = naive_steps(model)
    bits = {n: layer.quantizer.bits for n, layer in quantized_layers(model).items()}
    for _ in range(3):
        step = search_step(problem, codes, k_top=5)
        flips, _, loss_after = naive_bfa_step(model, codes, steps, bits, x, y, k_top=5)
        assert _as_tuples(step.flips) == flips and step.loss_after == loss_after
        commit(codes, step.flips)


def test_candidates_at_the_grid_edge_widen_k_top_and_the_widening_is_logged() -> None:
    # x = (1, 0), label 0: row 0 has the largest |gradient| (negative) and sits at code -8, the bottom of
    # the grid: no flip lowers it.  k_top = 1 finds nothing; doubling to 2 brings in row 1 (positive
    # gradient, code 2 = 0010): its best harmful flip is bit 2 (0 -> 1, 2 -> 6).
    w = np.array([[-0.8, 0.1], [0.2, -0.3], [-0.1, 0.4]])
    model = _linear_model([w])
    x, y = torch.tensor([[1.0, 0.0]]), torch.tensor([0])
    problem, codes = _problem(model, x, y)
    assert codes["0"].tolist() == [[-8, 1], [2, -3], [-1, 4]]
    logged: list[str] = []
    step = search_step(problem, codes, k_top=1, log=logged.append)
    assert len(logged) == 1 and "widening k_top to 2" in logged[0]
    assert step.widenings == logged and step.k_top == 2
    assert _as_tuples(step.flips) == [("0", 2, 2, 2, 6)]


def test_no_loss_raising_flip_anywhere_is_a_stall_not_a_result() -> None:
    # every weight with a gradient is at the edge that the gradient pushes towards: row 0 at -8 with a
    # negative gradient, rows 1 and 2 at 7 with positive ones; column 1 has no gradient (x_1 = 0).
    w = np.array([[-0.8, 0.1], [0.7, -0.3], [0.7, 0.4]])
    model = _linear_model([w])
    problem, codes = _problem(model, torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
    logged: list[str] = []
    step = search_step(problem, codes, k_top=1, log=logged.append)
    assert step.stalled and step.flips == []
    assert [m.split("widening k_top to ")[1].split(" ")[0] for m in logged] == ["2", "4", "8"]
    assert codes["0"].tolist() == [[-8, 1], [7, -3], [7, 4]]  # untouched


def test_a_widening_cap_stalls_where_the_widening_would_have_found_a_flip() -> None:
    # the grid-edge example above: k_top = 1 finds nothing and k_top = 2 finds the flip; with the cap at 1
    # the search may not widen, so the iteration stalls with the codes untouched
    w = np.array([[-0.8, 0.1], [0.2, -0.3], [-0.1, 0.4]])
    model = _linear_model([w])
    problem, codes = _problem(model, torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
    logged: list[str] = []
    step = search_step(problem, codes, k_top=1, log=logged.append, k_max=1)
    assert step.stalled and step.flips == [] and logged == []
    assert search_step(problem, codes, k_top=1, k_max=2).flips, "a cap of 2 must reach the k_top = 2 flip"
    # a cap between doublings is reached, not jumped: 1 -> 2 -> 3 (not 4) -> stall, in the stall example
    w = np.array([[-0.8, 0.1], [0.7, -0.3], [0.7, 0.4]])
    problem, codes = _problem(_linear_model([w]), torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
    logged = []
    step = search_step(problem, codes, k_top=1, log=logged.append, k_max=3)
    assert step.stalled and step.k_top == 3
    assert [m.split("widening k_top to ")[1].split(" ")[0] for m in logged] == ["2", "3"]


def test_layer_candidates_are_harmful_and_sorted() -> None:
    rng = np.random.default_rng(3)
    codes = torch.from_numpy(rng.integers(-8, 8, size=(6, 5)).astype(np.int16))
    grad = torch.from_numpy(rng.standard_normal((6, 5)).astype(np.float32))
    cands = layer_candidates(codes, grad, 0.05, 4, k=10)
    top = set(np.argsort(-np.abs(grad.numpy().ravel()), kind="stable")[:10].tolist())
    values = [1, 2, 4, -8]
    mags = []
    for index, bit in cands.tolist():
        assert index in top
        g = float(grad.view(-1)[index]) * 0.05 * values[bit]
        state = int(code_bits(codes.view(-1)[index : index + 1], 4)[0, bit])
        assert (state == 0 and g > 0) or (state == 1 and g < 0)
        mags.append(abs(g))
    assert mags == sorted(mags, reverse=True)


def test_shared_candidates_equal_plain_ones_on_resnet18_whose_batch_norm_is_in_place_without_grad() -> None:
    # ResNet-18's batch norm works in place only without autograd, so the gradient forward's record
    # misses those outputs and the next record had to find them as well (it raised KeyError before).
    torch.manual_seed(3)
    model = quantize(build_model("resnet18", 10, 3, 32), QuantConfig(method="maxabs", bits=4)).eval()
    x, y = torch.randn(2, 3, 32, 32), torch.randint(0, 10, (2,))
    shared, codes = _problem(model, x, y, share_prefix=True)
    plain, _ = _problem(model, x, y, share_prefix=False)
    assert shared.loss_and_gradients(codes)[0] == plain.loss_and_gradients(codes)[0]
    for name in list(codes)[::5]:
        changed = codes[name].clone()
        changed.view(-1)[:3] = -changed.view(-1)[:3] - 1
        with shared.candidates(codes):
            a = shared.candidate_loss(name, changed)
        with plain.candidates(codes):
            b = plain.candidate_loss(name, changed)
        assert a == b, name
