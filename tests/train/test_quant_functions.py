"""Plain quantization maths (wcatsim.train.quant.functions, range_init) against the slow references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests import naive
from wcatsim.train.quant.functions import (
    dequantize,
    flip_bits,
    flip_moments,
    from_unsigned,
    grid_bounds,
    quantize_to_grid,
    random_bit_flips,
    to_unsigned,
)
from wcatsim.train.quant.range_init import (
    SAWB_COEFFICIENTS,
    expected_mse,
    initial_range,
    lsq_initial_step,
    minimise_mse_range,
    sawb_range,
)


@pytest.mark.parametrize("bits", range(2, 9))
def test_grid_is_twos_complement(bits: int) -> None:
    assert grid_bounds(bits) == (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_unsigned_round_trip_and_flips_match_reference(bits: int) -> None:
    qmin, qmax = grid_bounds(bits)
    codes = torch.arange(qmin, qmax + 1)
    assert torch.equal(from_unsigned(to_unsigned(codes, bits), bits), codes)
    assert to_unsigned(codes, bits).min() == 0 and to_unsigned(codes, bits).max() == 2**bits - 1
    for mask in range(2**bits):
        got = flip_bits(codes, torch.full_like(codes, mask), bits).tolist()
        want = [naive.naive_twos_complement_read(int(c), mask, bits) for c in codes]
        assert got == want, f"mask {mask:b}"


def test_quantize_to_grid_matches_reference_including_ties() -> None:
    w = torch.tensor([-1.0, -0.51, -0.25, -0.125, 0.0, 0.0625, 0.125, 0.1875, 0.3125, 0.49, 0.5, 0.99])
    for bits in (2, 3, 4):
        step = torch.tensor(0.5 / 2 ** (bits - 1))
        got = quantize_to_grid(torch.clamp(w, -0.5, 0.5), step, bits).tolist()
        assert got == naive.naive_codes(w.tolist(), 0.5, bits)


def test_dequantize_is_codes_times_step_in_float32() -> None:
    # Every 8-bit code times a few float32 steps, against NumPy's IEEE single-precision product (the
    # exact product rounded once to float32), and against hand-computed values for one step.
    codes = torch.arange(-128, 128, dtype=torch.int16)
    for step_value in (0.0123, 1 / 3, 2.0**-7, 7.5e-5):
        step = torch.tensor(step_value, dtype=torch.float32)
        out = dequantize(codes, step)
        assert out.dtype == torch.float32 and out.shape == codes.shape
        want = codes.numpy().astype(np.float32) * np.float32(step_value)
        np.testing.assert_array_equal(out.numpy(), want)
    out = dequantize(torch.tensor([-8, -1, 0, 3, 7], dtype=torch.int16), torch.tensor(0.25))
    assert out.tolist() == [-2.0, -0.25, 0.0, 0.75, 1.75]


@pytest.mark.parametrize("bits,p", [(2, 0.1), (4, 0.01), (4, 0.3), (8, 0.05)])
def test_flip_moments_equal_enumeration(bits: int, p: float) -> None:
    first, second = flip_moments(bits, p)
    qmin, qmax = grid_bounds(bits)
    for i, code in enumerate(range(qmin, qmax + 1)):
        values = []
        probs = []
        for mask in range(2**bits):
            k = bin(mask).count("1")
            probs.append(p**k * (1 - p) ** (bits - k))
            values.append(naive.naive_twos_complement_read(code, mask, bits))
        assert first[i] == pytest.approx(np.dot(probs, values), abs=1e-12)
        assert second[i] == pytest.approx(np.dot(probs, np.square(values)), abs=1e-9)


def test_random_bit_flips_rate_and_grid() -> None:
    bits, p = 4, 0.05
    codes = torch.zeros(50_000, dtype=torch.int16)
    generator = torch.Generator().manual_seed(3)
    read = random_bit_flips(codes, p, bits, generator=generator)
    assert read.dtype == torch.int16
    qmin, qmax = grid_bounds(bits)
    assert int(read.min()) >= qmin and int(read.max()) <= qmax
    flipped_bits = sum(int(((to_unsigned(read, bits) >> b) & 1).sum()) for b in range(bits))
    n = codes.numel() * bits
    rate = flipped_bits / n
    bound = 5 * np.sqrt(p * (1 - p) / n)  # five standard errors
    assert abs(rate - p) < bound, f"flip rate {rate} vs {p} (bound {bound})"
    assert torch.equal(random_bit_flips(codes, 0.0, bits), codes)


@pytest.mark.parametrize("p", [0.0, 0.01, 0.1])
def test_expected_mse_matches_enumeration(p: float) -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.1, 40)
    for bits in (2, 4):
        got = expected_mse(w, 0.2, bits, p)
        want = naive.naive_expected_noisy_mse(w.tolist(), 0.2, bits, p)
        assert got == pytest.approx(want, rel=1e-9)


def test_sawb_formula_and_coefficients() -> None:
    # Choi et al. 2018 fit as (z1, z2): c1 = 1/z1, c2 = z2/z1; 4 bits: z = (0.077, 1.013)
    assert SAWB_COEFFICIENTS[4] == pytest.approx((1 / 0.077, 1.013 / 0.077))
    torch.manual_seed(0)
    w = torch.randn(5000) * 0.05
    c1, c2 = SAWB_COEFFICIENTS[4]
    x = w.double()
    want = c1 * float(x.pow(2).mean().sqrt()) - c2 * float(x.abs().mean())
    assert sawb_range(w, 4) == pytest.approx(want, rel=1e-9)
    assert 0 < sawb_range(w, 4) < float(w.abs().max())
    # a distribution for which the fit goes negative falls back to max|w|
    flat = torch.tensor([1.0, -1.0] * 50)
    assert sawb_range(flat, 4) == 1.0


def test_mse_range_minimises_the_mse() -> None:
    torch.manual_seed(1)
    w = torch.randn(4000) * 0.1
    x = w.double().numpy()
    for bits in (2, 4):
        alpha = minimise_mse_range(w, bits)
        best = expected_mse(x, alpha, bits)
        top = float(w.abs().max())
        assert 0 < alpha <= top
        for other in np.linspace(0.01 * top, top, 200):
            assert best <= expected_mse(x, other, bits) + 1e-12, f"alpha {other} beats {alpha}"


def test_noisy_mse_range_shrinks_with_the_flip_rate() -> None:
    # a flipped high-order bit costs ~range^2, so a noisier memory wants a smaller range
    torch.manual_seed(2)
    w = torch.randn(4000) * 0.1
    clean = initial_range(w, "mse", 4)
    noisy = initial_range(w, "noisy_mse", 4, ber=0.02)
    assert noisy < clean
    assert initial_range(w, "noisy_mse", 4, ber=0.0) == pytest.approx(clean, rel=1e-6)


def test_lsq_initial_step() -> None:
    w = torch.tensor([0.1, -0.3, 0.2, -0.2])
    assert lsq_initial_step(w, 4) == pytest.approx(2 * 0.2 / np.sqrt(7))
