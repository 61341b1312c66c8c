"""How quantized weights sit in the SRAM: word layout and the packed memory image.

Weights are N-bit two's-complement codes packed, in memory order, into W-bit data
words (``W // N`` weights per word, the last word of the image zero-padded;
layers follow each other without alignment).  A protection scheme
(``protect``, :mod:`sram_models.protection`) may add check cells after the data
bits, in the same (faulty) array: SECDED's Hamming and parity bits, or one parity
bit; ``ecc="secded"`` is ``protect="secded"``.  Words fill the rows
of ``rows``-row arrays, ``interleave`` words per row with their bits interleaved
column by column, arrays spread over ``banks`` banks round-robin; this fixes the
physical place of every cell (:meth:`MemoryImage.physical_location`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sram_models.errors import InputError

if TYPE_CHECKING:
    from sram_models.protection.registry import ReadPolicy, Scheme

ALLOWED_BITS = (2, 3, 4, 5, 6, 7, 8, 16)


@dataclass(frozen=True)
class WordLayout:
    """Geometry of the weight memory."""

    bits: int
    """bits per weight (two's complement): 2..8 or 16"""
    word_bits: int = 64
    """data bits per memory word (8..512); 64 is the usual SRAM macro width"""
    ecc: str | None = None
    """None (or "none") or "secded": extended Hamming per word, check bits stored beside the data.
    Kept for compatibility: it is the code ``protect`` stores ("secded" for secded and secded-zero)"""
    banks: int = 1
    """banks the arrays are spread over, round-robin (physical_location); the energy model's read
    parallelism is ``sram_models.energy.MemoryOrganisation.banks`` (default 32)"""
    rows: int = 512
    """rows per array; 512 matches the 512x64 arrays of the chandramoorthy14 measurements"""
    interleave: int = 1
    """words per physical row, bit-interleaved (column b*interleave + word slot)"""
    protect: str | None = None
    """protection scheme (sram_models.protection.SCHEME_NAMES); None = as ``ecc`` says (none or secded)"""

    def __post_init__(self) -> None:
        if (
            isinstance(self.bits, bool)
            or not isinstance(self.bits, (int, np.integer))
            or (self.bits not in ALLOWED_BITS)
        ):
            raise InputError(f"bits={self.bits!r}: weights must have 2..8 or 16 bits")
        if not isinstance(self.word_bits, (int, np.integer)) or not 8 <= self.word_bits <= 512:
            raise InputError(f"word_bits={self.word_bits!r}: use a word width between 8 and 512 bits")
        if self.word_bits < self.bits:
            raise InputError(
                f"a {self.bits}-bit weight does not fit a {self.word_bits}-bit word: "
                f"use word_bits >= {self.bits}"
            )
        from sram_models.protection.registry import scheme

        ecc = None if self.ecc in (None, "none", "") else self.ecc
        if ecc not in (None, "secded"):
            raise InputError(f"ecc={self.ecc!r}: use none or secded (or protect=NAME)")
        if self.protect is None:
            protect = "secded" if ecc == "secded" else "none"
        else:
            chosen = scheme(self.protect)
            protect, code = chosen.name, chosen.ecc
            # ecc=None means "not given"; an explicit ecc must agree with the code the scheme stores
            if (ecc is not None or self.ecc == "none") and ecc != code:
                raise InputError(
                    f"ecc={self.ecc!r} contradicts protect={protect!r}: give protect= alone "
                    "(ecc='secded' is protect='secded')"
                )
            ecc = code
        object.__setattr__(self, "ecc", ecc)
        object.__setattr__(self, "protect", protect)
        for name in ("banks", "rows", "interleave"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"{name}={value!r}: must be a positive integer")

    @property
    def weights_per_word(self) -> int:
        """Weights packed in one word's data bits."""
        return self.word_bits // self.bits

    @property
    def scheme(self) -> Scheme:
        """The protection scheme object (sram_models.protection.PROTECTION_SCHEMES)."""
        from sram_models.protection.registry import scheme

        return scheme(self.protect)

    @property
    def check_bits(self) -> int:
        """Check bits stored per word (0 without ECC; 8 for 64-bit SECDED; 1 for parity)."""
        return self.scheme.check_bits(self.word_bits)

    @property
    def policy(self) -> ReadPolicy:
        """The scheme's read policy (its ``code`` is what the kernels receive)."""
        return self.scheme.policy

    @property
    def phys_bits(self) -> int:
        """Cells per word: data plus check bits."""
        return self.word_bits + self.check_bits

    @property
    def lanes(self) -> int:
        """uint64 lanes that hold one physical word."""
        return (self.phys_bits + 63) // 64


def _hamming_tables(data_bits: int, phys_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Physical bit -> Hamming position, and back (see ``_kernels``)."""
    n_check = phys_bits - data_bits - 1
    hpos = np.zeros(phys_bits, np.int64)
    pos = 1
    for b in range(data_bits):
        while pos & (pos - 1) == 0:  # skip powers of two: they hold the check bits
            pos += 1
        hpos[b] = pos
        pos += 1
    for j in range(n_check):
        hpos[data_bits + j] = 1 << j
    n_positions = data_bits + n_check
    phys_of_hpos = np.full(n_positions + 1, -1, np.int64)
    for b in range(phys_bits - 1):
        phys_of_hpos[hpos[b]] = b
    return hpos, phys_of_hpos


_NO_TABLE = np.zeros(1, np.int64)
_NO_FLAGS = np.zeros((1, 1), np.uint64)


@dataclass
class _Segment:
    name: str
    shape: tuple[int, ...]
    start: int
    stop: int


@dataclass
class MemoryImage:
    """Packed weights: ``words`` is a ``(n_words, lanes)`` uint64 array of physical words.

    Build one with :meth:`pack`; read it back (through the ECC decoder when the
    layout has one) with :meth:`unpack`.  Fault models never modify an image: they
    return a new one.
    """

    layout: WordLayout
    words: np.ndarray
    n_weights: int
    segments: list[_Segment] = field(repr=False)
    flags: np.ndarray | None = field(default=None, repr=False)
    """bit-mask only: the per-bit detector's output, a uint64 array like ``words`` with the cells
    that read wrong set (fault models fill it); None = nothing flagged"""

    # ------------------------------------------------------------ building and reading

    @classmethod
    def pack(cls, codes: Mapping[str, np.ndarray], layout: WordLayout) -> MemoryImage:
        """Pack integer code arrays (dict order = memory order) into words."""
        from sram_models import _kernels

        if not isinstance(layout, WordLayout):
            raise InputError(f"layout must be a WordLayout, got {type(layout).__name__}")
        if not isinstance(codes, Mapping) or not codes:
            raise InputError("codes must be a non-empty dict of layer name -> integer array")
        lo, hi = -(1 << (layout.bits - 1)), (1 << (layout.bits - 1)) - 1
        flats, segments, start = [], [], 0
        for name, array in codes.items():
            arr = np.asarray(array)
            if not np.issubdtype(arr.dtype, np.integer):
                raise InputError(
                    f"layer {name!r}: codes must be integers, got {arr.dtype} (quantize the weights first)"
                )
            flat = arr.reshape(-1)
            if flat.size and (int(flat.min()) < lo or int(flat.max()) > hi):
                raise InputError(
                    f"layer {name!r}: codes span {int(flat.min())}..{int(flat.max())}, outside the "
                    f"{layout.bits}-bit range {lo}..{hi}: quantize to {layout.bits} bits or raise bits"
                )
            flats.append(flat)
            segments.append(_Segment(str(name), tuple(arr.shape), start, start + flat.size))
            start += flat.size
        n_weights = start
        all_codes = np.concatenate(flats) if len(flats) > 1 else flats[0]
        n_words = max(1, -(-n_weights // layout.weights_per_word))
        words = np.zeros((n_words, layout.lanes), np.uint64)
        _kernels._pack(np.ascontiguousarray(all_codes), layout.bits, layout.weights_per_word, words)
        hpos = _hamming_tables(layout.word_bits, layout.phys_bits)[0] if layout.ecc == "secded" else None
        layout.scheme.encode(words, layout, hpos)
        return cls(layout, words, n_weights, segments)

    def read_words(self) -> np.ndarray:
        """Return the words as the protection scheme returns them (corrected, zeroed or masked data bits).

        Without a scheme that acts on reads this is ``words`` itself (not a copy).
        """
        from sram_models import _kernels
        lay = self.layout
        policy = lay.policy
        if not policy.acts_on_read or (policy.needs_flags and self.flags is None):
            return self.words
        words = self.words.copy()
        hpos, phys_of_hpos = self.hamming_tables if lay.ecc == "secded" else (_NO_TABLE, _NO_TABLE)
        flags = self.flags if self.flags is not None else _NO_FLAGS
        _kernels._read_all(
            words, flags, policy.code, lay.phys_bits, lay.word_bits, lay.bits, lay.weights_per_word,
            self.n_weights, hpos, phys_of_hpos,
        )  # fmt: skip
        return words

    def unpack(self) -> dict[str, np.ndarray]:
        """Return what a read gives: int16 codes per layer, through the protection scheme.

        The scheme acts as on a read: SECDED correction, zeroed detected words, masked bits.
        """
        from sram_models import _kernels

        words = self.read_words()
        flat = np.empty(self.n_weights, np.int16)
        if self.layout.word_bits == 64:  # the common case: one data lane per word
            data = words[:, 0] if words.shape[1] == 1 else np.ascontiguousarray(words[:, 0])
            _kernels._unpack_word64(data.reshape(-1), self.layout.bits, self.n_weights, flat)
        else:
            _kernels._unpack(words, self.layout.bits, self.layout.weights_per_word, self.n_weights, flat)
        return {s.name: flat[s.start : s.stop].reshape(s.shape) for s in self.segments}

    def copy(self) -> MemoryImage:
        """Return a copy whose words and flags can be changed without touching this image."""
        flags = None if self.flags is None else self.flags.copy()
        return MemoryImage(self.layout, self.words.copy(), self.n_weights, self.segments, flags)

    def with_words(self, words: np.ndarray, flags: np.ndarray | None = None) -> MemoryImage:
        """Return the same layout and layers holding other words (shape and dtype checked).

        ``flags``: for ``bit-mask``, the cells its detector flags (same shape); None = none.
        """
        for what, array in (("words", words), ("flags", flags)):
            if array is not None and (array.shape != self.words.shape or array.dtype != np.uint64):
                raise InputError(
                    f"{what} must be uint64 of shape {self.words.shape}, got {array.dtype} {array.shape}"
                )
        return MemoryImage(self.layout, words, self.n_weights, self.segments, flags)

    # ------------------------------------------------------------ sizes

    @property
    def n_words(self) -> int:
        """Words in the image."""
        return int(self.words.shape[0])

    @property
    def n_bits(self) -> int:
        """Physical cells: words x (data + check bits)."""
        return self.n_words * self.layout.phys_bits

    @property
    def names(self) -> list[str]:
        """Layer names, in packing order."""
        return [s.name for s in self.segments]

    @property
    def hamming_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """Physical bit -> Hamming position, and back (computed once per image)."""
        cached = self.__dict__.get("_hamming")
        if cached is None:
            cached = _hamming_tables(self.layout.word_bits, self.layout.phys_bits)
            self.__dict__["_hamming"] = cached
        return cached

    # ------------------------------------------------------------ physical places

    def physical_location(self, positions: np.ndarray | int) -> dict[str, np.ndarray]:
        """Where cells (indices ``word * phys_bits + bit``) sit: bank, array, row, column.

        ``array`` numbers the ``rows``-row arrays of the image; ``bank = array % banks``.
        """
        lay = self.layout
        p = np.asarray(positions, np.int64)
        if p.size and (p.min() < 0 or p.max() >= self.n_bits):
            raise InputError(f"cell positions must lie in 0..{self.n_bits - 1}")
        word, bit = np.divmod(p, lay.phys_bits)
        row_global, slot = np.divmod(word, lay.interleave)
        array, row = np.divmod(row_global, lay.rows)
        return {
            "word": word,
            "bit": bit,
            "bank": array % lay.banks,
            "array": array,
            "row": row,
            "column": bit * lay.interleave + slot,
        }

    def cell_positions(self, layer: str, index: int, bit: int) -> int:
        """Cell index of bit ``bit`` (0 = LSB, bits-1 = sign) of weight ``index`` of ``layer``."""
        lay = self.layout
        for s in self.segments:
            if s.name == layer:
                if not 0 <= index < s.stop - s.start:
                    raise InputError(f"layer {layer!r} has {s.stop - s.start} weights, not index {index}")
                if not 0 <= bit < lay.bits:
                    raise InputError(f"bit must be in 0..{lay.bits - 1}")
                i = s.start + index
                word, slot = divmod(i, lay.weights_per_word)
                return word * lay.phys_bits + slot * lay.bits + bit
        raise InputError(f"no layer {layer!r} in the image (layers: {', '.join(self.names)})")
