"""Every registered protection scheme, by name from ``PROTECTION_SCHEMES``: exact reads of words with
0, 1, 2 and 3 errors at chosen positions against the naive reader, and the check-bit cost."""

from __future__ import annotations

import numpy as np
import pytest

from sram_models import PROTECTION_SCHEMES, MemoryImage, WordLayout, protection_cost, read_back
from tests import naive

NAMES = PROTECTION_SCHEMES.names()
WORD_BITS, BITS = 64, 4
# cell positions in a 64-bit word of 4-bit weights: 5 (a magnitude bit of weight 1), 3 (weight 0's
# sign), 40, 63 (the last sign bit), and the first cell after the data (a check bit when there is one)
PATTERNS = [(), (5,), (3,), (64,), (5, 40), (3, 64), (5, 40, 63), (3, 5, 64)]


def test_the_registry_lists_the_built_in_schemes() -> None:
    assert {"none", "secded", "secded-zero", "parity-zero", "bit-mask", "msb-8t"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_scheme_has_a_naive_twin(name: str) -> None:
    assert name in naive.NAIVE_PROTECTED_SCHEMES, f"add {name!r} to tests.naive.naive_protected_read"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: "errors_at_" + "_".join(map(str, p)))
def test_reads_of_words_with_chosen_errors_match_the_naive_reader(name: str, pattern: tuple[int, ...]):
    codes = np.random.default_rng(len(pattern)).integers(-8, 8, size=2 * (WORD_BITS // BITS))
    image = MemoryImage.pack({"w": codes}, WordLayout(bits=BITS, word_bits=WORD_BITS, protect=name))
    raw = image.words.copy()
    for cell in pattern:
        if cell < image.layout.phys_bits:  # no check cells: the pattern has fewer errors
            raw[0, cell // 64] ^= np.uint64(1) << np.uint64(cell % 64)
    result = read_back(image, raw)
    clean_words = naive.naive_image_words(image.words)
    want = naive.naive_protected_counts(
        naive.naive_image_words(raw), clean_words, name, BITS, WORD_BITS, codes.size
    )
    assert result.codes["w"].tolist() == want["codes"]
    assert result.bits_changed == want["bits_changed"]
    got = (result.ecc_corrected, result.ecc_detected, result.ecc_miscorrected)
    assert got == (want["corrected"], want["detected"], want["miscorrected"])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("word_bits", [16, 64, 100])
def test_check_bit_cost_is_the_cells_the_image_stores(name: str, word_bits: int) -> None:
    layout = WordLayout(bits=BITS, word_bits=word_bits, protect=name)
    cost = protection_cost(layout)
    scheme = PROTECTION_SCHEMES.get(name)
    assert cost.check_bits == scheme.check_bits(word_bits) == layout.phys_bits - word_bits
    assert sum(cost.cells.values()) == layout.phys_bits
    image = MemoryImage.pack({"w": np.arange(-8, 8)}, layout)
    assert image.words.shape[1] * 64 >= layout.phys_bits
    clean = read_back(image, image.words.copy())  # freshly encoded words read back untouched
    assert clean.codes["w"].tolist() == list(range(-8, 8))
    assert (clean.ecc_corrected, clean.ecc_detected, clean.ecc_miscorrected) == (0, 0, 0)
