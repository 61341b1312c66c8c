"""Vectorised nested reads of a recorded correctness matrix, for ``benchmarks/coverage.py``'s replays.

A replay of the allocated design reads up to 2,000 realisations per replay, and a one-by-one read
(:func:`wcatsim.experiments.montecarlo.nested.draw_subset` then ``subset_estimate``, ~0.1 ms each) makes
2,000 replays of a cliff matrix take ten minutes.  These functions read many rows at once with the same
design: per row a class-stratified subset with the allocation of
:func:`wcatsim.experiments.montecarlo.nested.allocation` (proportional, largest remainder, >= 2 per class),
drawn without replacement within each class, and the stratified estimator with its image-sampling
variance (finite-population correction) of ``nested.subset_estimate``.  The subsets come from the
replay's own generator (a replay needs the distribution, not the sweep's seeds).
"""

from __future__ import annotations

import numpy as np

from wcatsim.experiments.montecarlo.nested import allocation


def stratified_picks(labels: np.ndarray, n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` class-stratified subsets of ``n`` of the positions of ``labels``: an int64 (count, n) array.

    Each row holds distinct positions; class c gets ``allocation(class sizes, n)[c]`` of them, uniformly
    at random without replacement (the first k of a random permutation of the class's positions).
    """
    labels = np.asarray(labels, dtype=np.int64)
    classes, counts = np.unique(labels, return_counts=True)
    take = allocation(counts, n)
    parts = []
    for c, k in zip(classes, take, strict=True):
        members = np.flatnonzero(labels == c)
        order = np.argsort(rng.random((count, members.size)), axis=1)[:, : int(k)]
        parts.append(members[order])
    return np.concatenate(parts, axis=1)


def subset_estimates(correct: np.ndarray, labels: np.ndarray, rows: np.ndarray,
                     picks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Stratified accuracy estimates (percent) and image-sampling variances (percent^2) of ``rows``.

    Row i of ``correct`` (realisations x images, bool) read on the positions ``picks[i]``: the estimator
    and variance of :func:`wcatsim.experiments.montecarlo.nested.subset_estimate`, for every row at once.
    """
    labels = np.asarray(labels, dtype=np.int64)
    classes, counts = np.unique(labels, return_counts=True)
    total = float(counts.sum())
    read = correct[np.asarray(rows)[:, None], picks].astype(np.float64)  # (rows, n)
    picked = labels[picks]  # (rows, n): a row's class counts are the same in every row
    acc = np.zeros(read.shape[0])
    var = np.zeros(read.shape[0])
    for c, big_n in zip(classes, counts, strict=True):
        member = read[:, picked[0] == c]
        n_c = member.shape[1]
        w = big_n / total
        acc += w * member.mean(axis=1)
        if 1 < n_c < big_n:  # a class taken whole adds no sampling variance (the FPC is 0)
            var += w * w * (1.0 - n_c / big_n) * member.var(axis=1, ddof=1) / n_c
    return 100.0 * acc, 1e4 * var


def read_rows(correct: np.ndarray, labels: np.ndarray, rows: np.ndarray, n: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Estimates and variances of ``rows`` each read on a fresh stratified subset of ``n`` images.

    ``n`` >= the images: the whole-row accuracy, variance 0 (the paper's protocol).
    """
    rows = np.asarray(rows, dtype=np.int64)
    if n >= correct.shape[1]:
        return 100.0 * correct[rows].mean(axis=1), np.zeros(rows.size)
    return subset_estimates(correct, labels, rows, stratified_picks(labels, n, rows.size, rng))
