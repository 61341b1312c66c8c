"""The fake-quant forwards with their hand-written backwards (torch.autograd.Function).

Every forward returns ``codes * step`` with ``codes`` a float tensor of integers and ``step`` a 0-dim
float32 tensor, so that running from an integer image (``codes.to(float32) * step``) gives the same
bits.  Bit-error-aware training flips bits of the codes inside the forward; the backward ignores the
flips (straight-through), as in RandBET (Stutz et al., MLSys 2021) and the WCAT code's ``inject_noise``.
"""

from __future__ import annotations

import math

import torch

from .functions import grid_bounds, half_levels, quantize_to_grid, random_bit_flips


def _maybe_flip(codes: torch.Tensor, bits: int, ber: float) -> torch.Tensor:
    return random_bit_flips(codes, ber, bits) if ber > 0 else codes


class ClampRoundSTE(torch.autograd.Function):
    """Fixed range r (maxabs, wclip, plclip): clamp w to [-r, r], step = r / 2^(N-1), round, clamp to grid.

    Backward: the weight gradient passes where |w| <= r and is zero outside (as torch.clamp); with
    r = max|w| (maxabs) that is everything.  The range gets no gradient.
    """

    @staticmethod
    def forward(ctx, w: torch.Tensor, w_range: torch.Tensor, bits: int, ber: float) -> torch.Tensor:
        step = w_range / half_levels(bits)
        codes = quantize_to_grid(torch.clamp(w, -w_range, w_range), step, bits)
        ctx.save_for_backward(w, w_range)
        return _maybe_flip(codes, bits, ber) * step

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        w, w_range = ctx.saved_tensors
        return grad * (w.abs() <= w_range).to(grad.dtype), None, None, None


class WcatFakeQuant(torch.autograd.Function):
    """WCAT (Chitsaz et al., TMLR 2023): learned range alpha.

    Forward: clamp w to [-alpha, alpha], step = alpha / 2^(N-1), round (straight-through), clamp to grid.
    Backward: d/dalpha of the clamp is +1 where w > alpha, -1 where w < -alpha, 0 inside, summed over the
    layer and scaled by 1/sqrt(numel); the step is treated as a constant (no rounding-error term), as in
    the authors' code.  Weight gradient through the clamp: ste = 1 everywhere, pwl = 0 outside,
    mad = alpha/|w| outside.
    """

    @staticmethod
    def forward(ctx, w: torch.Tensor, alpha: torch.Tensor, bits: int, clamp_grad: str, ber: float):
        step = alpha / half_levels(bits)
        codes = quantize_to_grid(torch.clamp(w, -alpha, alpha), step, bits)
        ctx.save_for_backward(w, alpha)
        ctx.clamp_grad = clamp_grad
        return _maybe_flip(codes, bits, ber) * step

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        w, alpha = ctx.saved_tensors
        above = w > alpha
        below = w < -alpha
        grad_alpha = None
        if ctx.needs_input_grad[1]:
            pull = grad * above.to(grad.dtype) - grad * below.to(grad.dtype)
            grad_alpha = (pull.sum() / math.sqrt(w.numel())).reshape(alpha.shape)
        grad_w = None
        if ctx.needs_input_grad[0]:
            outside = above | below
            if ctx.clamp_grad == "ste":
                grad_w = grad
            elif ctx.clamp_grad == "pwl":
                grad_w = grad * (~outside).to(grad.dtype)
            else:  # mad
                scale = torch.where(outside, alpha / w.abs().clamp_min(torch.finfo(w.dtype).tiny), 1.0)
                grad_w = grad * scale
        return grad_w, grad_alpha, None, None, None


class LsqFakeQuant(torch.autograd.Function):
    """LSQ (Esser et al., ICLR 2020): learned step s; codes = round(clamp(w / s, -Qn, Qp)).

    Backward: d/dw = 1 inside the grid, 0 outside (v = w / s).  The step's gradient, with
    g = 1 / sqrt(Qp * numel), by ``gradient``:

    - ``"paper"`` (LSQ, eq. 3 with the gradient scale of section 2.2): g * (round(v) - v) inside the grid,
      g * (-Qn) below, g * Qp above, summed over the layer;
    - ``"wcat_code"`` (kmchiti/WCAT ``LSQ``: the gradient scale is applied to the step that divides w,
      but the codes are multiplied back by the unscaled step): round(v) - g * v inside, -Qn or Qp
      outside, unscaled -- about 1/g times the paper's (g is ~1/300 for a 4-bit ResNet-20 layer).
    """

    @staticmethod
    def forward(ctx, w: torch.Tensor, step: torch.Tensor, bits: int, ber: float, gradient: str = "paper"):
        qmin, qmax = grid_bounds(bits)
        v = w / step
        codes = torch.round(torch.clamp(v, qmin, qmax))
        ctx.save_for_backward(v)
        ctx.bits = bits
        ctx.gradient = gradient
        return _maybe_flip(codes, bits, ber) * step

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (v,) = ctx.saved_tensors
        qmin, qmax = grid_bounds(ctx.bits)
        inside = (v >= qmin) & (v <= qmax)
        grad_step = None
        if ctx.needs_input_grad[1]:
            scale = 1.0 / math.sqrt(qmax * v.numel())
            edge = torch.where(v < qmin, float(qmin), float(qmax))
            if ctx.gradient == "wcat_code":
                local = torch.where(inside, torch.round(v) - scale * v, edge)
                grad_step = (grad * local).sum().reshape(())
            else:
                local = torch.where(inside, torch.round(v) - v, edge)
                grad_step = ((grad * local).sum() * scale).reshape(())
        grad_w = grad * inside.to(grad.dtype) if ctx.needs_input_grad[0] else None
        return grad_w, grad_step, None, None, None


class PositiveRange(torch.autograd.Function):
    """A learned range that stays positive and can always recover: r = max(|p|, floor).

    The quantity used is the magnitude of the parameter p, never less than ``floor`` (a positive tensor,
    no gradient).  Backward: dr/dp = sign(p) (+1 at p = 0), *also below the floor* (straight through):
    a clamp such as ``p.clamp_min(floor)`` has zero gradient below the floor, so one optimiser step that
    pushed p under it trapped the range there for good.  Here a step that overshoots zero lands on the
    mirror image |p| (the same model the positive value gives), and a range held at the floor still
    receives the loss's pull and can leave it.  For p > floor, r = p exactly (bit for bit).
    """

    @staticmethod
    def forward(ctx, p: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(p)
        return torch.maximum(p.abs(), floor)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (p,) = ctx.saved_tensors
        return grad * torch.where(p < 0, -1.0, 1.0).to(grad.dtype), None
