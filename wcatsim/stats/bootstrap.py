"""Percentile bootstrap over chips (and training seeds), paired across models that share them.

Two models evaluated with the same fault seed see the same faults on chip c (common random numbers),
and seed s of two quantizers shares ``trainer.seed = s``: resampling the same chip (and seed) indices
for both gives a paired bootstrap, whose interval for a difference is far narrower than the two
separate intervals suggest.  Plain NumPy; the resampling is drawn from one explicit seed, so a table
is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# 2000 resamples: the Monte-Carlo error of a 2.5% percentile is then about sqrt(.025 * .975 / 2000) =
# 0.35 percentage points of probability (Efron & Tibshirani 1993, ch. 19: 1000-2000 for percentile CIs).
DEFAULT_RESAMPLES = 2000
CONFIDENCE = 0.95


def resample_indices(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``(resamples, n)`` indices drawn uniformly with replacement from ``0..n-1``.

    Parameters
    ----------
    n : int
        How many units (chips, seeds) there are; at least 1.
    resamples : int
        How many bootstrap resamples.
    rng : numpy.random.Generator
        The generator (one draw of ``rng.integers(0, n, size=(resamples, n))``).
    """
    if n < 1 or resamples < 1:
        raise ValueError(f"resample_indices needs n >= 1 and resamples >= 1, got {n} and {resamples}")
    return rng.integers(0, n, size=(resamples, n))


def hierarchical_bootstrap(
    samples: Sequence[Sequence[np.ndarray]],
    statistic: Callable[[int, np.ndarray], float],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """Bootstrap draws of a statistic, resampling seeds and then chips, the same indices for every model.

    Parameters
    ----------
    samples : sequence of sequence of ndarray
        ``samples[m][s]``: model m, training seed s, an array whose first axis is the chip (the same
        chips, in the same order, for every model and seed: common random numbers).  Every model has
        the same number of seeds.
    statistic : callable
        ``statistic(m, chips)`` -> float: model m's statistic of one seed's resampled chips (``chips``
        is that seed's array indexed by the drawn chip indices).  A draw is the mean of the per-seed
        statistics over the drawn seeds.
    resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling (``numpy.random.default_rng(seed)``).

    Returns
    -------
    ndarray
        ``(models, resamples)`` draws.  Per resample: ``rng.integers`` draws the seed indices (one row
        of ``resample_indices(seeds, 1)``), then, for each drawn seed in turn, its chip indices; every
        model uses the same indices, so a difference of two rows is a paired bootstrap.

    Notes
    -----
    Two-level resampling (seeds, then chips within each seed; Davison & Hinkley 1997, sec. 3.8).  With
    one seed it is the plain bootstrap over chips.  With 3 seeds the seed level has only 10 distinct
    resamples: the interval is nominal and tends to be narrow (a bootstrap of n units has variance
    (n - 1)/n of the true one).
    """
    models = len(samples)
    seeds = len(samples[0])
    if models == 0 or seeds == 0 or any(len(m) != seeds for m in samples):
        raise ValueError("hierarchical_bootstrap: every model needs the same number (>= 1) of seeds")
    chips = int(np.asarray(samples[0][0]).shape[0])
    rng = np.random.default_rng(seed)
    draws = np.empty((models, resamples))
    for r in range(resamples):
        seed_idx = resample_indices(seeds, 1, rng)[0]
        chip_idx = [resample_indices(chips, 1, rng)[0] for _ in seed_idx]
        for m in range(models):
            values = [statistic(m, np.asarray(samples[m][s])[c])
                      for s, c in zip(seed_idx, chip_idx, strict=True)]  # fmt: skip
            draws[m, r] = float(np.mean(values))
    return draws


def percentile_interval(draws: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The percentile interval of bootstrap ``draws`` (``numpy.quantile``'s linear rule).

    Parameters
    ----------
    draws : array_like
        Bootstrap draws of one statistic.
    confidence : float
        Coverage, e.g. 0.95: the (1 - c)/2 and (1 + c)/2 quantiles.
    """
    arr = np.asarray(draws, dtype=np.float64)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(arr, [alpha, 1.0 - alpha])
    return float(low), float(high)


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Student-t interval of the mean of a few values (training seeds); None for fewer than two.

    Parameters
    ----------
    values : sequence of float
        One value per unit (seed).
    confidence : float
        Coverage of the interval.

    Notes
    -----
    ``mean ± t_{(1+c)/2, n-1} s / sqrt(n)`` with the sample standard deviation ``s`` (ddof 1): the
    interval for a handful of seeds, where a bootstrap has too few distinct resamples.
    """
    from scipy.stats import t as student_t

    arr = np.asarray(values, dtype=np.float64)
    if arr.size < 2:
        return None
    mean = float(arr.mean())
    quantile = float(student_t.ppf(0.5 + confidence / 2.0, arr.size - 1))
    half = quantile * float(arr.std(ddof=1)) / float(np.sqrt(arr.size))
    return mean - half, mean + half
