"""Bit maths of the Bit-Flip Attack: two's-complement bit values, bit gradients, flip direction masking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sram_models.errors import InputError
from tests.naive import naive_bit_value, naive_code_to_bits, naive_flip
from wcatsim.experiments.attacks.bits import (
    bit_gradients,
    bit_values,
    code_bits,
    codes_from_bits,
    flip_bit,
    harmful_mask,
    masked_bit_gradients,
)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_sign_bit_is_worth_minus_two_to_the_n_minus_one(bits: int) -> None:
    values = bit_values(bits).tolist()
    assert values[-1] == -(2 ** (bits - 1))
    assert values[:-1] == [2**i for i in range(bits - 1)]
    assert values == [naive_bit_value(i, bits) for i in range(bits)]


def test_four_bit_values_by_hand() -> None:
    assert bit_values(4).tolist() == [1, 2, 4, -8]
    # -8 = 1000, -1 = 1111, 7 = 0111, 5 = 0101, -3 = 1101 (LSB first below)
    codes = torch.tensor([-8, -1, 7, 5, -3, 0], dtype=torch.int16)
    assert code_bits(codes, 4).tolist() == [
        [0, 0, 0, 1], [1, 1, 1, 1], [1, 1, 1, 0], [1, 0, 1, 0], [1, 0, 1, 1], [0, 0, 0, 0],
    ]


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_every_code_round_trips_and_matches_the_naive_bits(bits: int) -> None:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    codes = torch.arange(lo, hi + 1, dtype=torch.int16)
    stored = code_bits(codes, bits)
    assert stored.tolist() == [naive_code_to_bits(c, bits) for c in range(lo, hi + 1)]
    assert torch.equal(codes_from_bits(stored, bits), codes)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_flipping_each_bit_of_each_code_matches_the_naive_flip(bits: int) -> None:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    codes = torch.arange(lo, hi + 1, dtype=torch.int16)
    for bit in range(bits):
        flipped = flip_bit(codes, bit, bits)
        assert flipped.dtype == torch.int16
        assert flipped.tolist() == [naive_flip(c, bit, bits) for c in range(lo, hi + 1)]
        # a flip changes the code by exactly +-value of the bit, the sign depending on the stored bit
        delta = (flipped.to(torch.int64) - codes.to(torch.int64)).tolist()
        stored = code_bits(codes, bits)[:, bit].tolist()
        assert delta == [(1 - 2 * b) * naive_bit_value(bit, bits) for b in stored]


def test_sign_bit_flips_by_hand() -> None:
    c = torch.tensor([0, 7, -8, -1, 5], dtype=torch.int16)
    assert flip_bit(c, 3, 4).tolist() == [-8, -1, 0, 7, -3]
    assert flip_bit(c, 0, 4).tolist() == [1, 6, -7, -2, 4]
    # per-element bit positions
    assert flip_bit(c, torch.tensor([3, 0, 1, 2, 2]), 4).tolist() == [-8, 6, -6, -5, 1]


def test_bit_gradient_is_weight_gradient_times_step_times_bit_value() -> None:
    g = torch.tensor([0.5, -0.25], dtype=torch.float32)
    out = bit_gradients(g, 0.1, 4)
    assert out.dtype == torch.float64
    expected = [[(0.5 * 0.1) * v for v in (1, 2, 4, -8)], [(-0.25 * 0.1) * v for v in (1, 2, 4, -8)]]
    assert out.tolist() == expected  # exact: the same float64 products as Python floats


def test_masking_direction_on_its_own() -> None:
    state = torch.tensor([0, 0, 1, 1, 0, 1])
    grad = torch.tensor([0.3, -0.3, 0.3, -0.3, 0.0, 0.0], dtype=torch.float64)
    # 0 -> 1 raises the loss where the bit gradient is positive, 1 -> 0 where it is negative
    assert harmful_mask(state, grad).tolist() == [True, False, False, True, False, False]


def test_masked_bit_gradients_by_hand() -> None:
    # code 5 = 0101 with a negative weight gradient: lowering the weight raises the loss.  Candidates:
    # bits 0 and 2 (1 -> 0 lowers the code by 1 and 4) and the sign bit (0 -> 1 lowers it by 8).
    g = torch.tensor([-1.0])
    masked = masked_bit_gradients(torch.tensor([5], dtype=torch.int16), g, 0.5, 4)
    assert masked.tolist() == [[-0.5, 0.0, -2.0, 4.0]]
    # code -8 = 1000 with a negative gradient: at the bottom of the grid, no flip lowers it
    edge = masked_bit_gradients(torch.tensor([-8], dtype=torch.int16), g, 0.5, 4)
    assert edge.tolist() == [[0.0, 0.0, 0.0, 0.0]]
    # code 7 = 0111 with a positive gradient: at the top, no flip raises it
    top = masked_bit_gradients(torch.tensor([7], dtype=torch.int16), torch.tensor([1.0]), 0.5, 4)
    assert top.tolist() == [[0.0, 0.0, 0.0, 0.0]]


def test_every_unmasked_flip_moves_the_weight_the_harmful_way() -> None:
    rng = np.random.default_rng(0)
    codes = torch.from_numpy(rng.integers(-8, 8, size=200).astype(np.int16))
    g = torch.from_numpy(rng.standard_normal(200).astype(np.float32))
    masked = masked_bit_gradients(codes, g, 0.1, 4)
    for i in range(200):
        for b in range(4):
            delta = int(flip_bit(codes[i : i + 1], b, 4)[0]) - int(codes[i])
            first_order = float(g[i]) * 0.1 * delta  # loss change to first order
            assert (masked[i, b] != 0) == (first_order > 0), (i, b)


def test_bad_bit_widths_and_codes_are_input_errors() -> None:
    with pytest.raises(InputError):
        bit_values(1)
    with pytest.raises(InputError):
        code_bits(torch.tensor([8], dtype=torch.int16), 4)
    with pytest.raises(InputError):
        flip_bit(torch.tensor([1], dtype=torch.int16), 4, 4)
