"""Plain quantization maths on tensors: the integer grid, rounding, two's complement and bit flips.

Weights are quantized per layer, signed and symmetric, to N bits (2..8) on the
two's complement grid ``[-2^(N-1), 2^(N-1)-1]``.  A code ``q`` stands for the
weight ``q * step``.  Codes are carried as float tensors holding integers in the
fake-quant forward (so that ``q * step`` there is the very same float32 product
as ``codes.to(float32) * step`` when running from an integer image) and as int16
tensors in a weight image.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch


def grid_bounds(bits: int) -> tuple[int, int]:
    """The smallest and largest code of the signed N-bit two's complement grid."""
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def half_levels(bits: int) -> int:
    """2^(N-1): the number of steps between 0 and the clipping range (range = step * 2^(N-1))."""
    return 2 ** (bits - 1)


def quantize_to_grid(w: torch.Tensor, step: torch.Tensor, bits: int) -> torch.Tensor:
    """Codes of ``w`` (float, integer valued): round(w / step) (half to even), clamped to the grid."""
    qmin, qmax = grid_bounds(bits)
    return torch.clamp(torch.round(w / step), qmin, qmax)


def dequantize(codes: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """The weights a code tensor stands for: ``codes.to(float32) * step`` (the one product everywhere)."""
    return codes.to(torch.float32) * step


def to_unsigned(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Two's complement: signed integer codes -> the N-bit pattern as an unsigned integer (int64)."""
    return codes.to(torch.int64) & (2**bits - 1)


def from_unsigned(patterns: torch.Tensor, bits: int) -> torch.Tensor:
    """Inverse of :func:`to_unsigned`: N-bit patterns -> signed codes (int64)."""
    patterns = patterns.to(torch.int64)
    return torch.where(patterns >= 2 ** (bits - 1), patterns - 2**bits, patterns)


def flip_bits(codes: torch.Tensor, mask: torch.Tensor, bits: int) -> torch.Tensor:
    """XOR the stored N-bit patterns of ``codes`` with ``mask`` (same shape); returns signed int64 codes."""
    return from_unsigned(to_unsigned(codes, bits) ^ (mask.to(torch.int64) & (2**bits - 1)), bits)


def random_flip_mask(
    shape: torch.Size, bits: int, p: float, device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A mask in which every one of the N bits of every code is set independently with probability ``p``."""
    mask = torch.zeros(shape, dtype=torch.int64, device=device)
    for bit in range(bits):
        hit = torch.rand(shape, device=device, generator=generator) < p
        mask |= hit.to(torch.int64) << bit
    return mask


def random_bit_flips(
    codes: torch.Tensor, p: float, bits: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Codes read back from a memory in which every stored bit flipped with probability ``p`` (same dtype)."""
    if p <= 0.0:
        return codes
    mask = random_flip_mask(codes.shape, bits, p, device=codes.device, generator=generator)
    return flip_bits(codes, mask, bits).to(codes.dtype)


@lru_cache(maxsize=64)
def flip_moments(bits: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """For every code c of the grid, E[c'] and E[c'^2] where c' is c read with every bit flipped w.p. ``p``.

    Summed exactly over the 2^N error patterns e (probability p^|e| (1-p)^(N-|e|)).  Index i of the
    returned float64 arrays belongs to code ``qmin + i``.  Used by the noisy-MSE range initialiser:
    E[(c' s - w)^2] = s^2 E[c'^2] - 2 s w E[c'] + w^2.  Cached (the range search calls it per candidate);
    the arrays are read-only.
    """
    qmin, qmax = grid_bounds(bits)
    n = 2**bits
    first = np.zeros(n)
    second = np.zeros(n)
    for index, code in enumerate(range(qmin, qmax + 1)):
        pattern = code & (n - 1)
        for error in range(n):
            weight = bin(error).count("1")
            prob = p**weight * (1.0 - p) ** (bits - weight)
            read = pattern ^ error
            value = read - n if read >= n // 2 else read
            first[index] += prob * value
            second[index] += prob * value * value
    first.flags.writeable = False
    second.flags.writeable = False
    return first, second
