"""Private numba kernels: packing, sparse fault sampling, SECDED, read statistics.

Every kernel works on plain arrays and scalars and takes an explicit 64-bit
seed.  Random numbers come from an inline SplitMix64 generator (Steele et al.,
OOPSLA 2014; passes BigCrush) whose state is a local variable of the kernel: a
result depends on the seed only, and a draw costs a few ns (numba's
``np.random.random`` costs about 25 ns a call here, more than the rest of a
flip).  The public classes in ``layout``/``faults`` validate input and
call these; nothing here checks its arguments.

Storage convention (see ``layout.py``): a memory image is a C-contiguous
``uint64`` array of shape ``(n_words, lanes)``; physical bit ``b`` of word ``w``
is bit ``b % 64`` of ``words[w, b // 64]``.  A cell index (``position``) is
``w * phys_bits + b``.  Bits ``[0, word_bits)`` of a word are data (weight
``s`` of the word at ``[s*bits, (s+1)*bits)``), then the Hamming check bits,
then the overall parity bit when SECDED is on (``parity-zero``: one parity bit after the data).

All unsigned arithmetic is written with explicit ``np.uint64`` casts: numba
turns mixed ``uint64``/``int64`` expressions into floats.
"""

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
FAST = {"nnan", "ninf", "nsz", "arcp", "contract"}
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def _next(state):
    """SplitMix64: (new state, 64 random bits)."""
    state = state + _GOLDEN
    x = state
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, x ^ (x >> np.uint64(31))


@njit(cache=True, inline="always")
def _uniform(state):
    """(new state, u) with u uniform on [0, 1) in steps of 2**-53."""
    state, x = _next(state)
    return state, np.float64(x >> np.uint64(11)) * _TO_UNIT


@njit(cache=True, inline="always")
def _gap(state, inv_log_q):
    """(new state, g): cells skipped before the next hit of a Bernoulli(p) sequence,
    inv_log_q = 1 / log(1 - p).  g = floor(log(u) / log(1-p)) with u on (0, 1] is
    exactly geometric: P(g >= k) = P(u <= (1-p)^k) = (1-p)^k."""
    state, x = _next(state)
    u = np.float64((x >> np.uint64(11)) + np.uint64(1)) * _TO_UNIT
    return state, np.floor(np.log(u) * inv_log_q)


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


# ---------------------------------------------------------------- SECDED (extended Hamming)
#
# ``hpos[b]`` is the Hamming position (1..n) of physical bit b: data bits take the
# positions that are not powers of two, check bit j sits at 2**j, and the overall
# parity bit has position 0 (it only enters the parity).  ``phys_of_hpos`` inverts it.


@njit(cache=True)
def _secded_encode(words, data_bits, hpos):
    """Compute check and parity bits of every word in place from its data bits."""
    n_words = words.shape[0]
    n_check = hpos.size - data_bits - 1  # Hamming check bits, without the parity bit
    for w in range(n_words):
        syn = 0
        par = U0
        for b in range(data_bits):
            if _get_bit(words, w, b):
                syn ^= hpos[b]
                par ^= U1
        for j in range(n_check):
            cb = (syn >> j) & 1
            _set_bit(words, w, data_bits + j, cb)
            if cb:
                par ^= U1
        _set_bit(words, w, data_bits + n_check, par)


@njit(cache=True, inline="always")
def _secded_decode_word(words, w, phys_bits, hpos, phys_of_hpos):
    """Correct word ``w`` in place; return 0 clean, 1 corrected, 2 detected (left as read)."""
    syn = 0
    par = 0
    for b in range(phys_bits):
        if _get_bit(words, w, b):
            syn ^= hpos[b]
            par ^= 1
    if par == 0:
        if syn == 0:
            return 0
        return 2  # even number of errors, at least two: detected, not correctable
    if syn == 0:
        _set_bit(words, w, phys_bits - 1, _get_bit(words, w, phys_bits - 1) ^ U1)
        return 1  # the overall parity bit itself failed
    if syn >= phys_of_hpos.size:
        return 2  # syndrome points outside the word: three or more errors
    b = phys_of_hpos[syn]
    _set_bit(words, w, b, _get_bit(words, w, b) ^ U1)
    return 1


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


# ---------------------------------------------------------------- protection: what a read gives
#
# Policies (ReadPolicy.code, sram_models.protection.registry): 0 plain, 1 SECDED, 2 SECDED with
# detected words zeroed, 3 one parity bit with odd-parity words zeroed, 4 bit masking (flagged bits
# read as the
# sign bit, a flagged sign bit zeroes the weight).  _read_word returns the scheme's view of the
# word: 0 nothing noticed, 1 corrected, 2 detected (and acted on).


@njit(cache=True)
def _parity_encode(words, data_bits):
    """Set the parity cell (physical bit ``data_bits``) of every word to the XOR of its data bits."""
    lanes = words.shape[1]
    for w in range(words.shape[0]):
        ones = 0
        for j in range(lanes):
            lo = j * 64
            if lo >= data_bits:
                break
            ones += _popcount(words[w, j] & _low_mask(data_bits - lo))
        _set_bit(words, w, data_bits, np.uint64(ones & 1))


@njit(cache=True, inline="always")
def _zero_data(words, w, data_bits):
    for j in range(words.shape[1]):
        lo = j * 64
        if lo >= data_bits:
            break
        words[w, j] &= ~_low_mask(data_bits - lo)


@njit(cache=True, inline="always")
def _get_field(words, w, off, bits):
    lane = off >> 6
    sh = off & 63
    v = words[w, lane] >> np.uint64(sh)
    if sh + bits > 64:
        v |= words[w, lane + 1] << np.uint64(64 - sh)
    return v & _low_mask(bits)


@njit(cache=True, inline="always")
def _set_field(words, w, off, bits, value):
    lane = off >> 6
    sh = off & 63
    m = _low_mask(bits)
    words[w, lane] = (words[w, lane] & ~(m << np.uint64(sh))) | ((value & m) << np.uint64(sh))
    if sh + bits > 64:
        rest = np.uint64(64 - sh)
        words[w, lane + 1] = (words[w, lane + 1] & ~(m >> rest)) | ((value & m) >> rest)


@njit(cache=True, inline="always")
def _mask_word(words, w, flags, fw, bits, per_word, n_used):
    """Bit masking of word ``w`` in place from the detector flags ``flags[fw]``; True if any flag."""
    any_flag = False
    top = np.uint64(bits - 1)
    for s in range(n_used):
        off = s * bits
        f = _get_field(flags, fw, off, bits)
        if f == U0:
            continue
        any_flag = True
        v = _get_field(words, w, off, bits)
        if (f >> top) & U1:
            v = U0  # the sign bit itself is faulty: the weight reads as zero
        elif (v >> top) & U1:
            v = v | f  # flagged bits take the (correct) sign bit's value
        else:
            v = v & ~f
        _set_field(words, w, off, bits, v)
    return any_flag


@njit(cache=True, inline="always")
def _read_word(
    words, w, policy, phys_bits, data_bits, bits, per_word, n_used, hpos, phys_of_hpos, flags, fw
):
    """Word ``w`` of ``words`` as the scheme returns it (in place); 0 nothing noticed, 1 corrected,
    2 detected.  ``n_used``: weights in this word; ``flags[fw]``: bit-mask detector flags."""
    if policy == 1 or policy == 2:
        s = _secded_decode_word(words, w, phys_bits, hpos, phys_of_hpos)
        if s == 2 and policy == 2:
            _zero_data(words, w, data_bits)
        return s
    if policy == 3:
        ones = 0
        for j in range(words.shape[1]):
            lo = j * 64
            if lo >= phys_bits:
                break
            ones += _popcount(words[w, j] & _low_mask(phys_bits - lo))
        if ones & 1:
            _zero_data(words, w, data_bits)
            return 2
        return 0
    if policy == 4:
        return 2 if _mask_word(words, w, flags, fw, bits, per_word, n_used) else 0
    return 0


@njit(cache=True)
def _read_all(words, flags, policy, phys_bits, data_bits, bits, per_word, n_weights, hpos, phys_of_hpos):
    """Every word as the scheme returns it, in place; returns (corrected, detected) in the scheme's view.

    ``flags`` (bit-mask only) has the shape of ``words``."""
    corrected = 0
    detected = 0
    for w in range(words.shape[0]):
        n_used = max(0, min(per_word, n_weights - w * per_word))
        s = _read_word(
            words, w, policy, phys_bits, data_bits, bits, per_word, n_used, hpos, phys_of_hpos, flags, w
        )
        if s == 1:
            corrected += 1
        elif s == 2:
            detected += 1
    return corrected, detected


@njit(cache=True)
def _read_stats(
    clean,
    raw,
    sorted_positions,
    phys_bits,
    data_bits,
    bits,
    per_word,
    n_weights,
    policy,
    hpos,
    phys_of_hpos,
    flags_out,
):
    """Over the words touched by ``sorted_positions``: (cells whose stored value differs, weight bits
    whose read value differs after the scheme's read, corrected, detected, miscorrected words).

    corrected: the scheme corrected the word and its weights read right; detected: the scheme
    flagged it; miscorrected: its weights read wrong and the scheme did not flag it (a wrong
    correction or an undetected error).  ``raw`` is not modified (the read works on a one-word
    scratch copy).  With policy 4 (bit masking) the detector's flags, the weight bits that read
    wrong, are written into ``flags_out`` (shape of ``raw``, zeroed by the caller)."""
    lanes = raw.shape[1]
    scratch = np.empty((1, lanes), np.uint64)
    word_flags = np.zeros((1, lanes), np.uint64)
    cells_changed = 0
    bits_changed = 0
    corrected = 0
    detected = 0
    miscorrected = 0
    prev = -1
    for t in range(sorted_positions.size):
        w = sorted_positions[t] // phys_bits
        if w == prev:
            continue
        prev = w
        n_used_w = max(0, min(per_word, n_weights - w * per_word))
        n_used = n_used_w * bits  # weight bits in this word
        for j in range(lanes):
            scratch[0, j] = raw[w, j]
            cells_changed += _popcount(raw[w, j] ^ clean[w, j])
        if policy == 4:
            for j in range(lanes):
                lo = j * 64
                m = _low_mask(n_used - lo) if lo < n_used else U0
                word_flags[0, j] = (raw[w, j] ^ clean[w, j]) & m
                flags_out[w, j] = word_flags[0, j]
        s = _read_word(
            scratch, 0, policy, phys_bits, data_bits, bits, per_word, n_used_w,
            hpos, phys_of_hpos, word_flags, 0,
        )  # fmt: skip
        wrong = 0
        for j in range(lanes):
            lo = j * 64
            if lo >= n_used:
                break
            m = _low_mask(n_used - lo)
            wrong += _popcount((scratch[0, j] ^ clean[w, j]) & m)
        bits_changed += wrong
        if s == 2:
            detected += 1
        elif wrong > 0:
            miscorrected += 1
        elif s == 1:
            corrected += 1
    return cells_changed, bits_changed, corrected, detected, miscorrected
