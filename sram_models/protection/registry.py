"""The protection-scheme registry and what a scheme is (a leaf: ``layout`` imports only this module).

A scheme is an object (:class:`Scheme`) registered in :data:`PROTECTION_SCHEMES` by the file that
defines it; what the rest of the code asks of a scheme (its read policy, the check bits it stores,
whether it zeroes words, whether its sign bits are hardened) is an attribute or method of that
object, never a comparison of its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sram_models.registry import Registry

if TYPE_CHECKING:
    import numpy as np

    from sram_models.layout import WordLayout
    from sram_models.technology import Technology


@dataclass(frozen=True)
class ReadPolicy:
    """What a read of a word returns, given its cells as they read (sram_models._kernels._read_word)."""

    name: str
    code: int
    """the kernels' integer code for this policy: given here and nowhere else"""
    acts_on_read: bool
    """False: a read returns the data bits as they are (no pass through the kernels needed)"""
    needs_flags: bool = False
    """the read needs the detector's per-bit flags (bit masking)"""


PLAIN = ReadPolicy("plain", 0, acts_on_read=False)
SECDED_AS_READ = ReadPolicy("secded", 1, acts_on_read=True)
SECDED_ZERO = ReadPolicy("secded-zero", 2, acts_on_read=True)
PARITY_ZERO = ReadPolicy("parity-zero", 3, acts_on_read=True)
BIT_MASK = ReadPolicy("bit-mask", 4, acts_on_read=True, needs_flags=True)


def secded_check_bits(data_bits: int) -> int:
    """Check bits of an extended Hamming code for ``data_bits``: r with 2^r >= k + r + 1, plus parity."""
    r = 1
    while (1 << r) < data_bits + r + 1:
        r += 1
    return r + 1


@dataclass(frozen=True)
class Scheme:
    """A protection scheme: what it stores, what a read returns and where it comes from."""

    name: str
    policy: ReadPolicy
    summary: str
    source: str
    detects: bool
    """the scheme flags (some) words it cannot correct"""
    check_bits_source: str
    ecc: str | None = None
    """the ``WordLayout.ecc`` value (the code stored beside the data): "secded" or None"""
    zeroes_words: bool = False
    """a detection zeroes every weight of the word"""
    hardened_signs: bool = False
    """every weight's sign bit sits in cells that do not fail (in the voltages the scheme covers)"""
    reports: bool = True
    """False only for no scheme at all: nothing is corrected, flagged or miscorrected"""

    def check_bits(self, word_bits: int) -> int:
        """Check cells stored per word beside ``word_bits`` data bits."""
        return secded_check_bits(word_bits) if self.ecc == "secded" else 0

    def encode(self, words: np.ndarray, layout: WordLayout, hamming_positions: np.ndarray | None) -> None:
        """Write the check bits of freshly packed ``words`` in place (nothing to write by default)."""

    def cells_per_word(self, layout: WordLayout) -> dict[str, int]:
        """Cells of one physical word by kind (``{"6T": n, "8T": m}``; kinds with 0 cells omitted)."""
        return {"6T": layout.phys_bits}

    def detector_coverage(self, stuck: bool) -> float:
        """Return the share of a fault model's errors the scheme's detection can see.

        ``stuck``: the errors come from stuck cells. 1 by default: a code checks the values read,
        whatever made them wrong (bit-mask overrides).
        """
        return 1.0

    def voltage_floor(self, technology: Technology) -> float | None:
        """Lowest voltage (preset units) the scheme's own cells cover, or None when it has no floor."""
        return None


PROTECTION_SCHEMES: Registry[Scheme] = Registry("protection scheme", homes=("sram_models.protection",))
"""Protection schemes by name; each scheme file registers its :class:`Scheme` where it defines it."""


def scheme(name: Any) -> Scheme:
    """Return the registered scheme called ``name`` (None or "" is ``none``).

    Raises
    ------
    InputError
        For an unknown name, naming the choices.
    """
    key = "none" if name in (None, "") else str(name).strip().lower().replace("_", "-")
    return PROTECTION_SCHEMES.get(key)


def check_scheme(name: Any) -> str:
    """Return the canonical scheme name; InputError naming the choices otherwise."""
    return scheme(name).name


__all__ = [
    "BIT_MASK",
    "PARITY_ZERO",
    "PLAIN",
    "PROTECTION_SCHEMES",
    "SECDED_AS_READ",
    "SECDED_ZERO",
    "ReadPolicy",
    "Scheme",
    "check_scheme",
    "scheme",
    "secded_check_bits",
]
