"""Initial clipping ranges alpha for the WCAT quantizer (and the LSQ step), from a layer's weights.

All functions take the float weights and return a positive Python float in weight units, never larger
than max|w| (a range above max|w| only wastes codes).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from .functions import flip_moments, grid_bounds, half_levels

# SAWB (Choi et al. 2018, "Bridging the accuracy gap for 2-bit quantized neural networks (QNN)",
# arXiv:1805.06085): alpha = c1 * sqrt(E[w^2]) - c2 * E[|w|].  The published fit is given as
# (z1, z2) per bit width with c1 = 1/z1 and c2 = z2/z1; the values below are those of the WCAT authors'
# code (get_scale, z_typical = {2: [0.311, 0.678], 4: [0.077, 1.013], 8: [0.027, 1.114]}).  Only 2, 4 and
# 8 bits were fitted.
SAWB_Z = {2: (0.311, 0.678), 4: (0.077, 1.013), 8: (0.027, 1.114)}
SAWB_COEFFICIENTS = {bits: (1.0 / z1, z2 / z1) for bits, (z1, z2) in SAWB_Z.items()}

# Ranges are searched on (MIN_RANGE_FRACTION * max|w|, max|w|]: below a thousandth of the largest weight
# a layer would be all zeros.
MIN_RANGE_FRACTION = 1e-3
# number of grid points scanned before the bounded scipy refinement (the MSE is piecewise smooth with
# many local minima; the scan finds the right basin)
SCAN_POINTS = 64


def _as_numpy(w: torch.Tensor) -> np.ndarray:
    return w.detach().to("cpu", torch.float64).numpy().ravel()


def max_abs_range(w: torch.Tensor) -> float:
    """max|w| (1.0 for an all-zero layer, so the step stays positive)."""
    value = float(w.detach().abs().max()) if w.numel() else 0.0
    return value if value > 0 else 1.0


def sawb_range(w: torch.Tensor, bits: int) -> float:
    """SAWB: c1 * sqrt(E[w^2]) - c2 * E[|w|], clipped into (0, max|w|] (falls back to max|w| if <= 0)."""
    if bits not in SAWB_COEFFICIENTS:
        raise ValueError(f"SAWB has coefficients for {sorted(SAWB_COEFFICIENTS)} bits, not {bits}")
    c1, c2 = SAWB_COEFFICIENTS[bits]
    x = _as_numpy(w)
    alpha = c1 * math.sqrt(float(np.mean(x * x))) - c2 * float(np.mean(np.abs(x)))
    top = max_abs_range(w)
    return top if not alpha > 0 else min(alpha, top)


def expected_mse(x: np.ndarray, alpha: float, bits: int, p: float = 0.0) -> float:
    """Mean over weights of E[(q' * step - w)^2], q the code of w in range alpha, q' q read with every
    stored bit flipped with probability p (exact over the 2^N patterns; p = 0 is the plain MSE)."""
    qmin, qmax = grid_bounds(bits)
    step = alpha / half_levels(bits)
    codes = np.clip(np.round(np.clip(x, -alpha, alpha) / step), qmin, qmax).astype(np.int64)
    if p == 0.0:
        return float(np.mean((codes * step - x) ** 2))
    first, second = flip_moments(bits, p)
    index = codes - qmin
    return float(np.mean(step * step * second[index] - 2.0 * step * x * first[index] + x * x))


def minimise_mse_range(w: torch.Tensor, bits: int, p: float = 0.0) -> float:
    """The range alpha in (0, max|w|] that minimises :func:`expected_mse` (scan, then scipy's bounded
    Brent minimiser in the best scan interval)."""
    x = _as_numpy(w)
    top = max_abs_range(w)
    grid = np.linspace(MIN_RANGE_FRACTION * top, top, SCAN_POINTS)
    values = [expected_mse(x, a, bits, p) for a in grid]
    best = int(np.argmin(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    result = minimize_scalar(
        lambda a: expected_mse(x, float(a), bits, p), bounds=(low, high), method="bounded"
    )
    alpha = float(result.x)
    return alpha if expected_mse(x, alpha, bits, p) <= values[best] else float(grid[best])


def lsq_initial_step(w: torch.Tensor, bits: int) -> float:
    """LSQ's initial step 2 * E[|w|] / sqrt(Qp) (Esser et al., ICLR 2020, section 2.1)."""
    _, qmax = grid_bounds(bits)
    value = 2.0 * float(w.detach().abs().mean()) / math.sqrt(qmax)
    return value if value > 0 else 1.0 / half_levels(bits)


def initial_range(w: torch.Tensor, method: str, bits: int, ber: float = 0.0) -> float:
    """Dispatch on QuantConfig.range_init: max_abs | sawb | mse | noisy_mse."""
    if method == "max_abs":
        return max_abs_range(w)
    if method == "sawb":
        return sawb_range(w, bits)
    if method == "mse":
        return minimise_mse_range(w, bits, 0.0)
    if method == "noisy_mse":
        return minimise_mse_range(w, bits, ber)
    raise ValueError(f"unknown range_init {method!r}")
