"""SECDED: an extended Hamming code per word; one error corrected, two detected, returned as read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sram_models.protection.registry import PROTECTION_SCHEMES, SECDED_AS_READ, Scheme

if TYPE_CHECKING:
    import numpy as np

    from sram_models.layout import WordLayout


@dataclass(frozen=True)
class SecdedScheme(Scheme):
    """A scheme that stores the extended Hamming code of each word (its check bits after the data)."""

    ecc: str | None = "secded"

    def encode(self, words: np.ndarray, layout: WordLayout, hamming_positions: np.ndarray | None) -> None:
        """Write each word's SECDED check bits in place."""
        from sram_models import _kernels

        _kernels._secded_encode(words, layout.word_bits, hamming_positions)


SECDED = PROTECTION_SCHEMES.register("secded", SecdedScheme(
    "secded", SECDED_AS_READ,
    "extended Hamming per word: corrects 1 error, detects 2; a detected word is returned as read",
    "Hamming 1950; Hsiao 1970 (the (72, 64) SEC-DED code)", True,
    "r + 1 with 2^r >= k + r + 1 (8 for 64 data bits, 6 for 16)",
))  # fmt: skip
