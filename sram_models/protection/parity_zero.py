"""One parity bit per word; a word with an odd number of errors reads as zero."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sram_models.protection.registry import PARITY_ZERO, PROTECTION_SCHEMES, Scheme

if TYPE_CHECKING:
    import numpy as np

    from sram_models.layout import WordLayout


@dataclass(frozen=True)
class ParityScheme(Scheme):
    """A scheme that stores one even-parity bit per word."""

    def check_bits(self, word_bits: int) -> int:
        """One parity cell per word."""
        return 1

    def encode(self, words: np.ndarray, layout: WordLayout, hamming_positions: np.ndarray | None) -> None:
        """Write each word's parity bit in place."""
        from sram_models import _kernels

        _kernels._parity_encode(words, layout.word_bits)


PARITY = PROTECTION_SCHEMES.register("parity-zero", ParityScheme(
    "parity-zero", PARITY_ZERO,
    "one parity bit per word; a word with odd errors reads as zero",
    "word masking of Reagen et al., Minerva, ISCA 2016 (stage 5, SRAM fault mitigation), with a "
    "parity detector", True,
    "1 per word",
    zeroes_words=True,
))  # fmt: skip
