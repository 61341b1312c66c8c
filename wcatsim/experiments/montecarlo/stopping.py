"""When to stop drawing realisations at one operating point, and the CI that goes with the count.

Fixed protocol (the paper's): exactly ``samples`` realisations, Student-t 95% CI.

Adaptive (``ci_half_width`` = h > 0): Stein's two-stage procedure (C. Stein, 1945, "A two-sample test
for a linear hypothesis whose power is independent of the variance", Annals of Mathematical
Statistics 16(3), 243-258).  A pilot of n0 = ``min_samples`` realisations (default 50, the paper's
count) gives the sample standard deviation s0 (at least ``std_floor``); the point then gets

    N = min(max_samples, max(n0, ceil((t(0.975, n0 - 1) · s0 / h)^2)))

realisations in all.  N depends on the pilot alone, never on the values after it.  The reported 95%
CI is the hull of two intervals around the mean of all N values (:meth:`StoppingRule.summarize`):

- Stein's, mean ± t(0.975, n0 - 1)·s0/√N: exact for normal values whatever N the pilot chose (the
  second stage is independent of s0), half-width <= h unless N hit the cap, and at N = n0 it is the
  fixed protocol's t-interval of the same values;
- Hall's skewness-corrected interval of all N values (P. Hall, 1992, "On the removal of skewness by
  transformation", JRSS-B 54(1), 221-228;
  :func:`~wcatsim.experiments.montecarlo.stats.skew_corrected_interval`), longer on the side of a rare
  collapse.  Without it, the plain t-interval of the N >= 50 values
  covers a 5% collapse mixture 5 points less often than the fixed protocol does (0.87 vs 0.92 in
  ``benchmarks/coverage.py``): at 50 values the t-interval of a sample that holds a collapse is
  conservative, at 200 it is not, and the sweeps whose pilot saw no collapse are missed either way.

The rule it replaces ("stop at the first n >= 10 with t·s/√n <= h") stopped whenever the first values
happened to agree (optional stopping); on accuracies of 95 ± 0.5 points with a 2% collapse to 60 its
CI covered the true mean in 19% of sweeps (issue 9).

Why a pilot of 50, and why the rule never saves realisations on calm points: a collapse of
probability p is missed by n draws with probability (1 - p)^n, 36% for p = 2% and n = 50, and a sweep
that saw no collapse reports a narrow interval around the wrong mean whatever rule it used.  No rule
sees rare events more often than the draws it makes, so a rule as honest as the paper's 50
realisations needs as many on every point; the second stage only adds draws where the pilot's spread
says 50 are not enough for h.  A pilot of 20 covers the 2% mixture in 31% of sweeps (fixed 50: 62%).

The alternative measured in ``benchmarks/coverage.py --confidence-sequence``, the predictable plug-in
empirical-Bernstein confidence sequence for values in [0, 100] (valid under optional stopping;
I. Waudby-Smith and A. Ramdas, 2024, "Estimating means of bounded random variables by betting",
JRSS-B 86(1), 1-27), needs about 1,500 draws on N(95, 0.5²) to reach h = 0.5 (30 x the paper's 50):
its width pays for the whole 0..100 range, not for the spread.

The reported interval can be a hair wider than h: Hall's interval uses the spread of all N values,
which exceeds the pilot's about half the time, and a skewed spread (subset accuracies near 100%) widens
it more (the allocated design's ResNet-20 points reached 0.501-0.512 against 0.5 in
``benchmarks/time_to_table.py``).  ``hull_within`` (set by the allocated design's final stage) goes on
past N until the reported interval itself is within h, or the cap.

The decision is a pure function of the ordered values: an executor may compute realisations
speculatively in batches, and :meth:`StoppingRule.stop_count` truncates to the same count a
one-by-one run would stop at, so the table is identical whatever the batch size or worker count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from sram_models.errors import InputError
from wcatsim.experiments.montecarlo.stats import Summary, skew_corrected_interval, summarize, t_quantile

# Stein's pilot: the paper's 50 realisations per BER (kmchiti/WCAT random-flip protocol).  Fewer
# misses rare collapses more often than the fixed protocol does (a 2% collapse: 0.98^n unseen).
PILOT_SAMPLES = 50
# The second stage's cap: 4 x the pilot, the cost bound of a very noisy point (where the CI then
# stays wider than asked; the table shows its true width).  200 reaches h = 0.5 for a spread up
# to s0 = 0.5·√200 / t(49) ≈ 3.5 points.  A larger cap narrows the extended intervals toward their
# asymptotic coverage: at 400 the 5% collapse mixture is covered 2.5 points less often than by the
# fixed protocol (benchmarks/coverage.py --max-samples 400), at 200 within 1 point.
MAX_SAMPLES = 200
# (t·s0/h)^2 is compared with an integer count: a relative slack of this size keeps a float product
# that should be exactly n (e.g. h taken from a CI of n values) from rounding up to n + 1.
_ROUNDING = 1e-12


@dataclass(frozen=True)
class StoppingRule:
    """How many realisations a point gets."""

    samples: int = 50  # fixed-count protocol: the paper's 50 realisations per BER
    ci_half_width: float = 0.0  # accuracy points; > 0 switches to the adaptive (two-stage) rule
    min_samples: int = PILOT_SAMPLES  # adaptive: the pilot, whose spread sizes the second stage
    max_samples: int = MAX_SAMPLES  # adaptive: never draw more (bounds the cost of a very noisy point)
    std_floor: float = 0.0  # accuracy points; the pilot's std is taken as at least this
    # adaptive: go on past Stein's N until the reported interval (the hull with Hall's, which a skewed or
    # growing spread widens past h) is within h, or the cap (the allocated design's final stage)
    hull_within: bool = False

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise InputError(f"samples must be >= 1, got {self.samples}")
        if not (self.ci_half_width >= 0 and math.isfinite(self.ci_half_width)):
            raise InputError(f"ci_half_width must be >= 0 accuracy points, got {self.ci_half_width}")
        if self.adaptive:
            if self.min_samples < 2:
                raise InputError(f"min_samples (the pilot) must be >= 2 for a spread, got {self.min_samples}")
            if self.max_samples < self.min_samples:
                raise InputError(
                    f"max_samples ({self.max_samples}) must be >= min_samples ({self.min_samples})"
                )
        if not (self.std_floor >= 0 and math.isfinite(self.std_floor)):
            raise InputError(f"std_floor must be >= 0, got {self.std_floor}")

    @property
    def adaptive(self) -> bool:
        """True when the rule stops at a CI half-width, False for a fixed count."""
        return self.ci_half_width > 0

    @property
    def most(self) -> int:
        """The largest count this rule can ask for."""
        return self.max_samples if self.adaptive else self.samples

    def pilot_std(self, values: Sequence[float]) -> float:
        """s0: the sample std (ddof=1) of the first ``min_samples`` values, at least ``std_floor``."""
        n0 = self.min_samples
        arr = np.asarray(values, dtype=np.float64)[:n0]
        if arr.size < n0:
            raise ValueError(f"the pilot needs {n0} values, got {arr.size}")
        std = 0.0 if float(arr.min()) == float(arr.max()) else float(arr.std(ddof=1))
        return max(std, self.std_floor)

    def total_count(self, pilot: Sequence[float]) -> int:
        """Stein's N from the ``min_samples`` pilot values (the first ones of a point)."""
        n0 = self.min_samples
        need = (t_quantile(n0) * self.pilot_std(pilot) / self.ci_half_width) ** 2
        n = max(n0, math.ceil(need * (1.0 - _ROUNDING))) if math.isfinite(need) else self.max_samples
        return min(n, self.max_samples)

    def stop_count(self, values: Sequence[float]) -> int | None:
        """Return the count at which a one-by-one run over ``values`` stops, or None if it would go on."""
        n_have = len(values)
        if not self.adaptive:
            return self.samples if n_have >= self.samples else None
        if n_have < self.min_samples:
            return None
        return self._stop_or_next(values)[0]

    def _stop_or_next(self, values: Sequence[float]) -> tuple[int | None, int]:
        """Return (the stop count if ``values`` reach it, else None; the count to have next).

        Stein's N; with ``hull_within``, then the counts k, k' = max(k + 1, ceil(k (w_k / h)^2)), ...
        while the reported interval of the first k values has half-width w_k > h (the cap ends the
        chain).  Each count depends on the values before it only, so the stop is a pure function of the
        ordered values, as Stein's N is.
        """
        k = self.total_count(values)
        while k <= len(values):
            following = self._past_hull(values, k) if self.hull_within else None
            if following is None:
                return k, k
            k = following
        return None, k

    def _past_hull(self, values: Sequence[float], k: int) -> int | None:
        """Return None when the first ``k`` values' reported interval is within h (or k is the cap).

        Else the next count to check (the width shrinks about as 1/sqrt(k)).
        """
        if k >= self.max_samples:
            return None
        s = self.summarize(values[:k])  # no bounds: bounds only narrow the interval a table reports
        width = (s.ci_high - s.ci_low) / 2
        if not width > self.ci_half_width * (1.0 + _ROUNDING):
            return None
        return min(self.max_samples, max(k + 1, math.ceil(k * (width / self.ci_half_width) ** 2)))

    def summarize(self, values: Sequence[float], bounds: tuple[float, float] | None = None) -> Summary:
        """Return the statistics of a point's values with the CI this rule stands for.

        Fixed: the Student-t interval of :func:`~wcatsim.experiments.montecarlo.stats.summarize`.
        Adaptive (the ``N`` values :meth:`stop_count` stopped at): the hull of Stein's interval,
        mean ± t(n0-1)·s0/√N (exact for normal values whatever N the pilot chose; at N = n0 it is the
        t-interval of the pilot, i.e. the fixed protocol's), and Hall's skewness-corrected interval of
        all N values (:func:`~wcatsim.experiments.montecarlo.stats.skew_corrected_interval`), intersected
        with ``bounds``.
        """
        plain = summarize(values, bounds=bounds)
        if not self.adaptive or plain.n < self.min_samples:
            return plain
        hw = t_quantile(self.min_samples) * self.pilot_std(values) / math.sqrt(plain.n)
        low, high = skew_corrected_interval(values)
        low, high = min(low, plain.mean - hw), max(high, plain.mean + hw)
        if bounds is not None:
            low, high = max(low, bounds[0]), min(high, bounds[1])
        return replace(plain, ci_low=low, ci_high=high)

    def settings(self) -> dict[str, Any]:
        """Return the rule's fields and the interval it reports.

        That is what a result table's fingerprint must cover (a table made with the same counts under
        another CI procedure is another table).
        """
        if not self.adaptive:  # the adaptive bounds do not change a fixed-count table
            return {"samples": self.samples, "ci_procedure": "student_t"}
        # hull_within only where set: the tables of the plain adaptive rule keep their fingerprints
        fields = {k: v for k, v in asdict(self).items() if k != "samples" and (k != "hull_within" or v)}
        return {**fields, "ci_procedure": "stein1945_pilot+hall1992_skew"}

    def next_request(self, n_have: int, parallelism: int = 1, values: Sequence[float] | None = None) -> int:
        """How many more realisations to compute now.

        Fixed: the rest of ``samples``.  Adaptive: the rest of the pilot; after it, with the values so
        far in ``values``, exactly the rest of Stein's N; without them one per free worker (the
        engine then truncates to :meth:`stop_count`).
        """
        if not self.adaptive:
            return max(0, self.samples - n_have)
        if n_have < self.min_samples:
            return self.min_samples - n_have
        if values is not None and len(values) >= self.min_samples:
            stop, following = self._stop_or_next(values)
            return 0 if stop is not None else max(0, following - n_have)
        return max(0, min(max(1, parallelism), self.max_samples - n_have))
