"""Bit helpers shared by every kernel (numba-inlined)."""

from __future__ import annotations

import numpy as np
from numba import njit

U1 = np.uint64(1)
U0 = np.uint64(0)


# ---------------------------------------------------------------- bit helpers


@njit(cache=True, inline="always")
def _get_bit(words, w, b):
    return (words[w, b >> 6] >> np.uint64(b & 63)) & U1


@njit(cache=True, inline="always")
def _set_bit(words, w, b, value):
    lane = b >> 6
    m = U1 << np.uint64(b & 63)
    if value:
        words[w, lane] |= m
    else:
        words[w, lane] &= ~m


@njit(cache=True, inline="always")
def _popcount(x):
    # SWAR popcount of a uint64 (numba has no portable intrinsic for it).
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, inline="always")
def _low_mask(n):
    # n low bits set, n in 0..64
    if n >= 64:
        return ~U0
    return (U1 << np.uint64(n)) - U1


# Float flags for the samplers: no approximate functions ("afn"), so log() stays exact.
