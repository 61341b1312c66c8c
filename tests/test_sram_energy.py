"""inference_energy against the naive word-by-word sum; ECC overhead; presets without absolute energy."""

from __future__ import annotations

import numpy as np
import pytest

from sram_models import InputError, MemoryImage, WordLayout, inference_energy, load_technology
from tests.naive import naive_inference_energy


def _image(ecc: str | None, banks: int = 1) -> MemoryImage:
    codes = {
        "w": np.random.default_rng(0).integers(-8, 8, size=1000)
    }  # 63 words of 16 weights (last partial)
    return MemoryImage.pack(codes, WordLayout(bits=4, word_bits=64, ecc=ecc, banks=banks))


@pytest.mark.parametrize("ecc", [None, "secded"])
@pytest.mark.parametrize("banks", [1, 4])
@pytest.mark.parametrize("v", [0.4, 0.55, 0.74, 1.0])
def test_energy_matches_naive_sum(ecc: str | None, banks: int, v: float) -> None:
    tech = load_technology("dpcs45")
    img = _image(ecc, banks)
    rep = inference_energy(img, tech, v)
    check = img.layout.check_bits
    dyn, leak = naive_inference_energy(
        img.n_words, 64, check, tech.read_energy(v), tech.leakage_power(v), 512, 524288, 0.5, banks
    )
    assert rep.dynamic_pj == pytest.approx(dyn, rel=1e-12)
    assert rep.leakage_pj == pytest.approx(leak, rel=1e-12)
    assert rep.total_pj == pytest.approx(dyn + leak, rel=1e-12)
    ref_dyn, ref_leak = naive_inference_energy(
        img.n_words, 64, 0, tech.read_energy(1.0), tech.leakage_power(1.0), 512, 524288, 0.5, banks
    )
    assert rep.total_norm == pytest.approx((dyn + leak) / (ref_dyn + ref_leak), rel=1e-12)
    assert rep.dynamic_norm == pytest.approx(dyn / ref_dyn, rel=1e-12)
    assert rep.inference_time_ns == pytest.approx(img.n_words / banks * 0.5)


def test_ecc_overhead_shows_at_nominal() -> None:
    tech = load_technology("dpcs45")
    plain, ecc = inference_energy(_image(None), tech, 1.0), inference_energy(_image("secded"), tech, 1.0)
    assert plain.total_norm == pytest.approx(1.0) and plain.ecc_overhead == 1.0
    assert ecc.ecc_overhead == pytest.approx(72 / 64) and ecc.total_norm == pytest.approx(72 / 64)
    assert ecc.bits_per_word == 72


def test_reads_per_weight_scales_everything() -> None:
    tech = load_technology("dpcs45")
    one, three = (inference_energy(_image(None), tech, 0.7, reads_per_weight=r) for r in (1, 3))
    assert three.dynamic_pj == pytest.approx(3 * one.dynamic_pj)
    assert three.leakage_pj == pytest.approx(3 * one.leakage_pj)  # three times as long
    assert three.total_norm == pytest.approx(one.total_norm)
    with pytest.raises(InputError, match="reads_per_weight"):
        inference_energy(_image(None), tech, 0.7, reads_per_weight=0)


def test_normalised_only_preset() -> None:
    tech = load_technology("chandramoorthy14")
    rep = inference_energy(_image(None), tech, 0.83)
    assert rep.dynamic_pj is None and rep.leakage_pj is None and rep.total_pj is None
    assert rep.dynamic_norm == pytest.approx(0.83**2)
    assert rep.total_norm == pytest.approx(0.83**2)  # leakage_share_nominal = 0: the papers' dynamic figure
    with pytest.raises(InputError, match="range 0.75..1"):
        inference_energy(_image(None), tech, 0.7)


def test_gaussian_preset_with_absolute_energy() -> None:
    tech = load_technology("generic")
    img = _image(None)
    rep = inference_energy(img, tech, 0.8)
    dyn, leak = naive_inference_energy(img.n_words, 64, 0, 3.259 * 0.64, 157.6 * 0.64, 64, 524288, 0.5, 1)
    assert rep.dynamic_pj == pytest.approx(dyn) and rep.leakage_pj == pytest.approx(leak)
    assert rep.total_norm == pytest.approx(0.64)
