"""When to stop drawing realisations at one operating point.

Fixed protocol (the paper's): exactly ``samples`` realisations.  Adaptive: after
at least ``min_samples``, stop at the first count n whose 95% CI half-width
t·max(s, std_floor)/√n is at most ``ci_half_width``, and never draw more than
``max_samples``.  The floor matters at low BER, where the first realisations
often tie (zero sample variance) although the next one may not; a floor of one
test image's worth of accuracy is the measurement's own resolution.

The decision is a pure function of the ordered values: an executor may compute
realisations speculatively in batches, and :meth:`StoppingRule.stop_count`
truncates to the same count a one-by-one run would stop at, so the table is
identical whatever the batch size or worker count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sram_models.errors import InputError
from wcatsim.montecarlo.stats import half_width


@dataclass(frozen=True)
class StoppingRule:
    """How many realisations a point gets."""

    samples: int = 50  # fixed-count protocol: the paper's 50 realisations per BER
    ci_half_width: float = 0.0  # accuracy points; > 0 switches to adaptive stopping
    min_samples: int = 10  # adaptive: never stop before this many (guards against early ties)
    max_samples: int = 200  # adaptive: never draw more (bounds the cost of a very noisy point)
    std_floor: float = 0.0  # accuracy points; the std used for stopping is at least this

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise InputError(f"samples must be >= 1, got {self.samples}")
        if not (self.ci_half_width >= 0 and math.isfinite(self.ci_half_width)):
            raise InputError(f"ci_half_width must be >= 0 accuracy points, got {self.ci_half_width}")
        if self.adaptive:
            if self.min_samples < 2:
                raise InputError(f"min_samples must be >= 2 for a CI, got {self.min_samples}")
            if self.max_samples < self.min_samples:
                raise InputError(
                    f"max_samples ({self.max_samples}) must be >= min_samples ({self.min_samples})"
                )
        if self.std_floor < 0:
            raise InputError(f"std_floor must be >= 0, got {self.std_floor}")

    @property
    def adaptive(self) -> bool:
        return self.ci_half_width > 0

    @property
    def most(self) -> int:
        """The largest count this rule can ask for."""
        return self.max_samples if self.adaptive else self.samples

    def stop_count(self, values: Sequence[float]) -> int | None:
        """The count at which a one-by-one run over ``values`` stops, or None if it would go on."""
        n_have = len(values)
        if not self.adaptive:
            return self.samples if n_have >= self.samples else None
        arr = np.asarray(values, dtype=np.float64)
        for n in range(self.min_samples, min(n_have, self.max_samples) + 1):
            std = float(arr[:n].std(ddof=1))
            if half_width(max(std, self.std_floor), n) <= self.ci_half_width:
                return n
        return self.max_samples if n_have >= self.max_samples else None

    def next_request(self, n_have: int, parallelism: int = 1) -> int:
        """How many more realisations to compute now (the start, then one per free worker)."""
        if n_have == 0:
            return self.min_samples if self.adaptive else self.samples
        if not self.adaptive:
            return max(0, self.samples - n_have)
        return max(0, min(max(1, parallelism), self.max_samples - n_have))
