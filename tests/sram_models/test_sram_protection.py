"""Protection schemes: what a read of a word with 0, 1, 2 and 3 errors returns, exactly; the counts
of corrected, detected and miscorrected words against the naive brute-force reader; costs."""

from __future__ import annotations

import numpy as np
import pytest

from sram_models import (
    ChipFaultMap,
    GaussianCellModel,
    InputError,
    MemoryImage,
    StuckAt,
    Transient,
    WordLayout,
    load_technology,
    read_back,
)
from sram_models.energy import cost_table
from sram_models.protection import EIGHT_T, SCHEME_NAMES, energy_weights, protection_cost, resolve_scheme
from tests.naive import naive_image_words, naive_protected_counts

# One 16-bit word of four 4-bit weights [3, -2, 5, -8] = nibbles 0011 1110 0101 1000 (weight 0 lowest).
WEIGHTS = [3, -2, 5, -8]


def _word(scheme: str) -> MemoryImage:
    return MemoryImage.pack({"w": np.array(WEIGHTS)}, WordLayout(bits=4, word_bits=16, protect=scheme))


def _read(scheme: str, flips: list[int]) -> tuple[list[int], tuple[int, int, int], int]:
    image = _word(scheme)
    raw = image.words.copy()
    for b in flips:
        raw[0, b // 64] ^= np.uint64(1) << np.uint64(b % 64)
    result = read_back(image, raw)
    counts = (result.ecc_corrected, result.ecc_detected, result.ecc_miscorrected)
    return result.codes["w"].tolist(), counts, result.bits_changed


# Data-bit positions: weight s bit b is bit 4 s + b.  Hamming positions of the 16 data bits are
# 3, 5, 6, 7, 9, 10, ... (not powers of two): bits 1, 6, 13 -> 5 ^ 11 ^ 19 = 29, outside the
# 22-bit code: detected.  Bits 0, 1, 4 -> 3 ^ 5 ^ 9 = 15 = data bit 10: the decoder flips bit 10.
ONE, TWO, THREE = [1], [1, 6], [1, 6, 13]
MISCORRECTING = [0, 1, 4]
AS_READ = {  # what the cells read as, before any scheme acts
    0: [3, -2, 5, -8],
    1: [1, -2, 5, -8],  # 0011 -> 0001
    2: [1, -6, 5, -8],  # 1110 -> 1010
    3: [1, -6, 5, -6],  # 1000 -> 1010
}
ERRORS = {0: [], 1: ONE, 2: TWO, 3: THREE}


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_none_and_msb8t_read_what_the_cells_hold(n: int) -> None:
    for scheme in ("none", "msb-8t"):
        codes, counts, _ = _read(scheme, ERRORS[n])
        assert codes == AS_READ[n]
        # none counts nothing; msb-8t detects nothing, so a wrong word is a silent one
        want = (0, 0, 0) if scheme == "none" or n == 0 else (0, 0, 1)
        assert counts == want, scheme


def test_secded_reads() -> None:
    assert _read("secded", [])[:2] == (WEIGHTS, (0, 0, 0))
    assert _read("secded", ONE)[:2] == (WEIGHTS, (1, 0, 0))
    assert _read("secded", TWO)[:2] == (AS_READ[2], (0, 1, 0))  # detected: returned as read
    assert _read("secded", THREE)[:2] == (AS_READ[3], (0, 1, 0))  # syndrome outside the code: detected
    # three errors the decoder "corrects" into a wrong word: 0011->0000, 1110->1111, and bit 10
    # (weight 2 bit 2) flipped by the decoder: 0101 -> 0001
    assert _read("secded", MISCORRECTING)[:2] == ([0, -1, 1, -8], (0, 0, 1))
    # an error in a check bit only (physical bit 16) is corrected too
    assert _read("secded", [16])[:2] == (WEIGHTS, (1, 0, 0))


def test_secded_zero_reads() -> None:
    assert _read("secded-zero", [])[:2] == (WEIGHTS, (0, 0, 0))
    assert _read("secded-zero", ONE)[:2] == (WEIGHTS, (1, 0, 0))
    assert _read("secded-zero", TWO)[:2] == ([0, 0, 0, 0], (0, 1, 0))
    assert _read("secded-zero", THREE)[:2] == ([0, 0, 0, 0], (0, 1, 0))
    assert _read("secded-zero", MISCORRECTING)[:2] == ([0, -1, 1, -8], (0, 0, 1))


def test_parity_zero_reads() -> None:
    assert _word("parity-zero").layout.phys_bits == 17
    assert _read("parity-zero", [])[:2] == (WEIGHTS, (0, 0, 0))
    assert _read("parity-zero", ONE)[:2] == ([0, 0, 0, 0], (0, 1, 0))  # odd: the word reads as zero
    assert _read("parity-zero", TWO)[:2] == (AS_READ[2], (0, 0, 1))  # even: unnoticed
    assert _read("parity-zero", THREE)[:2] == ([0, 0, 0, 0], (0, 1, 0))
    assert _read("parity-zero", [16])[:2] == ([0, 0, 0, 0], (0, 1, 0))  # the parity cell itself failed


def test_bit_mask_reads() -> None:
    # bit 2 of weight 0 (3 = 0011 stores 0 = its sign): flipped to 1, masked back to the sign: 3
    assert _read("bit-mask", [])[:2] == (WEIGHTS, (0, 0, 0))
    assert _read("bit-mask", [2])[:2] == (WEIGHTS, (0, 1, 0))
    # bit 1 of weight 0 stores 1 (not the sign): it reads 0 = the sign, and masking keeps 0: 0001
    assert _read("bit-mask", ONE)[:2] == ([1, -2, 5, -8], (0, 1, 0))
    # + the sign bit of weight 1 (bit 7): weight 1 reads as zero
    assert _read("bit-mask", [2, 7])[:2] == ([3, 0, 5, -8], (0, 1, 0))
    # + bit 2 of weight 2 (5 = 0101, stores 1): reads 0 = sign, stays: 0001 = 1
    assert _read("bit-mask", [2, 7, 10])[:2] == ([3, 0, 1, -8], (0, 1, 0))
    # bit 0 of -2 (1110 stores 0, sign 1): reads 1 = the sign, stays: 1111 = -1
    assert _read("bit-mask", [4])[:2] == ([3, -1, 5, -8], (0, 1, 0))


@pytest.mark.parametrize("scheme", SCHEME_NAMES)
@pytest.mark.parametrize("word_bits", [16, 64, 100])
def test_counts_and_codes_match_the_naive_reader(scheme: str, word_bits: int) -> None:
    rng = np.random.default_rng(word_bits)
    n_weights = (300 if word_bits < 64 else 120) * (word_bits // 4) - 3  # the last word is not full
    codes = rng.integers(-8, 8, size=n_weights)
    image = MemoryImage.pack({"w": codes}, WordLayout(bits=4, word_bits=word_bits, protect=scheme))
    n = image.layout.phys_bits
    raw = image.words.copy()
    for w in range(image.n_words):  # 0..4 errors per word, anywhere in the word
        for b in rng.choice(n, size=rng.integers(0, 5), replace=False):
            raw[w, int(b) // 64] ^= np.uint64(1) << np.uint64(int(b) % 64)
    result = read_back(image, raw)
    want = naive_protected_counts(
        naive_image_words(raw), naive_image_words(image.words), scheme, 4, word_bits, n_weights
    )
    assert result.codes["w"].tolist() == want["codes"]
    assert result.bits_changed == want["bits_changed"]
    got = (result.ecc_corrected, result.ecc_detected, result.ecc_miscorrected)
    assert got == (want["corrected"], want["detected"], want["miscorrected"])
    if scheme in ("secded", "secded-zero"):
        assert want["miscorrected"] > 0, "the random patterns must include wrong corrections"


@pytest.mark.parametrize("scheme", SCHEME_NAMES)
@pytest.mark.parametrize("model", [Transient(2e-2), StuckAt(4e-2), ChipFaultMap(ber=4e-2)])
def test_fault_models_count_like_the_naive_reader(scheme: str, model) -> None:
    rng = np.random.default_rng(7)
    codes = rng.integers(-8, 8, size=2400)
    image = MemoryImage.pack({"w": codes}, WordLayout(bits=4, word_bits=64, protect=scheme))
    result = model.corrupt(image, seed=3)
    blind = scheme == "bit-mask" and not isinstance(model, Transient)  # its detector cannot see stuck cells
    want = naive_protected_counts(
        naive_image_words(result.image.words), naive_image_words(image.words), "none" if blind else scheme,
        4, 64, codes.size,
    )
    assert result.codes["w"].tolist() == want["codes"]
    assert result.bits_changed == want["bits_changed"]
    if blind:  # read as unprotected; every word read wrong is unflagged, i.e. miscorrected
        wrong = int((np.array(want["codes"]).reshape(-1, 16) != codes.reshape(-1, 16)).any(axis=1).sum())
        want = {"corrected": 0, "detected": 0, "miscorrected": wrong}
    assert (result.ecc_corrected, result.ecc_detected, result.ecc_miscorrected) == (
        want["corrected"], want["detected"], want["miscorrected"],
    )  # fmt: skip
    if scheme == "msb-8t":
        sign_bits = result.image.words[:, 0] ^ image.words[:, 0]
        assert int(sign_bits.sum()) > 0 and not any(
            (int(x) >> (4 * s + 3)) & 1 for x in sign_bits.tolist() for s in range(16)
        ), "no sign bit of an msb-8t image ever fails"


def test_msb8t_refuses_voltages_below_the_8t_vmin() -> None:
    """The 8T floor is an 8T/6T Vmin ratio times the preset's 6T Vmin (issue 17 §5), not a fraction of
    the nominal supply: dpcs45 (6T Vmin 0.74 V) gets 0.41/0.7 x 0.74 = 0.433 V."""
    tech = load_technology("dpcs45")
    image = MemoryImage.pack({"w": np.zeros(64, int)}, WordLayout(bits=4, protect="msb-8t"))
    assert EIGHT_T.v_min_ratio == pytest.approx(0.41 / 0.7)
    floor = EIGHT_T.v_floor(tech.v_min)
    assert floor == pytest.approx(0.41 / 0.7 * 0.74) and tech.v_low < floor < tech.v_min
    ChipFaultMap(technology=tech).corrupt(image, seed=0, voltage=0.44)
    with pytest.raises(InputError, match="below the 8T cells' Vmin"):
        ChipFaultMap(technology=tech).corrupt(image, seed=0, voltage=tech.v_low)
    low = GaussianCellModel(
        name="deep", node="test", source="test", v_nominal=1.0, v_min=0.8, v_low=0.2, v_high=1.0,
        mu=0.3, sigma=0.1,
    )  # fmt: skip
    for model in (Transient(technology=low), ChipFaultMap(technology=low)):
        model.corrupt(image, seed=0, voltage=0.47)  # at or above 0.586 x 6T Vmin 0.8 = 0.469: covered
        with pytest.raises(InputError, match="below the 8T cells' Vmin"):
            model.corrupt(image, seed=0, voltage=0.46)
    from sram_models.protection import check_voltage

    with pytest.raises(InputError, match="below the 8T cells' Vmin"):
        check_voltage("msb-8t", tech, 0.9 * floor)
    check_voltage("secded", tech, 0.9 * floor)  # no floor of its own


def test_layout_aliases_and_contradictions() -> None:
    assert WordLayout(bits=4, ecc="secded") == WordLayout(bits=4, protect="secded")
    assert WordLayout(bits=4, protect="secded-zero").ecc == "secded"
    assert WordLayout(bits=4, protect="parity-zero").ecc is None
    with pytest.raises(InputError, match="contradicts"):
        WordLayout(bits=4, ecc="secded", protect="parity-zero")
    with pytest.raises(InputError, match="contradicts"):
        WordLayout(bits=4, ecc="none", protect="secded")
    with pytest.raises(InputError, match="unknown protection scheme"):
        WordLayout(bits=4, protect="tmr")
    assert resolve_scheme(ecc="secded") == "secded" == resolve_scheme(ecc="secded", protect="secded")
    assert resolve_scheme(protect="bit-mask", protect_msb=0.5) == "bit-mask"
    assert resolve_scheme(protect="msb-8t", protect_msb=1.0) == "msb-8t"
    for kwargs in ({"ecc": "secded", "protect": "secded-zero"}, {"ecc": "none", "protect": "secded"},
                   {"protect": "msb-8t", "protect_msb": 0.5}):  # fmt: skip
        with pytest.raises(InputError):
            resolve_scheme(**kwargs)


def test_costs() -> None:
    rows = {r["scheme"]: r for r in cost_table(bits=4, word_bits=64)}
    assert [rows[s]["check_bits"] for s in SCHEME_NAMES] == [0, 8, 8, 1, 0, 0]
    assert rows["secded"]["area_overhead"] == 0.125 and rows["parity-zero"]["area_overhead"] == 1 / 64
    # 16 sign bits in 8T cells of 1.3 x the area: 16 x 0.3 / 64
    assert rows["msb-8t"]["cells_8t"] == 16 and abs(rows["msb-8t"]["area_overhead"] - 0.075) < 1e-12
    assert rows["parity-zero"]["weights_zeroed_per_detection"] == 16
    lay = WordLayout(bits=8, word_bits=64, protect="msb-8t")
    assert protection_cost(lay).cells == {"6T": 56, "8T": 8}
    assert energy_weights(WordLayout(bits=4, protect="secded")) == (72.0, 72.0)


def test_bit_mask_detector_sees_late_reads_not_stuck_cells() -> None:
    """Issue 17 §5: bit-mask's Razor-style detector flags transient (late-read) errors, and nothing
    under stuck faults: on the same chip, bit-mask then reads exactly what the unprotected memory reads,
    and every word read wrong counts as miscorrected (unflagged)."""
    from sram_models.protection import SCHEMES

    detector = SCHEMES.get("bit-mask").detector
    assert (detector.coverage(stuck=False), detector.coverage(stuck=True)) == (1.0, 0.0)
    assert "late" in detector.sees and detector.energy_overhead is None
    rng = np.random.default_rng(0)
    codes = rng.integers(-8, 8, size=4096)
    images = {s: MemoryImage.pack({"w": codes}, WordLayout(bits=4, word_bits=64, protect=s))
              for s in ("none", "bit-mask")}  # fmt: skip
    for model in (ChipFaultMap(ber=1e-2), StuckAt(ber=1e-2)):
        plain = model.corrupt(images["none"], seed=3)
        masked = model.corrupt(images["bit-mask"], seed=3)
        np.testing.assert_array_equal(masked.codes["w"], plain.codes["w"])
        assert masked.ecc_detected == 0 and masked.ecc_corrected == 0
        wrong_words = int((masked.codes["w"].reshape(-1, 16) != codes.reshape(-1, 16)).any(axis=1).sum())
        assert wrong_words > 0 and masked.ecc_miscorrected == wrong_words
    # transient flips are late reads: every word with a wrong weight bit is flagged, and masking acts
    plain = Transient(ber=1e-2).corrupt(images["none"], seed=3)
    masked = Transient(ber=1e-2).corrupt(images["bit-mask"], seed=3)
    hit = int((plain.codes["w"].reshape(-1, 16) != codes.reshape(-1, 16)).any(axis=1).sum())
    assert hit > 0 and masked.ecc_detected == hit and masked.ecc_miscorrected == 0
    assert not np.array_equal(masked.codes["w"], plain.codes["w"])
