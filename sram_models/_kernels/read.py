"""SECDED and parity encoding, and what a read through a protection scheme returns."""

from __future__ import annotations

import numpy as np
from numba import njit

from sram_models._kernels.bits import U0, U1, _get_bit, _low_mask, _popcount, _set_bit

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
