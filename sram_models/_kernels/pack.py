"""Packing weights into words and unpacking them."""

from __future__ import annotations

import numpy as np
from numba import njit

from sram_models._kernels.bits import _low_mask

# ---------------------------------------------------------------- pack / unpack


@njit(cache=True)
def _pack(codes, bits, per_word, words):
    """Write two's-complement ``codes`` (1-D, any int dtype) into zeroed ``words``."""
    mask = _low_mask(bits)
    n = codes.size
    n_words = words.shape[0]
    i = 0
    for w in range(n_words):
        off = 0
        for _ in range(per_word):
            if i >= n:
                break
            v = np.uint64(np.int64(codes[i])) & mask
            lane = off >> 6
            sh = off & 63
            words[w, lane] |= v << np.uint64(sh)
            if sh + bits > 64:
                words[w, lane + 1] |= v >> np.uint64(64 - sh)
            off += bits
            i += 1


@njit(cache=True)
def _unpack(words, bits, per_word, n, out):
    """Read ``n`` codes from ``words`` into ``out`` (int16), sign-extended."""
    mask = _low_mask(bits)
    sign = np.int64(1) << (bits - 1)
    full = np.int64(1) << bits
    n_words = words.shape[0]
    i = 0
    for w in range(n_words):
        off = 0
        for _ in range(per_word):
            if i >= n:
                return
            lane = off >> 6
            sh = off & 63
            v = words[w, lane] >> np.uint64(sh)
            if sh + bits > 64:
                v |= words[w, lane + 1] << np.uint64(64 - sh)
            val = np.int64(v & mask)
            if val >= sign:
                val -= full
            out[i] = val
            off += bits
            i += 1


@njit(cache=True)
def _unpack_word64(data, bits, n, out):
    """``_unpack`` for 64-bit data words (``data``: one uint64 per word, contiguous): twice as fast.

    Each field is shifted to the top of the word and arithmetic-shifted back down,
    which sign-extends it without a branch."""
    per = 64 // bits
    down = np.int64(64 - bits)
    full = n // per
    for j in range(full):
        x = data[j]
        base = j * per
        for s in range(per):
            out[base + s] = np.int64(x << np.uint64(64 - bits - s * bits)) >> down
    i = full * per
    for s in range(n - i):
        out[i + s] = np.int64(data[full] << np.uint64(64 - bits - s * bits)) >> down
