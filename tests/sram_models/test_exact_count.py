"""The exact-count fault model: exactly k distinct weight bits flip, uniformly, seeded."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sram_models import InputError, MemoryImage, WordLayout, make_fault_model
from tests.naive import naive_flip, naive_image_words, naive_unpack


def naive_exact_count(codes: list[int], bits: int, k: int, seed: int) -> list[int]:
    """The twin: draw k distinct bit indices (weight i, bit b -> i*bits + b) and flip them one by one."""
    out = list(codes)
    for p in np.random.default_rng(seed).choice(len(codes) * bits, size=k, replace=False):
        out[int(p) // bits] = naive_flip(out[int(p) // bits], int(p) % bits, bits)
    return out


@pytest.mark.parametrize(("bits", "k"), [(4, 1), (4, 37), (8, 200), (3, 64)])
def test_exactly_k_distinct_bits_flip_as_the_twin_says(bits: int, k: int) -> None:
    codes = np.random.default_rng(bits).integers(-(1 << (bits - 1)), 1 << (bits - 1), size=300)
    layout = WordLayout(bits=bits, word_bits=64)
    image = MemoryImage.pack({"w": codes}, layout)
    result = make_fault_model("exact-count", count=k).corrupt(image, seed=k)
    read = naive_unpack(naive_image_words(result.image.words), bits, 64, codes.size)
    assert read == naive_exact_count([int(c) for c in codes], bits, k, seed=k)
    assert result.bits_changed == result.cells_changed == result.faulty_cells == k
    masks = make_fault_model("exact-count", count=k).flip_masks({"w": codes.size}, {"w": bits}, seed=k)
    assert int(np.bitwise_count(masks["w"]).sum()) == k


def test_same_seed_same_bits_and_a_count_above_the_bits_flips_them_all() -> None:
    image = MemoryImage.pack({"w": np.zeros(16, np.int64)}, WordLayout(bits=4, word_bits=64))
    model = make_fault_model("exact-count", count=9)
    np.testing.assert_array_equal(model.corrupt(image, 5).image.words, model.corrupt(image, 5).image.words)
    assert not np.array_equal(model.corrupt(image, 5).image.words, model.corrupt(image, 6).image.words)
    assert make_fault_model("exact-count", count=1000).corrupt(image, 0).bits_changed == 64
    with pytest.raises(InputError, match="count"):
        make_fault_model("exact-count", count=-1)


def test_flips_are_uniform_over_bit_positions() -> None:
    # 64 weight bits, 8 flips per draw, 4000 draws: each position is hit 500 times on average with
    # SD sqrt(4000 * 1/8 * 7/8) = 20.9; every count must lie within 5 SD of the mean.
    n_bits, k, draws = 64, 8, 4000
    model = make_fault_model("exact-count", count=k)
    hits = np.zeros(n_bits, np.int64)
    for seed in range(draws):
        hits[model.positions(n_bits, seed)] += 1
    mean, sd = draws * k / n_bits, math.sqrt(draws * (k / n_bits) * (1 - k / n_bits))
    worst = int(np.abs(hits - mean).max())
    assert worst <= 5 * sd, f"a position is hit {worst} times away from {mean:g}; bound 5 SD = {5 * sd:.1f}"
