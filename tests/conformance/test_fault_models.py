"""Every registered fault model, by name from ``FAULT_MODELS``: a new model is tested the moment it
registers.  What a model declares (``weight_bit_error_rates``, ``nested``) is what is checked."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from sram_models import FAULT_MODELS, MemoryImage, WordLayout, load_technology, make_fault_model
from tests.sram_models.test_ber_convention import REALISATIONS, _agree, _changed

NAMES = FAULT_MODELS.names()
BER = 4e-3


@pytest.fixture(scope="module")
def image() -> MemoryImage:
    # 2^20 cells of random data (stored bits 0/1 equally often); 64-row arrays so columns vary
    codes = np.random.default_rng(7).integers(-8, 8, size=1 << 18)
    return MemoryImage.pack({"w": codes}, WordLayout(bits=4, word_bits=64, rows=64))


@pytest.fixture(scope="module")
def small() -> MemoryImage:
    codes = np.random.default_rng(3).integers(-128, 128, size=4096)
    return MemoryImage.pack({"a": codes[:1000], "b": codes[1000:]}, WordLayout(bits=8, word_bits=64))


def test_the_registry_lists_the_built_in_models() -> None:
    assert {"transient", "chip", "stuck-at", "asymmetric", "msb", "column"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_faults_and_the_input_is_untouched(small: MemoryImage, name: str) -> None:
    model = make_fault_model(name, ber=0.02)
    before = small.words.copy()
    a, b = model.corrupt(small, seed=11), model.corrupt(small, seed=11)
    other = model.corrupt(small, seed=12)
    np.testing.assert_array_equal(small.words, before)
    np.testing.assert_array_equal(a.image.words, b.image.words)
    counts = ("bits_changed", "faulty_cells", "cells_changed")
    assert [getattr(a, c) for c in counts] == [getattr(b, c) for c in counts]
    assert not np.array_equal(a.image.words, other.image.words), f"{name}: seeds 11, 12 drew the same faults"
    assert a.cells_changed == int(np.bitwise_count(a.image.words ^ before).sum())


@pytest.mark.parametrize("name", NAMES)
def test_measured_bit_errors_match_the_declared_rates(image: MemoryImage, name: str) -> None:
    model = make_fault_model(name, ber=BER)
    expected = image.n_weights * float(model.weight_bit_error_rates(image.layout.bits).sum())
    mean, se = _changed(model, image)
    # Poisson SE of the expected count beside the sample SE (whole-column models vary in lumps)
    _agree((mean, se), (expected, math.sqrt(expected / REALISATIONS)), f"{name} vs its declared rates")


@pytest.mark.parametrize("name", [n for n in NAMES if FAULT_MODELS.get(n).nested])
def test_nested_models_nest_across_voltage(small: MemoryImage, name: str) -> None:
    model = make_fault_model(name, technology=load_technology("chandramoorthy14"))
    changed = [model.corrupt(small, seed=5, voltage=v).image.words ^ small.words for v in (0.95, 0.85, 0.78)]
    for high, low in zip(changed, changed[1:], strict=False):
        assert np.array_equal(high & low, high), f"{name}: a cell wrong at the higher voltage is right lower"
    assert int(np.bitwise_count(changed[-1]).sum()) > int(np.bitwise_count(changed[0]).sum())


@pytest.mark.parametrize("name", NAMES)
def test_a_pickled_model_draws_the_same_faults(small: MemoryImage, name: str) -> None:
    model = make_fault_model(name, ber=0.02)
    copy = pickle.loads(pickle.dumps(model))
    again = copy.corrupt(small, seed=4).image.words
    np.testing.assert_array_equal(again, model.corrupt(small, seed=4).image.words)
