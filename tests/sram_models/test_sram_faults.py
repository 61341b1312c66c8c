"""Fault models against tests/naive.py: exact where integer, in distribution (5-sigma binomial bounds)
where random.  Seeds are fixed, so every test is deterministic; the bounds say what a correct sampler
must satisfy, and the messages print them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sram_models import (
    FAULT_MODEL_NAMES,
    AsymmetricTransient,
    BitPositionTransient,
    ChipFaultMap,
    ColumnFailures,
    InputError,
    MemoryImage,
    StuckAt,
    Transient,
    WordLayout,
    load_technology,
    make_fault_model,
)
from tests.naive import naive_chip_faulty, naive_image_words, naive_transient, naive_unpack

Z = 5.0  # 5 sigma: a correct sampler fails a bound with probability < 1e-6


def assert_binomial(k: int, n: int, p: float, what: str) -> None:
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    lo, hi = mean - Z * sd - 1, mean + Z * sd + 1
    assert lo <= k <= hi, f"{what}: {k} outside the binomial bound [{lo:.1f}, {hi:.1f}] (n={n}, p={p:g})"


def changed_cells(clean: MemoryImage, faulty: MemoryImage) -> np.ndarray:
    """Indices (word * phys_bits + bit) of cells whose value differs, computed bit by bit."""
    diff = clean.words ^ faulty.words
    out = []
    for w, b in zip(*np.nonzero(diff), strict=True):
        x = int(diff[w, b])
        while x:
            low = x & -x
            out.append(int(w) * clean.layout.phys_bits + 64 * int(b) + low.bit_length() - 1)
            x ^= low
    return np.sort(np.array(out, dtype=np.int64))


@pytest.fixture(scope="module")
def image() -> MemoryImage:
    rng = np.random.default_rng(0)
    # 200,000 4-bit weights = 12,500 words = 800,000 cells
    codes = {"conv": rng.integers(-8, 8, size=(500, 100)), "fc": rng.integers(-8, 8, size=150_000)}
    return MemoryImage.pack(codes, WordLayout(bits=4, word_bits=64))


@pytest.fixture(scope="module")
def chandra():
    return load_technology("chandramoorthy14")


# ---------------------------------------------------------------- transient


@pytest.mark.parametrize("ber", [1e-4, 1e-2, 0.3])
def test_transient_flip_count_and_positions(image: MemoryImage, ber: float) -> None:
    total = 0
    for seed in range(4):
        result = Transient(ber).corrupt(image, seed=seed)
        cells = changed_cells(image, result.image)
        assert result.faulty_cells == result.cells_changed == cells.size  # every flip changes its cell
        assert result.bits_changed == cells.size  # no padding in this image: every cell is a weight bit
        # the codes are exactly the naive unpack of the corrupted words
        flat = naive_unpack(naive_image_words(result.image.words), 4, 64, image.n_weights)
        assert np.concatenate([c.ravel() for c in result.codes.values()]).tolist() == flat
        total += cells.size
    assert_binomial(total, 4 * image.n_bits, ber, f"flips at ber={ber}")
    naive = sum(naive_transient(image.n_bits, ber, np.random.default_rng(s)).size for s in range(4))
    assert_binomial(naive, 4 * image.n_bits, ber, "the naive reference itself")


def test_transient_hits_every_bit_position_at_its_rate(image: MemoryImage) -> None:
    ber, per_bit = 2e-3, np.zeros(64, np.int64)
    for seed in range(10):
        cells = changed_cells(image, Transient(ber).corrupt(image, seed=seed).image)
        per_bit += np.bincount(cells % 64, minlength=64)
    for b in range(64):
        assert_binomial(int(per_bit[b]), 10 * image.n_words, ber, f"bit {b} of the word")
    # and uniformly along the memory: each tenth of the words
    cells = changed_cells(image, Transient(0.05).corrupt(image, seed=99).image)
    tenths = np.bincount(cells * 10 // image.n_bits, minlength=10)
    for t in range(10):
        assert_binomial(int(tenths[t]), image.n_bits // 10, 0.05, f"tenth {t} of the memory")


def test_transient_edges_and_determinism(image: MemoryImage) -> None:
    clean_words, clean_codes = image.words.copy(), image.unpack()
    assert Transient(0.0).corrupt(image, seed=1).faulty_cells == 0
    everything = Transient(1.0).corrupt(image, seed=1)
    assert everything.faulty_cells == image.n_bits
    np.testing.assert_array_equal(everything.codes["fc"], ~image.unpack()["fc"])  # all bits flipped
    a, b = Transient(1e-3).corrupt(image, seed=5), Transient(1e-3).corrupt(image, seed=5)
    np.testing.assert_array_equal(a.image.words, b.image.words)
    c = Transient(1e-3).corrupt(image, seed=6)
    assert not np.array_equal(a.image.words, c.image.words)
    # the clean image is untouched by every corrupt() above, and a copy is identical to it
    np.testing.assert_array_equal(image.words, clean_words)
    for name, codes in clean_codes.items():
        np.testing.assert_array_equal(image.unpack()[name], codes)
    assert changed_cells(image, image.copy()).size == 0


def test_padding_cells_flip_but_change_no_weight() -> None:
    # 3-bit weights in 64-bit words: 21 per word, bit 63 holds no weight
    codes = np.zeros(21 * 1000, int)
    img = MemoryImage.pack({"w": codes}, WordLayout(bits=3, word_bits=64))
    result = Transient(0.05).corrupt(img, seed=3)
    cells = changed_cells(img, result.image)
    weight_cells = cells[cells % 64 < 63]
    assert result.cells_changed == cells.size and result.bits_changed == weight_cells.size < cells.size


# ---------------------------------------------------------------- stuck-at, asymmetric, bit position


def test_stuck_at_faulty_cells_and_changed_bits_are_kept_apart(image: MemoryImage) -> None:
    ber, faulty, changed = 0.01, 0, 0
    for seed in range(4):
        r = StuckAt(ber).corrupt(image, seed=seed)
        assert r.cells_changed == changed_cells(image, r.image).size == r.bits_changed
        faulty += r.faulty_cells
        changed += r.cells_changed
    # ber is the probability that a bit reads wrong: 2 x ber of the cells are stuck
    assert_binomial(faulty, 4 * image.n_bits, 2 * ber, "stuck-at faulty cells")
    assert_binomial(changed, faulty, 0.5, "stuck cells whose stored bit differs (random data)")
    only_one = StuckAt(0.05, stuck_at_one=1.0).corrupt(image, seed=1)
    cells = changed_cells(image, only_one.image)
    w, b = cells // 64, cells % 64
    assert np.all((image.words[w, 0] >> b.astype(np.uint64)) & np.uint64(1) == 0), (
        "stuck at 1 only raises bits"
    )


def test_asymmetric_flips_only_ones_at_p10(image: MemoryImage) -> None:
    ones = sum(bin(x).count("1") for x in naive_image_words(image.words))
    r = AsymmetricTransient(p01=0.0, p10=0.02).corrupt(image, seed=2)
    cells = changed_cells(image, r.image)
    stored = (image.words[cells // 64, 0] >> (cells % 64).astype(np.uint64)) & np.uint64(1)
    assert np.all(stored == 1), "a 0 -> 1 flip with p01 = 0"
    assert_binomial(cells.size, ones, 0.02, "1 -> 0 flips")
    # ber = 0.02 is the mean (p10 + p01) / 2 with p01 = 0.5 p10: p10 = 0.04 / 1.5, p01 = 0.02 / 1.5
    r2 = make_fault_model("asymmetric", ber=0.02, p01_share=0.5).corrupt(image, seed=3)
    cells = changed_cells(image, r2.image)
    stored = (image.words[cells // 64, 0] >> (cells % 64).astype(np.uint64)) & np.uint64(1)
    assert_binomial(int((stored == 0).sum()), image.n_bits - ones, 0.02 / 1.5, "0 -> 1 flips at p01")
    assert_binomial(int((stored == 1).sum()), ones, 0.04 / 1.5, "1 -> 0 flips at p10")


def test_bit_position_rates_each_hit_at_its_rate(image: MemoryImage) -> None:
    rates = (1e-3, 4e-3, 1.6e-2, 0.0)
    counts = np.zeros(4, np.int64)
    for seed in range(3):
        cells = changed_cells(image, BitPositionTransient(rates=rates).corrupt(image, seed=seed).image)
        counts += np.bincount(cells % 64 % 4, minlength=4)
    for j, p in enumerate(rates):
        assert_binomial(int(counts[j]), 3 * image.n_weights, p, f"weight bit {j}")
    assert counts[3] == 0
    msb = make_fault_model("msb", ber=0.01).corrupt(image, seed=4)  # sign bit protected by default
    cells = changed_cells(image, msb.image)
    assert cells.size > 0 and np.all(cells % 4 != 3)
    with pytest.raises(InputError, match="one rate per bit"):
        BitPositionTransient(rates=(0.1, 0.1)).corrupt(image, seed=0)


# ---------------------------------------------------------------- protect_msb


@pytest.mark.parametrize("fraction", [1.0, 0.5, 0.3])
@pytest.mark.parametrize("name", ["transient", "stuck-at", "chip"])
def test_protect_msb_spares_exactly_the_chosen_sign_bits(
    image: MemoryImage, name: str, fraction: float
) -> None:
    model = make_fault_model(name, ber=0.2, protect_msb=fraction)
    cells = changed_cells(image, model.corrupt(image, seed=8).image)
    sign = cells[cells % 4 == 3]
    weight = (sign // 64) * 16 + (sign % 64) // 4
    protected = np.floor((weight + 1) * fraction) > np.floor(weight * fraction)
    assert not protected.any(), f"a protected sign bit changed ({name}, fraction {fraction})"
    i = np.arange(image.n_weights)
    n_open = int((~(np.floor((i + 1) * fraction) > np.floor(i * fraction))).sum())
    assert n_open == round(image.n_weights * (1 - fraction))
    rate = 0.2  # the convention: ber is the probability that a bit reads wrong, in every model
    assert_binomial(sign.size, n_open, rate, f"unprotected sign bits changed ({name})")


# ---------------------------------------------------------------- chip fault maps


def test_chip_faults_nest_on_every_voltage_pair(image: MemoryImage, chandra) -> None:
    chip = ChipFaultMap(chandra)
    voltages = np.round(np.arange(0.75, 1.0001, 0.01), 2)
    sets = {v: set(chip.faulty_positions(image, seed=3, voltage=v).tolist()) for v in voltages}
    results = {v: chip.corrupt(image, seed=3, voltage=v) for v in voltages[::5]}
    for lo in voltages:
        for hi in voltages:
            if lo < hi:
                assert sets[hi] <= sets[lo], f"faults at {hi} not inside those at {lo}"
    # a stuck cell reads the same value at every voltage where it is faulty
    for lo in results:
        for hi in results:
            if lo < hi:
                cells = np.array(sorted(sets[hi]), dtype=np.int64)
                if cells.size:
                    w, b = cells // 64, (cells % 64).astype(np.uint64)
                    a = (results[lo].image.words[w, 0] >> b) & np.uint64(1)
                    c = (results[hi].image.words[w, 0] >> b) & np.uint64(1)
                    np.testing.assert_array_equal(a, c)


def test_chip_rate_split_and_cache(image: MemoryImage, chandra) -> None:
    chip = ChipFaultMap(chandra, stuck_at_one=0.2)
    for v in (0.8, 0.85, 0.9):
        p = chandra.ber(v)
        faulty = sum(chip.corrupt(image, seed=s, voltage=v).faulty_cells for s in range(5))
        assert_binomial(faulty, 5 * image.n_bits, p, f"faulty cells at {v}")
        naive = sum(naive_chip_faulty(image.n_bits, p, np.random.default_rng(s)).size for s in range(5))
        assert_binomial(naive, 5 * image.n_bits, p, "naive chip reference")
    positions, draws, values = chip.draws(0, image.n_bits)
    assert np.all(np.diff(draws) >= 0)
    assert_binomial(int(values.sum()), values.size, 0.2, "cells stuck at one")
    assert chip.draws(0, image.n_bits)[0] is positions, "a second voltage must not redraw the chip"
    r = chip.corrupt(image, seed=0, voltage=0.8)
    assert r.cells_changed == changed_cells(image, r.image).size <= r.faulty_cells
    # more cells: the same chip's first cells see the same faults
    big = ChipFaultMap(chandra, stuck_at_one=0.2).draws(0, 2 * image.n_bits)[0]
    assert set(big[big < image.n_bits].tolist()) == set(positions.tolist())
    other = chip.faulty_positions(image, seed=1, voltage=0.8)
    assert set(other.tolist()) != set(chip.faulty_positions(image, seed=0, voltage=0.8).tolist())


def test_chip_needs_voltage_in_range(image: MemoryImage, chandra) -> None:
    chip = ChipFaultMap(chandra)
    with pytest.raises(InputError, match="pass voltage="):
        chip.corrupt(image, seed=0)
    with pytest.raises(InputError, match=r"outside chandramoorthy14's range 0\.75\.\.1"):
        chip.corrupt(image, seed=0, voltage=0.6)


# ---------------------------------------------------------------- column failures


def test_column_failures_take_whole_columns() -> None:
    # 1024 words of zeros in 8-row arrays, 2 words per row: 64 arrays x 32 columns of 8 cells
    lay = WordLayout(bits=4, word_bits=16, rows=8, interleave=2)
    img = MemoryImage.pack({"w": np.zeros(4 * 1024, int)}, lay)
    rate = 0.05
    r = ColumnFailures(rate, stuck_at_one=1.0).corrupt(img, seed=4)  # every faulty cell now reads 1
    loc = img.physical_location(changed_cells(img, r.image))
    assert r.cells_changed == r.faulty_cells == loc["word"].size > 0
    groups: dict[tuple[int, int], int] = {}
    for a, c in zip(loc["array"].tolist(), loc["column"].tolist(), strict=True):
        groups[(a, c)] = groups.get((a, c), 0) + 1
    assert set(groups.values()) == {8}, "a failed column has all 8 of its cells faulty, other columns none"
    assert_binomial(len(groups), 64 * 32, rate, "failed columns")
    # interleaving: a column holds one bit of every other word, so no word sees two column faults
    # from one column, and SECDED corrects a single failed column per array
    ecc_img = MemoryImage.pack({"w": np.zeros(4 * 1024, int)}, WordLayout(4, 16, ecc="secded", rows=8))
    single = ColumnFailures(0.01, stuck_at_one=1.0).corrupt(ecc_img, seed=1)
    loc = ecc_img.physical_location(changed_cells(ecc_img, single.image))
    columns_per_array = {
        a: len(set(loc["column"][loc["array"] == a].tolist())) for a in set(loc["array"].tolist())
    }
    one = [a for a, n in columns_per_array.items() if n == 1]
    assert one, "seed 1 gives arrays with one failed column"
    assert single.ecc_corrected == 8 * len(one) and single.ecc_detected == 8 * (
        len(columns_per_array) - len(one)
    )


# ---------------------------------------------------------------- the registry


def test_registry_builds_every_model(image: MemoryImage, chandra) -> None:
    clean = image.unpack()

    def check(result, what: str) -> None:
        # the reported counts agree with the image the model returns, cell by cell and bit by bit
        assert set(result.codes) == {"conv", "fc"}, what
        cells = changed_cells(image, result.image).size
        bits = sum(
            int(np.bitwise_count((clean[n].astype(np.int64) ^ result.codes[n].astype(np.int64)) & 0xF).sum())
            for n in clean
        )
        assert result.cells_changed == cells and result.bits_changed == bits, what
        assert 0 < result.cells_changed <= result.faulty_cells, f"{what}: no fault in 800,000 cells"

    for name in FAULT_MODEL_NAMES:
        check(make_fault_model(name, ber=1e-2).corrupt(image, seed=1), f"{name} at ber 1e-2")
        # chandramoorthy14 at 0.8 x Vmin: BER ~5e-3, thousands of faulty cells in this image
        model = make_fault_model(name, technology=chandra)
        check(model.corrupt(image, seed=1, voltage=0.8), f"{name} from the technology at 0.8")
    with pytest.raises(InputError, match="transient, chip, stuck-at, asymmetric, msb, column"):
        make_fault_model("bitrot", ber=0.1)
    with pytest.raises(InputError, match="has no option 'colour'"):
        make_fault_model("transient", ber=0.1, colour="red")
    with pytest.raises(InputError, match=r"outside \[0, 1\]"):
        make_fault_model("transient", ber=1.5)
    with pytest.raises(InputError, match="protect_msb"):
        make_fault_model("transient", ber=0.1, protect_msb=2)
    with pytest.raises(InputError, match="needs ber="):
        make_fault_model("stuck-at")
    with pytest.raises(InputError, match="non-negative integer"):
        Transient(0.1).corrupt(image, seed=-1)
    with pytest.raises(InputError, match="MemoryImage"):
        Transient(0.1).corrupt({"w": np.zeros(3)}, seed=0)
