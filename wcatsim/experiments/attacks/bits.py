"""Bit maths on N-bit two's-complement weight codes: the part of the Bit-Flip Attack that is pure arithmetic.

A code ``c`` in ``[-2^(N-1), 2^(N-1)-1]`` is stored as N bits ``b_0 .. b_(N-1)`` with

    c = sum_{i < N-1} b_i 2^i  -  b_(N-1) 2^(N-1)

so the value of bit ``i`` is ``2^i`` and that of the sign bit ``-2^(N-1)`` (Rakin et al., ICCV 2019,
eq. 2).  Flipping bit ``i`` from ``b`` to ``1-b`` changes the code by ``(1 - 2b) * value_i`` and the
dequantized weight ``w = c * step`` by ``step`` times that, so to first order the loss changes by

    dL = (dL/dw * step * value_i) * (1 - 2b)  =  g_bit * (1 - 2b).

``g_bit`` is the *bit gradient*; a flip raises the loss (to first order) only 0 -> 1 where ``g_bit > 0``
and 1 -> 0 where ``g_bit < 0``.  Everything here works on torch tensors and is exact integer
arithmetic (bit gradients in float64).
"""

from __future__ import annotations

import torch

from sram_models.errors import InputError
from wcatsim.config.quant import MAX_BITS, MIN_BITS
from wcatsim.train.quant.functions import flip_bits, grid_bounds, to_unsigned


def _check_bits(bits: int) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise InputError(f"bit width {bits!r} is not an integer in {MIN_BITS}..{MAX_BITS}")


def bit_values(bits: int) -> torch.Tensor:
    """Two's-complement value of each bit position, LSB first: ``[1, 2, .., 2^(N-2), -2^(N-1)]``."""
    _check_bits(bits)
    values = [1 << i for i in range(bits - 1)] + [-(1 << (bits - 1))]
    return torch.tensor(values, dtype=torch.int64)


def code_bits(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """The stored bits of ``codes``: shape ``codes.shape + (N,)``, LSB first, int64 0/1.

    Raises InputError for a code outside the N-bit grid (it could not be stored in N bits).
    """
    _check_bits(bits)
    lo, hi = grid_bounds(bits)
    if codes.numel() and (int(codes.min()) < lo or int(codes.max()) > hi):
        raise InputError(f"codes outside the {bits}-bit grid {lo}..{hi}: not a {bits}-bit weight image")
    shifts = torch.arange(bits, dtype=torch.int64, device=codes.device)
    return (to_unsigned(codes, bits).unsqueeze(-1) >> shifts) & 1


def codes_from_bits(bit_tensor: torch.Tensor, bits: int) -> torch.Tensor:
    """Inverse of :func:`code_bits`: int16 codes from a ``(..., N)`` 0/1 tensor."""
    values = bit_values(bits).to(bit_tensor.device)
    return (bit_tensor.to(torch.int64) * values).sum(-1).to(torch.int16)


def flip_bit(codes: torch.Tensor, bit: torch.Tensor | int, bits: int) -> torch.Tensor:
    """``codes`` with bit ``bit`` (0 = LSB, N-1 = sign) flipped, elementwise; same dtype as ``codes``."""
    _check_bits(bits)
    bit_t = torch.as_tensor(bit, dtype=torch.int64, device=codes.device)
    if bit_t.numel() and (int(bit_t.min()) < 0 or int(bit_t.max()) >= bits):
        raise InputError(f"bit position outside 0..{bits - 1}")
    mask = torch.ones_like(bit_t) << bit_t
    return flip_bits(codes, mask.expand(codes.shape) if mask.dim() == 0 else mask, bits).to(codes.dtype)


def bit_gradients(weight_grad: torch.Tensor, step: float, bits: int) -> torch.Tensor:
    """``dL/dw * step * value_i`` for every bit: shape ``weight_grad.shape + (N,)``, float64.

    Computed as ``(g * step) * value`` in float64 so that the slow reference (Python floats) and this
    give bit-identical numbers, and ties break the same way.
    """
    values = bit_values(bits).to(device=weight_grad.device, dtype=torch.float64)
    return (weight_grad.to(torch.float64) * float(step)).unsqueeze(-1) * values


def harmful_mask(bit_states: torch.Tensor, bit_grads: torch.Tensor) -> torch.Tensor:
    """True where flipping the bit raises the loss to first order: 0 -> 1 with g > 0, 1 -> 0 with g < 0."""
    return ((bit_states == 0) & (bit_grads > 0)) | ((bit_states == 1) & (bit_grads < 0))


def masked_bit_gradients(
    codes: torch.Tensor, weight_grad: torch.Tensor, step: float, bits: int
) -> torch.Tensor:
    """Bit gradients with the flips that cannot raise the loss set to exactly 0 (shape ``(..., N)``)."""
    grads = bit_gradients(weight_grad, step, bits)
    states = code_bits(codes, bits).to(grads.device)
    return torch.where(harmful_mask(states, grads), grads, torch.zeros_like(grads))
