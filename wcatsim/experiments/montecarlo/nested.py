"""Nested Monte Carlo: fault realisations x a fresh random subset of test images per realisation.

A table reports the mean, over fault realisations, of the accuracy on the whole test set.  Each
realisation r is evaluated on its own seeded, class-stratified random subset of n test images, and its
accuracy is estimated by the stratified estimator

    a_r = 100 * sum_c W_c * (correct images of class c in the subset) / n_c,    W_c = N_c / N,

which is unbiased for the realisation's whole-set accuracy A_r for every allocation (n_c >= 1), so the
mean of the a_r is unbiased for the mean of the A_r, and the Student-t interval over realisations stays
valid (the a_r are i.i.d. given the design).  Weighting by W_c (not by n_c / n) is what keeps it exact
when the largest-remainder rounding of the allocation is not exactly proportional.

Variance split (W. G. Cochran, 1977, "Sampling Techniques", 3rd ed., Wiley, eq. 5.6 and thm 5.4):
the image-sampling variance of a_r is estimated from its own per-image correctness,

    v_r = 100^2 * sum_c W_c^2 * (1 - n_c / N_c) * s_c^2 / n_c     (s_c^2: ddof=1 within class c),

with the finite-population correction (v_r = 0 when n = N).  The sample variance S^2 of the a_r over
realisations estimates sigma_between^2 + E[v]; ``acc_std_between`` = sqrt(max(0, S^2 - mean(v_r))) is
the spread of whole-set accuracies across fault draws (the paper's "± std over runs").

Torch-free: the per-image correctness comes from :meth:`wcatsim.memory.evaluator.FaultEvaluator`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sram_models.errors import InputError

# Images per class a subset takes at least: two give the within-class spread s_c^2 the variance split needs.
MIN_PER_CLASS = 2


def allocation(counts: Sequence[int], n: int) -> np.ndarray:
    """Images per class for a subset of ``n``: proportional, largest remainder, at least MIN_PER_CLASS.

    ``counts``: the test images of each class (N_c).  A class smaller than MIN_PER_CLASS is taken whole.
    Refused (:class:`InputError`) when ``n`` cannot give every class its minimum or exceeds the set.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    floor = np.minimum(counts, MIN_PER_CLASS)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < int(floor.sum()) or n > total:
        raise InputError(
            f"`images` per realisation must be between {int(floor.sum())} ({MIN_PER_CLASS} per class, for "
            f"the variance split) and the {total} test images, got {n!r}"
        )
    quota = n * counts / total
    take = np.maximum(np.floor(quota).astype(np.int64), floor)
    # Hand out what is left by largest remainder (ties: lower class), or take back from the largest
    # classes above their floor when the minimums overshot.
    while int(take.sum()) < n:
        room = take < counts
        remainder = np.where(room, quota - take, -np.inf)
        take[int(np.argmax(remainder))] += 1
    while int(take.sum()) > n:
        spare = np.where(take > floor, take - quota, -np.inf)
        take[int(np.argmax(spare))] -= 1
    return take


def draw_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted positions of a class-stratified random subset of ``n`` of ``labels``, drawn with ``seed``.

    One NumPy generator seeded with ``seed`` draws every class in label order without replacement
    (``seed`` from :func:`wcatsim.experiments.montecarlo.seeds.subset_seed`).
    """
    labels = np.asarray(labels, dtype=np.int64)
    classes, counts = np.unique(labels, return_counts=True)
    take = allocation(counts, n)
    rng = np.random.default_rng(int(seed))
    chosen = [rng.choice(np.flatnonzero(labels == c), size=int(k), replace=False)
              for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def subset_estimate(
    correct: np.ndarray, labels_subset: np.ndarray, labels_all: np.ndarray
) -> tuple[float, float]:
    """(accuracy estimate in percent, its image-sampling variance in percent^2) from one subset.

    ``correct``: per-image correctness (bool) of the subset's images, ``labels_subset`` their labels,
    ``labels_all`` the labels of the whole test set (class sizes N_c).  See the module docstring.
    """
    correct = np.asarray(correct, dtype=np.float64)
    labels_subset = np.asarray(labels_subset, dtype=np.int64)
    classes, counts = np.unique(np.asarray(labels_all, dtype=np.int64), return_counts=True)
    total = float(counts.sum())
    acc = 0.0
    var = 0.0
    for c, big_n in zip(classes, counts, strict=True):
        member = correct[labels_subset == c]
        n_c = member.size
        if n_c == 0:
            raise InputError(f"class {int(c)} has no image in the subset: the stratified estimate needs one")
        w = big_n / total
        acc += w * float(member.mean())
        if n_c < big_n:  # a class taken whole adds no sampling variance (the FPC is 0)
            s2 = float(member.var(ddof=1)) if n_c > 1 else 0.0
            var += w * w * (1.0 - n_c / big_n) * s2 / n_c
    return 100.0 * acc, 100.0 * 100.0 * var


def std_between(accuracies: Sequence[float], within_variances: Sequence[float]) -> float:
    """Spread (std, percent) of whole-set accuracies across realisations, net of image sampling.

    sqrt(max(0, S^2 - mean(v_r))) with S^2 the sample variance (ddof=1) of the subset accuracies and
    v_r their image-sampling variances; 0 for fewer than two realisations.
    """
    arr = np.asarray(accuracies, dtype=np.float64)
    if arr.size < 2:
        return 0.0
    total = 0.0 if float(arr.min()) == float(arr.max()) else float(arr.var(ddof=1))
    return math.sqrt(max(0.0, total - float(np.mean(np.asarray(within_variances, dtype=np.float64)))))


__all__ = ["MIN_PER_CLASS", "allocation", "draw_subset", "std_between", "subset_estimate"]
