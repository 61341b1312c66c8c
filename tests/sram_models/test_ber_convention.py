"""One bit-error convention: every fault model changes the same expected number of bits at one ber or one
voltage (random data), for both meanings a preset's curve can have; stuck models refuse ber > 0.5."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sram_models import (
    ChipFaultMap,
    InputError,
    MemoryImage,
    Transient,
    WordLayout,
    load_technology,
    make_fault_model,
)
from sram_models.faults import FAULT_MODEL_NAMES

REALISATIONS = 16


@pytest.fixture(scope="module")
def image() -> MemoryImage:
    # 2^20 cells of random data: 262,144 4-bit weights in 16,384 64-bit words (column failures need rows)
    codes = np.random.default_rng(7).integers(-8, 8, size=1 << 18)
    return MemoryImage.pack({"w": codes}, WordLayout(bits=4, word_bits=64, rows=64))


def _changed(model, image: MemoryImage, voltage: float | None = None, seeds=range(REALISATIONS)):
    counts = np.array([model.corrupt(image, seed=s, voltage=voltage).bits_changed for s in seeds], float)
    return counts.mean(), counts.std(ddof=1) / math.sqrt(len(counts))


def _agree(a: tuple[float, float], b: tuple[float, float], what: str) -> None:
    bound = 4 * math.hypot(a[1], b[1])
    message = f"{what}: mean bits changed {a[0]:.1f} vs {b[0]:.1f}, bound 4 SE = {bound:.1f}"
    assert abs(a[0] - b[0]) <= bound, message


@pytest.mark.parametrize("meaning", ["faulty_cell", "bit_error"])
def test_transient_and_chip_change_the_same_bits_at_one_voltage(image: MemoryImage, meaning: str) -> None:
    tech = dataclasses.replace(load_technology("chandramoorthy14"), ber_meaning=meaning)
    v = 0.85  # BER 0.68%: about 7,000 bits changed per realisation of 1,048,576
    transient = _changed(Transient(technology=tech), image, v)
    chip = _changed(ChipFaultMap(technology=tech), image, v)
    _agree(transient, chip, f"transient vs chip ({meaning})")
    expected = image.n_weights * 4 * float(tech.bit_error_rate(v))
    _agree(transient, (expected, math.sqrt(expected / REALISATIONS)), f"transient vs its rate ({meaning})")
    ratio = float(tech.faulty_cell_rate(v)) / float(tech.ber(v))
    assert ratio == (1.0 if meaning == "faulty_cell" else 2.0)


def test_a_faulty_cell_preset_keeps_its_chip_numbers_and_halves_its_transient_ones() -> None:
    tech = load_technology("chandramoorthy14")
    for v in (0.75, 0.83, 1.0):
        assert ChipFaultMap(technology=tech).rate(v) == tech.ber(v)  # the curve is the faulty-cell share
        assert Transient(technology=tech).rate(v) == tech.ber(v) / 2


@pytest.mark.parametrize("name", FAULT_MODEL_NAMES)
def test_every_fault_model_reads_ber_as_the_bit_error_probability(image: MemoryImage, name: str) -> None:
    ber = 4e-3
    model = make_fault_model(name, ber=ber)
    mean, se = _changed(model, image)
    # every weight bit reads wrong with probability ber; msb protects the sign bit (one in four)
    open_bits = image.n_weights * (3 if name == "msb" else 4)
    expected = open_bits * ber
    if name == "column":  # 64-row columns fail whole: counts vary by 64 at a time, so use the sample SE
        _agree((mean, se), (expected, 0.0), "column failures vs ber")
    else:
        _agree((mean, se), (expected, math.sqrt(expected / REALISATIONS)), f"{name} vs ber")


@pytest.mark.parametrize("name", ["chip", "stuck-at", "column", "asymmetric"])
def test_stuck_models_refuse_a_ber_above_one_half(name: str) -> None:
    with pytest.raises(InputError, match=r"ber|p10"):
        make_fault_model(name, ber=0.6)
    make_fault_model(name, ber=0.5)  # every cell faulty: half the bits read wrong


def test_a_bit_error_curve_above_one_half_is_refused() -> None:
    tech = load_technology("generic")
    with pytest.raises(InputError, match="bit_error"):
        dataclasses.replace(tech, ber_meaning="bit_error", mu=0.9, v_low=0.4)  # BER(0.4) > 0.5
    with pytest.raises(InputError, match="ber_meaning"):
        dataclasses.replace(tech, ber_meaning="cells")
