"""Packing and unpacking against tests/naive.py, exact; WordLayout validation."""

from __future__ import annotations

import numpy as np
import pytest

from sram_models import InputError, MemoryImage, WordLayout, secded_check_bits
from tests.naive import naive_image_words, naive_pack, naive_secded_encode, naive_unpack

CASES = [(bits, wb) for bits in (2, 3, 4, 5, 6, 7, 8, 16) for wb in (8, 13, 64, 100, 512) if wb >= bits]


def _codes(rng: np.random.Generator, bits: int, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=shape, dtype=np.int64)


@pytest.mark.parametrize(("bits", "word_bits"), CASES)
def test_pack_matches_naive_and_unpack_inverts(bits: int, word_bits: int) -> None:
    rng = np.random.default_rng(bits * 1000 + word_bits)
    codes = {"conv": _codes(rng, bits, (7, 3, 5)), "fc": _codes(rng, bits, (61,))}
    codes["conv"].flat[0] = -(1 << (bits - 1))  # both ends of the range
    codes["fc"][-1] = (1 << (bits - 1)) - 1
    image = MemoryImage.pack(codes, WordLayout(bits=bits, word_bits=word_bits))
    flat = [int(x) for x in np.concatenate([c.ravel() for c in codes.values()])]
    assert naive_image_words(image.words) == naive_pack(flat, bits, word_bits)
    out = image.unpack()
    assert list(out) == ["conv", "fc"]
    for name, c in codes.items():
        assert out[name].dtype == np.int16 and out[name].shape == c.shape
        np.testing.assert_array_equal(out[name], c)
    assert naive_unpack(naive_image_words(image.words), bits, word_bits, len(flat)) == flat
    assert image.n_weights == len(flat)
    assert image.n_words == -(-len(flat) // (word_bits // bits))
    assert image.n_bits == image.n_words * word_bits


@pytest.mark.parametrize("word_bits", [8, 16, 57, 64, 120, 247, 512])
def test_secded_image_holds_naive_codewords(word_bits: int) -> None:
    rng = np.random.default_rng(word_bits)
    codes = {"w": _codes(rng, 4, (203,))}
    image = MemoryImage.pack(codes, WordLayout(bits=4, word_bits=word_bits, ecc="secded"))
    data = naive_pack([int(x) for x in codes["w"]], 4, word_bits)
    assert naive_image_words(image.words) == [naive_secded_encode(d, word_bits) for d in data]
    assert image.layout.phys_bits == word_bits + secded_check_bits(word_bits)
    assert image.n_bits == image.n_words * image.layout.phys_bits
    np.testing.assert_array_equal(image.unpack()["w"], codes["w"])


def test_secded_check_bit_counts() -> None:
    # extended Hamming: (8 -> 5), (64 -> 8: the usual 72/64 code), (512 -> 11)
    assert [secded_check_bits(k) for k in (8, 16, 32, 64, 128, 512)] == [5, 6, 7, 8, 9, 11]


def test_copy_is_independent() -> None:
    image = MemoryImage.pack({"w": np.arange(-8, 8)}, WordLayout(bits=4))
    twin = image.copy()
    twin.words[0, 0] ^= np.uint64(1)
    assert image.unpack()["w"][0] == -8 and twin.unpack()["w"][0] == -7


def test_physical_location_and_cell_positions() -> None:
    lay = WordLayout(bits=4, word_bits=64, rows=4, interleave=2, banks=2)
    image = MemoryImage.pack({"a": np.zeros(10, int), "b": np.zeros(300, int)}, lay)
    cell = image.cell_positions("b", 0, 3)  # weight 10 overall: word 0, slot 10, sign bit
    assert cell == 10 * 4 + 3
    loc = image.physical_location(np.array([0, 64 + 5, 9 * 64 + 63]))
    # word 1 is the second word of row 0: bit 5 at column 5*2 + 1
    assert loc["column"].tolist() == [0, 11, 63 * 2 + 1]
    assert loc["row"].tolist() == [0, 0, 0]  # words 0..7 fill rows 0..3 of array 0; word 9 -> array 1
    assert loc["array"].tolist() == [0, 0, 1] and loc["bank"].tolist() == [0, 0, 1]
    with pytest.raises(InputError, match="no layer"):
        image.cell_positions("c", 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bits": 9}, "2..8 or 16"),
        ({"bits": 1}, "2..8 or 16"),
        ({"bits": 4, "word_bits": 4}, "between 8 and 512"),
        ({"bits": 4, "word_bits": 1024}, "between 8 and 512"),
        ({"bits": 16, "word_bits": 8}, "does not fit"),
        ({"bits": 4, "ecc": "parity"}, "none or secded"),
        ({"bits": 4, "banks": 0}, "banks"),
        ({"bits": 4, "interleave": 0}, "interleave"),
    ],
)
def test_layout_rejects_bad_geometry(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        WordLayout(**kwargs)


def test_pack_rejects_bad_codes() -> None:
    lay = WordLayout(bits=4)
    with pytest.raises(InputError, match=r"outside the 4-bit range -8\.\.7"):
        MemoryImage.pack({"fc": np.array([0, 8])}, lay)
    with pytest.raises(InputError, match="must be integers"):
        MemoryImage.pack({"fc": np.array([0.5])}, lay)
    with pytest.raises(InputError, match="non-empty dict"):
        MemoryImage.pack({}, lay)
