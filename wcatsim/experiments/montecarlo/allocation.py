"""Allocation of a nested Monte Carlo point: images per realisation and realisations, from a pilot.

The design (issue 18 section 1).  Realisation r read on a class-stratified subset of n of the N test
images gives an unbiased estimate a_r of its whole-set accuracy A_r
(:mod:`wcatsim.experiments.montecarlo.nested`), with

    Var(a_r) = s_b^2 + s_w^2 * (1/n - 1/N)

where s_b^2 is the variance of A_r across fault draws and s_w^2 = 100^2 * sum_c W_c S_c^2 the
per-image variance of correctness within a realisation (proportional stratified sampling with the
finite-population correction: W. G. Cochran, 1977, "Sampling Techniques", 3rd ed., eq. 5.6).  A point
of R realisations costs R * (c_r + c_i * n) seconds, c_r per realisation (the fault draw, reading the
codes into the model) and c_i per image (its forward pass).  Minimising the cost at a fixed variance
of the mean gives the classical optimum subsampling size of two-stage sampling (Cochran 1977, chapter 10,
"optimum sampling and subsampling fractions", with s_b^2 the between-unit component net of S_2^2 / M):

    n* = sqrt(c_r / c_i * s_w^2 / s_b^2),  clipped to [n_min, N]

and the realisations then follow from the half-width h: R = ceil((t(0.975, R - 1) / h)^2 * Var(a_r)).

Why a floor on R (:data:`MIN_REALISATIONS`), and why it may lower n below n*: the CI is only as good
as the draws that see a rare collapse, and the pilot rarely sees one (a 2% collapse is missed by a
20-draw pilot in 0.98^20 = 67% of points), so the pilot's s_b^2 cannot be trusted to size R near the
cliff.  200 realisations miss a 2% collapse in 0.98^200 = 1.8% of points; ``benchmarks/coverage.py``
measures what that gives.  When the floor binds, the least-cost design with R = 200 realisations is
the smallest n that still meets h (the cost R * (c_r + c_i * n) grows with n), so calm points, whose n*
is the whole set, get fewer images per realisation than n* (never more).  When the cap
(:data:`MAX_REALISATIONS`) binds, n grows toward the count that meets h with R at the cap; where even
the whole set cannot (the spread between realisations alone is too large), n stays at the least-cost
grid point and the CI stays wider than h (the table shows its true width).

The pilot (:func:`pilot_plan`): :data:`PILOT_REALISATIONS` realisations, half on a subset of
``n_hi`` = min(N, :data:`PILOT_IMAGES`) images and half on n_hi / 8 (at least n_min), so that the seconds
they take give c_r and c_i by a two-point fit of medians (:func:`measure_costs`; timed on this machine,
never assumed), and their accuracies and image variances give s_b^2 and s_w^2
(:func:`variance_components`).  The pilot's realisations are not reused: the final realisations are
fresh draws (other indices).  The pilot's 20 draws estimate s_b^2 poorly (net of the image term, its
relative standard error is near 60%), so the design's R is the first stage R0 of Stein's two-stage rule
at n images (:class:`~wcatsim.experiments.montecarlo.stopping.StoppingRule` with ``min_samples`` = R0):
R0's own spread tops the point up where the pilot was too optimistic, and the reported CI is that rule's
(Stein's interval, half-width <= h unless the cap binds, in a hull with Hall's skew-corrected one).

n* is rounded to a geometric grid of ratio 2^(1/4) (:func:`optimal_images`): the measured cost ratio
varies from run to run by a few percent, and the cost is flat near the optimum (a factor 2^(1/8) off n*
costs at most 0.2% more), so the rounding keeps the design, hence the table, stable across runs on one
machine.  A table that must be reproducible anywhere fixes ``cost_ratio`` (c_r / c_i in images).

Torch-free.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sram_models.errors import InputError
from wcatsim.experiments.montecarlo.stats import t_quantile

# Pilot realisations per point: 10 per subset size of the two-point cost fit (medians of 10 timings are
# stable to a few percent here), and a spread estimate good enough to size R where the floor does not bind.
PILOT_REALISATIONS = 20
# Images per realisation of the pilot's larger half (at most the test set): 1,024 is 2% of ImageNet's
# validation set, so a pilot costs about 10 * (1024 + 128) images, 2.3% of the paper's 50 x 50,000.
PILOT_IMAGES = 1024
# The pilot's smaller half reads n_hi / PILOT_SPLIT images: a factor 8 separates c_r from c_i well.
PILOT_SPLIT = 8
# Realisations a point gets at least: a collapse of probability 2% is then unseen in 0.98^200 = 1.8% of
# points (the adaptive rule's cap, stopping.MAX_SAMPLES, for the same reason).
MIN_REALISATIONS = 200
# ... and at most: the cost bound of a very noisy point (10x the floor).
MAX_REALISATIONS = 2000
# Geometric grid n* is rounded to (see the module docstring).
GRID = 2.0 ** 0.25
# The half-width `images="auto"` aims at without a `ci_half_width`: the issue's --ci-half-width 0.5
# (accuracy points; benchmarks/coverage.py's HALF_WIDTH).
DEFAULT_HALF_WIDTH = 0.5


@dataclass(frozen=True)
class Costs:
    """Seconds per realisation (c_r) and per image (c_i), measured on this machine."""

    per_realisation: float
    per_image: float

    @property
    def ratio(self) -> float:
        """c_r / c_i: what a realisation's fixed cost is worth in images."""
        return self.per_realisation / self.per_image


@dataclass(frozen=True)
class Components:
    """Variance components (percent^2): between realisations, and per image within one."""

    between: float  # s_b^2: variance of whole-set accuracies across fault draws
    within: float  # s_w^2 = 100^2 * sum_c W_c S_c^2: per-image variance of correctness in a realisation


@dataclass(frozen=True)
class Design:
    """What a point gets: ``images`` per realisation, ``realisations`` in all."""

    images: int
    realisations: int


def pilot_plan(n_total: int, n_min: int) -> list[int]:
    """Images per realisation of each pilot realisation: half on n_hi, half on n_hi / 8 (>= ``n_min``)."""
    n_hi = max(n_min, min(n_total, PILOT_IMAGES))
    n_lo = max(n_min, n_hi // PILOT_SPLIT)
    half = PILOT_REALISATIONS // 2
    return [n_hi] * half + [n_lo] * (PILOT_REALISATIONS - half)


def measure_costs(images: Sequence[int], seconds: Sequence[float]) -> Costs | None:
    """c_r and c_i from a pilot's timings: the line through the medians of its two subset sizes.

    ``images``: images each pilot realisation read (0 for a draw that changed no read code: it reads
    nothing, so it is left out), ``seconds``: what it took.  Medians keep one slow realisation (a page
    fault, another process) from tilting the line.  None when fewer than two sizes were read; c_r and c_i
    are floored at 1e-9 s (a negative intercept is timing noise).
    """
    groups: dict[int, list[float]] = {}
    for n, t in zip(images, seconds, strict=True):
        if n > 0:
            groups.setdefault(int(n), []).append(float(t))
    if len(groups) < 2:
        return None
    lo, hi = min(groups), max(groups)
    t_lo, t_hi = float(np.median(groups[lo])), float(np.median(groups[hi]))
    per_image = max((t_hi - t_lo) / (hi - lo), 1e-9)
    return Costs(per_realisation=max(t_lo - per_image * lo, 1e-9), per_image=per_image)


def variance_components(
    accuracies: Sequence[float], within_variances: Sequence[float], images: Sequence[int], n_total: int
) -> Components:
    """s_b^2 and s_w^2 (percent^2) from pilot realisations read on subsets of various sizes.

    s_b^2 = max(0, S^2 - mean(v_r)) (:func:`~wcatsim.experiments.montecarlo.nested.std_between`, squared:
    for independent values of one mean the sample variance estimates the average variance even when the
    subset sizes differ); s_w^2 = mean over the realisations that read a proper subset of
    v_r / (1/n_r - 1/N) (proportional allocation; the largest-remainder rounding makes it approximate).
    A realisation that changed no read code (0 images) has v_r = 0 truly and counts in S^2 only.
    """
    from wcatsim.experiments.montecarlo.nested import std_between

    between = std_between(accuracies, within_variances) ** 2
    per_image = [v / (1.0 / n - 1.0 / n_total)
                 for v, n in zip(within_variances, images, strict=True) if 0 < n < n_total]  # fmt: skip
    return Components(between=between, within=float(np.mean(per_image)) if per_image else 0.0)


def optimal_images(ratio: float, components: Components, n_min: int, n_total: int) -> int:
    """Return n* = sqrt(c_r/c_i * s_w^2 / (s_b^2 - s_w^2/N)) on the 2^(1/4) grid, within [n_min, N].

    Cochran's optimum subsampling size (the large-R limit of :func:`choose_design`, where t = z).  No
    spread between realisations beyond what the finite population leaves (s_b^2 <= s_w^2 / N) asks for
    the whole set, and so does an unknown cost ratio (``inf``: the pilot could not be timed at two
    sizes; the paper's choice); no spread within (s_w^2 = 0: every image right, or wrong, in every
    realisation read) the fewest images.
    """
    if not math.isfinite(ratio):
        return n_total
    if components.within <= 0.0:
        return n_min
    net = components.between - components.within / n_total
    if net <= 0.0:
        return n_total
    return _on_grid(math.sqrt(ratio * components.within / net), n_min, n_total)


def _on_grid(n: float, n_min: int, n_total: int) -> int:
    n = GRID ** round(math.log(n, GRID)) if n > 0 else n_min
    return int(min(max(math.ceil(n - 1e-9), n_min), n_total))


def _grid(n_min: int, n_total: int) -> list[int]:
    """Return the candidate subset sizes: the 2^(1/4) grid from n_min to N, both ends included."""
    top = math.ceil(math.log(n_total, GRID))
    return sorted({n_min, n_total} | {_on_grid(GRID**k, n_min, n_total) for k in range(top + 1)})


def realisation_variance(components: Components, n: int, n_total: int) -> float:
    """Var(a_r) = s_b^2 + s_w^2 (1/n - 1/N), percent^2."""
    return components.between + components.within * max(0.0, 1.0 / n - 1.0 / n_total)


@functools.lru_cache(maxsize=4096)
def _t(r: int) -> float:
    # t(0.975, r - 1), cached: the grid search asks for the same counts many times (scipy's ppf ~50 us)
    return t_quantile(r)


def realisations_for(half_width: float, variance: float) -> int:
    """Return the least R >= 2 with t(0.975, R - 1) * sqrt(variance / R) <= ``half_width``."""
    if variance <= 0.0:
        return 2
    r = max(2, math.ceil((1.96 / half_width) ** 2 * variance))
    while _t(r) ** 2 * variance / r > half_width**2:  # t > z: a few steps up at most
        r = max(r + 1, math.ceil((_t(r) / half_width) ** 2 * variance))
    return r


def choose_design(
    half_width: float, components: Components, ratio: float, n_min: int, n_total: int,
    min_realisations: int = MIN_REALISATIONS, max_realisations: int = MAX_REALISATIONS,
) -> Design:  # fmt: skip
    """Return the least-cost design reaching ``half_width``, R within [min_realisations, max_realisations].

    Unconstrained: the n of the 2^(1/4) grid whose R (from the half-width, with the exact Student-t
    quantile) costs least; for large R that is Cochran's n* (:func:`optimal_images`).  Where R leaves
    its bounds it is clipped, and n becomes the smallest count in [``n_min``, ``n_total``] that meets
    the half-width with that R (the least-cost n where none does: the spread between realisations
    alone is then too large for the cap).  See the module docstring.
    """
    if not (half_width > 0 and math.isfinite(half_width)):
        raise InputError(f"the allocation needs a half-width > 0 accuracy points, got {half_width}")
    if not 1 <= n_min <= n_total:
        raise InputError(f"need 1 <= n_min <= n_total, got {n_min} and {n_total}")
    if math.isfinite(ratio):
        # the exact cost R(n) * (c_r/c_i + n) over the grid: t(0.975, R - 1) > z at small R moves the
        # optimum off Cochran's n* (optimal_images), toward more images and fewer realisations
        options = [(realisations_for(half_width, realisation_variance(components, k, n_total)), k)
                   for k in _grid(n_min, n_total)]  # fmt: skip
        r, n = min(options, key=lambda o: (o[0] * (ratio + o[1]), o[1]))
    else:  # no cost fit: the whole set, the paper's choice
        n = n_total
        r = realisations_for(half_width, realisation_variance(components, n, n_total))
    clipped = min(max(r, min_realisations), max_realisations)
    if clipped == r:
        return Design(images=n, realisations=r)
    # the variance one realisation may have with R = clipped: s_b^2 + s_w^2 (1/n - 1/N) <= allowed
    allowed = clipped * (half_width / _t(clipped)) ** 2
    if components.within <= 0.0:
        n = n_min
    elif allowed <= components.between:
        # the spread between realisations alone exceeds what the cap allows: no n meets h, and more
        # images per realisation only buy what the least-cost n buys cheaper (the whole set would cost
        # the cap times N for a CI no narrower than s_b t / sqrt(R) allows)
        return Design(images=n, realisations=clipped)
    else:
        n = math.ceil(1.0 / ((allowed - components.between) / components.within + 1.0 / n_total) - 1e-9)
        while n > n_min and realisation_variance(components, n - 1, n_total) <= allowed:
            n -= 1  # the closed form's ceil can be one off in floating point
        while n < n_total and realisation_variance(components, n, n_total) > allowed:
            n += 1
    return Design(images=int(min(max(n, n_min), n_total)), realisations=clipped)


def design_cost(design: Design, ratio: float) -> float:
    """R * (c_r/c_i + n): a design's cost in images' worth of seconds."""
    return design.realisations * (ratio + design.images)


@dataclass(frozen=True)
class AllocatedRule:
    """The settings of the allocated design, as a sweep records them (its fingerprint covers them).

    ``cost_ratio``: c_r / c_i in images when fixed by the caller (a reproducible design), None when
    measured on the pilot.
    """

    half_width: float
    cost_ratio: float | None = None
    min_realisations: int = MIN_REALISATIONS
    max_realisations: int = MAX_REALISATIONS

    def __post_init__(self) -> None:
        if not (self.half_width > 0 and math.isfinite(self.half_width)):
            raise InputError(f"the allocation needs a half-width > 0 accuracy points, got {self.half_width}")
        if self.cost_ratio is not None and not (self.cost_ratio >= 0 and math.isfinite(self.cost_ratio)):
            raise InputError(f"cost_ratio (seconds per realisation / per image) must be >= 0, got "
                             f"{self.cost_ratio}")  # fmt: skip
        if not 2 <= self.min_realisations <= self.max_realisations:
            raise InputError(f"need 2 <= min_realisations <= max_realisations, got {self.min_realisations} "
                             f"and {self.max_realisations}")  # fmt: skip

    def settings(self) -> dict[str, Any]:
        """Return what a table's fingerprint covers: the target, the pilot, the bounds, the cost source."""
        return {
            "ci_procedure": "allocated: pilot, least-cost n and R0, then stein1945_pilot+hall1992_skew at n",
            "half_width": float(self.half_width), "pilot": PILOT_REALISATIONS, "pilot_images": PILOT_IMAGES,
            "pilot_split": PILOT_SPLIT, "min_realisations": self.min_realisations,
            "max_realisations": self.max_realisations, "grid": "2^(1/4)",
            "cost_ratio": "measured" if self.cost_ratio is None else float(self.cost_ratio),
        }  # fmt: skip


@dataclass(frozen=True)
class Offset:
    """Realisation ``index + offset`` of ``task``: the final draws come after the pilot's indices."""

    task: Callable[[int], Any]
    offset: int

    def __call__(self, index: int) -> Any:
        """Compute realisation ``index + offset``."""
        return self.task(index + self.offset)


@dataclass
class AllocatedPoint:
    """One allocated point: the pilot, the design it chose, and the final realisations."""

    design: Design  # the images per realisation and the realisations drawn (first stage and top-up)
    realisations: list[Any]
    rule: Any  # the final stage's StoppingRule: its summarize gives the point's CI
    planned: int  # the first stage's count R0, as the pilot's design chose it
    pilot: list[Any] = field(default_factory=list)
    components: Components | None = None
    costs: Costs | None = None  # None when the ratio was given, or nothing could be timed

    @property
    def ratio(self) -> float | None:
        """c_r / c_i (images) the design used."""
        return None if self.costs is None else self.costs.ratio


def final_stage(half_width: float, realisations: int, max_realisations: int = MAX_REALISATIONS) -> Any:
    """Return the allocated design's final stage: Stein's rule at n with the design's R as first stage.

    ``hull_within``: past Stein's count, on until the reported interval (Stein's hull with Hall's) is
    within ``half_width`` or ``max_realisations`` (``benchmarks/coverage.py`` replays this very rule).
    """
    from wcatsim.experiments.montecarlo.stopping import StoppingRule

    return StoppingRule(ci_half_width=half_width, min_samples=realisations,
                        max_samples=max(realisations, max_realisations), hull_within=True)  # fmt: skip


def run_allocated(
    make_task: Callable[[int], Callable[[int], Any]], rule: AllocatedRule, n_total: int, n_min: int,
    executor: Any = None, on_done: Callable[[int], None] | None = None,
) -> AllocatedPoint:  # fmt: skip
    """Pilot, design, and the design's realisations at one point.

    ``make_task(n)``: a picklable task computing realisation i (a
    :class:`~wcatsim.experiments.montecarlo.engine.Realisation`) with ``n`` images per realisation
    (``n_total``: the whole test set).  Pilot realisations are indices 0 .. PILOT_REALISATIONS - 1, the
    design's R realisations the next R indices (fresh draws; common random numbers across models hold
    index by index).  A pilot in which no draw changed a read code (nothing to learn about images, and
    nothing spent) gives the whole set and ``min_realisations``: such points stay exact and free.
    """
    from wcatsim.experiments.montecarlo.engine import run_point
    from wcatsim.experiments.montecarlo.executors import LocalExecutor

    executor = executor or LocalExecutor()
    sizes = pilot_plan(n_total, n_min)
    pilot: list[Any] = [None] * len(sizes)
    for n in sorted(set(sizes)):
        indices = [i for i, size in enumerate(sizes) if size == n]
        for i, result in zip(indices, executor.map(make_task(n), indices), strict=True):
            pilot[i] = result
        if on_done is not None:
            on_done(len(indices))
    images = [r.images for r in pilot]
    components = variance_components([r.accuracy for r in pilot], [r.within_var for r in pilot], images,
                                     n_total)  # fmt: skip
    costs = None
    if not any(images):
        design = Design(images=n_total, realisations=rule.min_realisations)
    else:
        if rule.cost_ratio is None:
            costs = measure_costs(images, [r.seconds for r in pilot])
        ratio = rule.cost_ratio if rule.cost_ratio is not None else (costs.ratio if costs else math.inf)
        design = choose_design(rule.half_width, components, ratio, n_min, n_total,
                               rule.min_realisations, rule.max_realisations)  # fmt: skip
    # The final stage is Stein's two-stage rule at n images per realisation with R0 = the design's count
    # as its first stage: the pilot's 20 draws size R0 (its s_b^2 has a relative standard error near
    # 60% once the image term is netted out), R0's own spread tops it up where that was too optimistic,
    # and Stein's interval then has half-width <= h unless the cap binds (stopping.StoppingRule).
    stage = final_stage(rule.half_width, design.realisations, rule.max_realisations)
    final = run_point(Offset(make_task(design.images), len(sizes)), stage, executor, on_done=on_done)
    return AllocatedPoint(design=Design(images=design.images, realisations=len(final)), realisations=final,
                          rule=stage, planned=design.realisations, pilot=pilot, components=components,
                          costs=costs)  # fmt: skip

__all__ = [
    "DEFAULT_HALF_WIDTH",
    "AllocatedPoint",
    "AllocatedRule",
    "Offset",
    "run_allocated",
    "MAX_REALISATIONS",
    "MIN_REALISATIONS",
    "PILOT_REALISATIONS",
    "Components",
    "Costs",
    "Design",
    "choose_design",
    "final_stage",
    "design_cost",
    "measure_costs",
    "optimal_images",
    "pilot_plan",
    "realisation_variance",
    "realisations_for",
    "variance_components",
]
