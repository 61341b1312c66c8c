"""Sparse fault sampling: geometric skips, work proportional to the number of faults."""

from __future__ import annotations

import numpy as np
from numba import njit

from sram_models._kernels.bits import U1, _get_bit, _set_bit
from sram_models._kernels.rng import FAST, _gap, _uniform

# ---------------------------------------------------------------- sparse sampling


@njit(cache=True, inline="always")
def _grow(buf, k):
    if k < buf.size:
        return buf
    new = np.empty(buf.size * 2 + 16, buf.dtype)
    new[:k] = buf[:k]
    return new


@njit(cache=True, inline="always")
def _inv_log_q(p):
    # 1 / log(1 - p) for 0 < p <= 1; p = 1 gives gaps of 0 (every cell).
    return 0.0 if p >= 1.0 else 1.0 / np.log1p(-p)


@njit(cache=True, fastmath=FAST)
def _geometric_positions(state, n, p, capacity):
    """Sorted indices in [0, n), each chosen independently with probability p (work ∝ hits).

    Returns (positions, new generator state)."""
    buf = np.empty(max(capacity, 16), np.int64)
    k = 0
    if p <= 0.0 or n <= 0:
        return buf[:0], state
    inv = _inv_log_q(p)
    pos = -1
    while True:
        state, g = _gap(state, inv)
        if g >= n - pos - 1:  # also guards the float -> int conversion of huge gaps
            break
        pos += np.int64(g) + 1
        buf = _grow(buf, k)
        buf[k] = pos
        k += 1
    return buf[:k], state


@njit(cache=True, fastmath=FAST)
def _flip_uniform_inplace(seed, p, words, phys_bits, bits, per_word, n_weights, capacity):
    """Transient fast path: flip every cell with probability p, in place.

    Returns (flipped positions ascending, how many of them hold a weight bit)."""
    n = words.shape[0] * phys_bits
    buf = np.empty(max(capacity, 16), np.int64)
    k = 0
    weight_bits = 0
    if p <= 0.0 or n <= 0:
        return buf[:0], weight_bits
    state = np.uint64(seed)
    inv = _inv_log_q(p)
    pos = -1
    while True:
        state, g = _gap(state, inv)
        if g >= n - pos - 1:
            break
        pos += np.int64(g) + 1
        w = pos // phys_bits
        b = pos - w * phys_bits
        words[w, b >> 6] ^= U1 << np.uint64(b & 63)
        if b < min(per_word, n_weights - w * per_word) * bits:
            weight_bits += 1
        buf = _grow(buf, k)
        buf[k] = pos
        k += 1
    return buf[:k], weight_bits


@njit(cache=True, inline="always")
def _cell_class(pos, phys_bits, data_bits, bits, per_word, n_weights):
    """(class, weight index) of a cell: class j < bits = bit j of a weight (bits-1 = sign),
    bits = unused data bit (padding), bits+1 = check/parity bit."""
    w = pos // phys_bits
    b = pos - w * phys_bits
    if b >= data_bits:
        return bits + 1, -1
    slot = b // bits
    if slot >= per_word:
        return bits, -1
    i = w * per_word + slot
    if i >= n_weights:
        return bits, -1
    return b - slot * bits, i


@njit(cache=True, inline="always")
def _sign_protected(i, fraction):
    # The sign bits of an evenly spread fraction of the weights (in memory order) are
    # protected: weight i is when floor((i+1)f) > floor(i f).  f=1: all, f=0.5: every other one.
    if fraction <= 0.0 or i < 0:
        return False
    return np.floor((i + 1) * fraction) > np.floor(i * fraction)


@njit(cache=True, fastmath=FAST)
def _sample_cells(
    seed,
    words,
    phys_bits,
    data_bits,
    bits,
    per_word,
    n_weights,
    class_rate,
    p_max,
    stuck,
    stuck_one,
    protect_fraction,
    capacity,
):
    """General transient sampler by thinning.

    Candidates are drawn at ``p_max``; a candidate storing value ``v`` in class ``c``
    is kept with probability ``class_rate[c, v] / p_max``, so each cell fails with
    exactly its own rate.  ``stuck=False``: a kept cell flips; ``stuck=True``: it
    is stuck at 1 with probability ``stuck_one``, else at 0.  Sign bits protected
    by ``protect_fraction`` never fail.  Returns (sorted positions, new values).
    """
    n = words.shape[0] * phys_bits
    pos_buf = np.empty(max(capacity, 16), np.int64)
    val_buf = np.empty(max(capacity, 16), np.uint8)
    k = 0
    if p_max <= 0.0 or n <= 0:
        return pos_buf[:0], val_buf[:0]
    state = np.uint64(seed)
    inv = _inv_log_q(p_max)
    pos = -1
    while True:
        state, g = _gap(state, inv)
        if g >= n - pos - 1:
            break
        pos += np.int64(g) + 1
        c, i = _cell_class(pos, phys_bits, data_bits, bits, per_word, n_weights)
        w = pos // phys_bits
        b = pos - w * phys_bits
        stored = _get_bit(words, w, b)
        rate = class_rate[c, np.int64(stored)]
        if rate < p_max:
            state, u = _uniform(state)
            if u * p_max >= rate:
                continue
        if c == bits - 1 and _sign_protected(i, protect_fraction):
            continue
        if stuck:
            state, u = _uniform(state)
            new = np.uint8(1) if u < stuck_one else np.uint8(0)
        else:
            new = np.uint8(stored ^ U1)
        pos_buf = _grow(pos_buf, k)
        val_buf = _grow(val_buf, k)
        pos_buf[k] = pos
        val_buf[k] = new
        k += 1
    return pos_buf[:k], val_buf[:k]


@njit(cache=True, fastmath=FAST)
def _chip_cells(seed, n, p_max, stuck_one, capacity):
    """A chip's weak cells: those whose fixed uniform draw is below p_max.

    Returns (positions ascending, draws in [0, p_max), stuck values).  A cell's draw
    conditional on being below p_max is uniform on [0, p_max), so ``p_max * U`` is
    exactly the draw the cell would have had.
    """
    pos_buf = np.empty(max(capacity, 16), np.int64)
    draw_buf = np.empty(max(capacity, 16), np.float64)
    val_buf = np.empty(max(capacity, 16), np.uint8)
    k = 0
    if p_max <= 0.0 or n <= 0:
        return pos_buf[:0], draw_buf[:0], val_buf[:0]
    state = np.uint64(seed)
    inv = _inv_log_q(p_max)
    pos = -1
    while True:
        state, g = _gap(state, inv)
        if g >= n - pos - 1:
            break
        pos += np.int64(g) + 1
        pos_buf = _grow(pos_buf, k)
        draw_buf = _grow(draw_buf, k)
        val_buf = _grow(val_buf, k)
        pos_buf[k] = pos
        state, u = _uniform(state)
        draw_buf[k] = u * p_max
        state, u = _uniform(state)
        val_buf[k] = np.uint8(1) if u < stuck_one else np.uint8(0)
        k += 1
    return pos_buf[:k], draw_buf[:k], val_buf[:k]


@njit(cache=True, fastmath=FAST)
def _column_cells(seed, n_words, phys_bits, rows, interleave, column_rate, stuck_one, capacity):
    """Cells of failed columns: each column of each array fails with ``column_rate``
    and then reads a constant (stuck at 1 with probability ``stuck_one``).

    Word w sits in array ``(w // interleave) // rows``, row ``(w // interleave) % rows``;
    its bit b in column ``b * interleave + w % interleave``.  Returns unsorted positions
    and values.
    """
    cols = phys_bits * interleave
    words_per_array = rows * interleave
    n_arrays = (n_words + words_per_array - 1) // words_per_array
    failed, state = _geometric_positions(np.uint64(seed), n_arrays * cols, column_rate, 16)
    pos_buf = np.empty(max(capacity, 16), np.int64)
    val_buf = np.empty(max(capacity, 16), np.uint8)
    k = 0
    for f in range(failed.size):
        a = failed[f] // cols
        c = failed[f] - a * cols
        b = c // interleave
        s = c - b * interleave
        state, u = _uniform(state)
        v = np.uint8(1) if u < stuck_one else np.uint8(0)
        for r in range(rows):
            w = (a * rows + r) * interleave + s
            if w >= n_words:
                break
            pos_buf = _grow(pos_buf, k)
            val_buf = _grow(val_buf, k)
            pos_buf[k] = w * phys_bits + b
            val_buf[k] = v
            k += 1
    return pos_buf[:k], val_buf[:k]


@njit(cache=True)
def _keep_unprotected(positions, phys_bits, data_bits, bits, per_word, n_weights, fraction):
    """Mask of positions that are not a protected sign bit."""
    keep = np.ones(positions.size, np.bool_)
    for t in range(positions.size):
        c, i = _cell_class(positions[t], phys_bits, data_bits, bits, per_word, n_weights)
        if c == bits - 1 and _sign_protected(i, fraction):
            keep[t] = False
    return keep


@njit(cache=True)
def _apply_values(words, positions, values, phys_bits):
    """Set the cells at ``positions`` to ``values`` in place."""
    for t in range(positions.size):
        p = positions[t]
        w = p // phys_bits
        _set_bit(words, w, p - w * phys_bits, values[t])
