"""Statistics of a Monte Carlo point: mean, spread and a Student-t confidence interval.

Realisations at one operating point are independent draws of the fault pattern,
so the mean accuracy's 95% confidence interval is mean ± t(0.975, n-1)·s/√n with
the sample standard deviation s (ddof=1).  Student t, not the normal quantile:
at the 10-50 realisations used here t is 2.26-2.01 where the normal gives 1.96,
and a CI that is too narrow is the one error a reader cannot detect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95  # the paper's and the field's usual level


def t_quantile(n: int, confidence: float = CONFIDENCE) -> float:
    """Two-sided Student-t quantile for a mean of ``n`` values (``n - 1`` degrees of freedom)."""
    if n < 2:
        return math.inf
    from scipy.stats import t

    return float(t.ppf(0.5 + confidence / 2.0, n - 1))


def half_width(std: float, n: int, confidence: float = CONFIDENCE) -> float:
    """Half-width of the CI of a mean of ``n`` values with sample standard deviation ``std``."""
    if n < 2:
        return math.inf
    return t_quantile(n, confidence) * std / math.sqrt(n)


@dataclass(frozen=True)
class Summary:
    """Statistics of the accuracies (percent) of one operating point's realisations."""

    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1); 0 for a single value
    min: float
    max: float
    ci_low: float  # 95% CI of the mean; NaN for a single value (no spread can be estimated)
    ci_high: float

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2.0


def summarize(
    values: Sequence[float], confidence: float = CONFIDENCE, bounds: tuple[float, float] | None = None
) -> Summary:
    """Mean, std, min, max and the Student-t CI of the mean of ``values``.

    ``bounds``: the range the quantity cannot leave (accuracy: 0..100 percent).  The true mean lies
    inside it, so the CI is intersected with it; coverage is unchanged and a table never shows an
    accuracy interval reaching past 100%.
    """
    arr = np.asarray(values, dtype=np.float64)
    n = int(arr.size)
    if n == 0:
        raise ValueError("summarize needs at least one value")
    mean = float(arr.mean())
    if n == 1:
        return Summary(1, mean, 0.0, mean, mean, math.nan, math.nan)
    std = float(arr.std(ddof=1))
    if float(arr.min()) == float(arr.max()):
        std = 0.0  # identical values: no rounding residue in the spread
        mean = float(arr[0])
    hw = half_width(std, n, confidence)
    low, high = mean - hw, mean + hw
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Summary(n, mean, std, float(arr.min()), float(arr.max()), low, high)


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """Statistics of ``a - b`` realisation by realisation (common random numbers).

    Two models evaluated with the same base seed see the same fault positions in
    realisation i, so their accuracy difference is estimated from the paired
    differences: its CI is far narrower than the two separate CIs suggest.
    """
    a_arr = np.asarray(a, dtype=np.float64)
    b_arr = np.asarray(b, dtype=np.float64)
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"paired_difference needs equal counts, got {a_arr.size} and {b_arr.size}")
    return summarize(a_arr - b_arr, confidence)
