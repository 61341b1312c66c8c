"""The energy model against a naive word-by-word sum: organisation, clock that follows the access time,
leakage over the inference time, ECC overhead, several voltage domains, presets without absolute energy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sram_models import InputError, MemoryImage, WordLayout, inference_energy, load_technology
from sram_models.energy import MemoryOrganisation, memory_energy
from tests.naive import naive_access_time, naive_bank_cycles, naive_inference_energy


def _image(n_weights: int = 1000, ecc: str | None = None, rows: int = 512, seed: int = 0) -> MemoryImage:
    codes = {"w": np.random.default_rng(seed).integers(-8, 8, size=n_weights)}  # 16 weights per 64-bit word
    return MemoryImage.pack(codes, WordLayout(bits=4, word_bits=64, ecc=ecc, rows=rows))


def _access(tech, v: float) -> float:
    return naive_access_time(v, tech.v_nominal, tech.delay_vth, tech.delay_n, tech.cell_voltage_share,
                             tech.cycle_time_ns)  # fmt: skip


def test_bank_cycles_match_the_naive_placement() -> None:
    from sram_models.energy import Footprint

    for n_words in (1, 7, 8, 9, 16, 17, 40, 63, 64, 65, 200):
        for banks in (1, 2, 3, 4, 32):
            fp = Footprint(n_words, 64, 8, 1)
            assert fp.read_cycles(banks) == naive_bank_cycles(n_words, 8, banks), (n_words, banks)
            assert fp.cells == -(-n_words // 8) * 8 * 64  # whole arrays: padding rows leak


@pytest.mark.parametrize("ecc", [None, "secded"])
@pytest.mark.parametrize("banks", [1, 4, 32])
@pytest.mark.parametrize("v", [0.4, 0.55, 0.74, 1.0])
def test_energy_matches_naive_sum(ecc: str | None, banks: int, v: float) -> None:
    tech = load_technology("dpcs45")
    img = _image(40_000, ecc, rows=64)  # 2500 words: 40 arrays of 64 rows
    rep = inference_energy(img, tech, v, organisation=MemoryOrganisation(banks=banks))
    bits = 64 + img.layout.check_bits
    dyn, leak, t = naive_inference_energy(
        [(img.n_words, bits, tech.read_energy(v), tech.leakage_power(v), _access(tech, v))],
        64, banks, 512, 524288,
    )
    assert rep.dynamic_pj == pytest.approx(dyn, rel=1e-12)
    assert rep.leakage_pj == pytest.approx(leak, rel=1e-12)
    assert rep.total_pj == pytest.approx(dyn + leak, rel=1e-12)
    assert rep.inference_time_ns == pytest.approx(t, rel=1e-12) and rep.read_time_ns == rep.inference_time_ns
    assert rep.access_time_ns == pytest.approx(_access(tech, v), rel=1e-12)
    assert rep.leakage_share == pytest.approx(leak / (dyn + leak), rel=1e-12)
    ref = naive_inference_energy(
        [(img.n_words, 64, tech.read_energy(1.0), tech.leakage_power(1.0), tech.cycle_time_ns)],
        64, banks, 512, 524288,
    )
    assert rep.total_norm == pytest.approx((dyn + leak) / (ref[0] + ref[1]), rel=1e-12)
    assert rep.dynamic_norm + rep.leakage_norm == pytest.approx(rep.total_norm, rel=1e-12)


def test_ecc_overhead_shows_at_nominal() -> None:
    tech = load_technology("dpcs45")
    plain, ecc = inference_energy(_image(), tech, 1.0), inference_energy(_image(ecc="secded"), tech, 1.0)
    assert plain.total_norm == pytest.approx(1.0) and plain.ecc_overhead == 1.0
    assert ecc.ecc_overhead == pytest.approx(72 / 64) and ecc.total_norm == pytest.approx(72 / 64)
    assert ecc.bits_per_word == 72


def test_reads_per_weight_scales_everything() -> None:
    tech = load_technology("dpcs45")
    one, three = (inference_energy(_image(), tech, 0.7, reads_per_weight=r) for r in (1, 3))
    assert three.dynamic_pj == pytest.approx(3 * one.dynamic_pj)
    assert three.leakage_pj == pytest.approx(3 * one.leakage_pj)  # three times as long
    assert three.total_norm == pytest.approx(one.total_norm)
    with pytest.raises(InputError, match="reads_per_weight"):
        inference_energy(_image(), tech, 0.7, reads_per_weight=0)


def test_the_clock_follows_the_access_time_and_energy_need_not_fall_with_the_voltage() -> None:
    tech = load_technology("dpcs45")
    img = _image(20_000)
    reports = {v: inference_energy(img, tech, v) for v in (1.0, 0.8, 0.6, 0.4)}
    times = [reports[v].inference_time_ns for v in (1.0, 0.8, 0.6, 0.4)]
    assert times == sorted(times) and times[-1] > 50 * times[0], times  # EKV: ~75x slower at 0.4 V
    norms = {v: r.total_norm for v, r in reports.items()}
    assert norms[0.8] < 1.0 < norms[0.6] < norms[0.4], f"leakage over the slow clock wins at 0.6 V: {norms}"
    # the delay model is finite through threshold (0.469 V), unlike the alpha-power law
    v = np.linspace(0.4, 1.0, 121)
    t = np.asarray(tech.access_time_norm(v))
    assert np.all(np.isfinite(t)) and np.all(np.diff(t) < 0)


def test_a_given_inference_time_sets_the_leakage_time_but_never_below_the_reads() -> None:
    tech = load_technology("dpcs45")
    img = _image(20_000)
    reads = inference_energy(img, tech, 0.7)
    slow = inference_energy(img, tech, 0.7, organisation=MemoryOrganisation(inference_time_ns=1e5))
    assert slow.inference_time_ns == 1e5 and slow.dynamic_pj == pytest.approx(reads.dynamic_pj)
    assert slow.leakage_pj == pytest.approx(reads.leakage_pj * 1e5 / reads.inference_time_ns)
    fast = inference_energy(img, tech, 0.7, organisation=MemoryOrganisation(inference_time_ns=1e-3))
    assert fast.inference_time_ns == reads.inference_time_ns, "the inference cannot end before its reads"
    for bad in (0, -1, float("nan"), "x"):
        with pytest.raises(InputError, match="`memory.inference_time_ns` must be a positive number"):
            MemoryOrganisation(inference_time_ns=bad)
    with pytest.raises(InputError, match="banks"):
        MemoryOrganisation(banks=0)
    with pytest.raises(InputError, match="absolute timing"):
        inference_energy(img, load_technology("chandramoorthy14"), 0.9,
                         organisation=MemoryOrganisation(inference_time_ns=100.0))  # fmt: skip


def test_domains_sum_at_their_own_voltages_and_padding_leaks() -> None:
    tech = load_technology("dpcs45")
    # 513 and 69 words fill 9 and 2 arrays of 64 rows; the 582 words together fill 10
    a, b = _image(8_200, rows=64, seed=1), _image(1_100, rows=64, seed=2)
    whole = _image(9_300, rows=64, seed=3)
    rep = memory_energy([(a, 0.6), (b, 0.9)], tech, MemoryOrganisation(banks=4), reference=whole)
    dyn, leak, t = naive_inference_energy(
        [(a.n_words, 64, tech.read_energy(0.6), tech.leakage_power(0.6), _access(tech, 0.6)),
         (b.n_words, 64, tech.read_energy(0.9), tech.leakage_power(0.9), _access(tech, 0.9))],
        64, 4, 512, 524288,
    )  # fmt: skip
    assert rep.dynamic_pj == pytest.approx(dyn, rel=1e-12)
    assert rep.leakage_pj == pytest.approx(leak, rel=1e-12)
    assert rep.inference_time_ns == pytest.approx(t, rel=1e-12) and rep.voltage is None
    assert [d.voltage for d in rep.domains] == [0.6, 0.9]
    assert sum(d.dynamic for d in rep.domains) == pytest.approx(rep.dynamic)
    ref = inference_energy(whole, tech, 1.0, organisation=MemoryOrganisation(banks=4))
    assert rep.total_norm == pytest.approx((dyn + leak) / ref.total_pj, rel=1e-12)
    # one domain at nominal is the reference itself; split in two at nominal it costs more (padding)
    same = memory_energy([(whole, 1.0)], tech, MemoryOrganisation(banks=4), reference=whole)
    assert same.total_norm == pytest.approx(1.0)
    split = memory_energy([(a, 1.0), (b, 1.0)], tech, MemoryOrganisation(banks=4), reference=whole)
    assert split.cells == same.cells + 64 * 64 and split.total_norm > 1.0


def test_relative_presets_add_in_their_own_units() -> None:
    tech = load_technology("chandramoorthy14")
    rep = inference_energy(_image(), tech, 0.83)
    assert rep.dynamic_pj is None and rep.leakage_pj is None and rep.total_pj is None
    assert rep.inference_time_ns is None and rep.unit == "relative"
    assert rep.dynamic_norm == pytest.approx(0.83**2) and rep.leakage_share == 0.0
    assert rep.total_norm == pytest.approx(0.83**2)  # no leakage weight: the papers' dynamic figure
    with pytest.raises(InputError, match="range 0.75..1"):
        inference_energy(_image(), tech, 0.7)
    # with a leakage weight the units still add: two domains = the sum of their parts
    leaky = dataclasses.replace(tech, leakage_share_nominal=0.3)
    one = _image(512 * 16)  # exactly one full 512-row array
    alone = inference_energy(one, leaky, 1.0, organisation=MemoryOrganisation(banks=1))
    assert alone.leakage_share == pytest.approx(0.3), "the share is defined on one full array, one bank"
    a, b = _image(4_000, seed=1), _image(6_000, seed=2)
    both = memory_energy([(a, 0.8), (b, 0.9)], leaky)
    ta = sum(d.cycles * d.access_time for d in both.domains)  # the reads, one domain after the other
    for d, img, v in zip(both.domains, (a, b), (0.8, 0.9), strict=True):
        assert d.dynamic == pytest.approx(img.n_words * 64 * float(leaky.read_energy_norm(v)))
        per_cell = 0.3 / (0.7 * 512) * float(leaky.leakage_norm(v))
        assert d.leakage == pytest.approx(d.cells * per_cell * ta)
    assert both.total == pytest.approx(sum(d.dynamic + d.leakage for d in both.domains))
    # a cycle_time_ns on a relative preset labels times only: the energies stay in nominal access times
    labelled = inference_energy(one, dataclasses.replace(leaky, cycle_time_ns=0.5), 1.0,
                                organisation=MemoryOrganisation(banks=1))  # fmt: skip
    assert labelled.leakage_share == pytest.approx(0.3)
    assert labelled.total_norm == pytest.approx(alone.total_norm)


def test_gaussian_preset_with_absolute_energy() -> None:
    tech = load_technology("generic")
    img = _image()
    rep = inference_energy(img, tech, 0.8)
    dyn, leak, _ = naive_inference_energy(
        [(img.n_words, 64, 3.259 * 0.64, 157.6 * 0.64, _access(tech, 0.8))], 512, 32, 64, 524288
    )
    assert rep.dynamic_pj == pytest.approx(dyn) and rep.leakage_pj == pytest.approx(leak)


def test_dpcs45_full_array_leakage_is_the_gated_column_divided_out() -> None:
    # DPCS's static power is a cache with faulty 512-bit blocks gated: P = F + P_data (1 - BlkER),
    # F = 20.71584 mW, BlkER = 1 - (1 - p_cell)^512.  The preset's full-array column undoes it.
    tech = load_technology("dpcs45")
    for v in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5):
        blk = 1 - (1 - float(tech.ber(v))) ** 512
        full = 20.71584 + (float(tech.source_leakage_power(v)) - 20.71584) / (1 - blk)
        assert float(tech.leakage_power(v)) == pytest.approx(full, rel=3e-3), v  # the rows' 4 digits
    assert tech.leakage_power(0.4) == pytest.approx(39.08) and tech.source_leakage_power(0.4) == 20.7
    untimed = dataclasses.replace(tech, delay_vth=None, delay_n=None)
    with pytest.raises(InputError, match="delay model"):
        inference_energy(_image(), untimed, 0.8)
    # without a delay model a given inference time is the leakage time, and the report says which
    one_us = MemoryOrganisation(inference_time_ns=1000.0)
    given = inference_energy(_image(), untimed, 0.8, organisation=one_us)
    assert given.inference_time_ns == 1000.0
