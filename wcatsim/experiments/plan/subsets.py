"""The nested design of the plan's sensitivity curves: each planning chip read on its own image subset.

The sensitivity stage (one domain faulty at a time, every voltage of the grid, every planning chip) is
what a plan spends most of its evaluations on.  With ``plan.images`` = n (``plan-voltage --images N``)
chip ``c`` is evaluated on its own seeded, class-stratified random subset of n test images
(:func:`wcatsim.experiments.montecarlo.nested.draw_subset`, the design ``sweep-voltage`` uses for its
chips, issue 18 section 1).

The estimate is a difference estimator (Cochran 1977, "Sampling Techniques", 3rd ed., section 7.7, with
the clean model as the auxiliary variable of known population mean): the clean model's whole-set
accuracy C and per-image correctness are measured once, and chip ``c`` reads

    a_c = C + (stratified mean over its subset of (faulty - clean correctness))

(:func:`wcatsim.experiments.montecarlo.nested.subset_estimate` of the differences, which also gives the
image-sampling variance, finite-population correction included).  The subset mean of the differences is
unbiased for their whole-set mean A_c - C, so a_c is unbiased for the chip's whole-set accuracy A_c, the
mean over chips for the mean of the A_c, and a curve's loss C - mean is unbiased too.  Only images whose
answer the faults changed carry sampling noise: a read that changes no answer on its subset gives C
exactly.  (The plain stratified estimate of the faulty accuracy alone carries the noise of the accuracy
*level*, a few points at n = 100 even where no answer changed; summed over the domains by the greedy
descent as positive parts of noisy losses, it made a 20-domain ResNet-20 "lose" 18 points at the top of
the grid where the whole set loses 1.8.)

The subset of chip ``c`` is drawn with :func:`chip_subset_seed` (base seed, chip): its own stream,
independent of every fault draw, and the same at every voltage and in every domain.  Common random
numbers: two points of a curve (or of two domains' curves) read the same images on the same chip, so
their difference carries no image-sampling noise of its own where the chip's answers agree, and the
curves' steps stay sharp.

Only the sensitivity stage is nested: the joint checks, the uniform baseline, the adjustment sets and
the final set read the whole test set (or the ``--eval-images`` subset) as before, so the set that
reports a plan's accuracy is never the cheap set that shaped it.

Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sram_models.errors import InputError

# Tag of this stream of seeds: wcatsim.experiments.montecarlo.seeds uses 1 (transient draws), 2 (chips) and
# 3 (a sweep's subsets); wcatsim.experiments.plan.chips 3 with a domain name.  4: a planning chip's images.
_CHIP_SUBSET = 4


def chip_subset_seed(base_seed: int, chip: int) -> int:
    """Return the seed of the test-image subset chip ``chip`` of a plan is read on (a 63-bit integer).

    Keyed by the base seed and the chip alone, in a stream of its own: independent of the chip's faults
    in every domain, and the same at every voltage and in every domain.

    Parameters
    ----------
    base_seed : int
        The plan's base seed (``plan.seed``), >= 0.
    chip : int
        The chip index, >= 0.

    Returns
    -------
    int
    """
    if int(base_seed) < 0 or int(chip) < 0:
        raise InputError(f"seeds and chip indices must be >= 0, got seed {base_seed}, chip {chip}")
    state = np.random.SeedSequence([int(base_seed), _CHIP_SUBSET, int(chip)]).generate_state(1, np.uint64)
    return int(state[0]) & 0x7FFF_FFFF_FFFF_FFFF


def subset_size(images: int | str | None, n_images: int) -> int:
    """Return the images per chip of the sensitivity stage, 0 for the whole test set.

    ``images``: 0, None or ``"all"`` (the whole set, the default), or a count; a count equal to the test
    set's ``n_images`` is the whole set too (its curves are then exactly the whole-set ones).  ``"auto"``
    is refused: the allocated design chooses the realisations as well, and a plan's planning chips are
    fixed (``plan.planning_chips``); its 20-chip pilot would cost as much as a sensitivity point.  A count
    the stratified allocation cannot give is refused by :func:`ChipSubsets` (its message names the floor).
    """
    key = "`plan.images`"
    if images is None or (isinstance(images, str) and images.strip().lower() == "all"):
        return 0
    if isinstance(images, str) and images.strip().lower() == "auto":
        raise InputError(f"{key} auto is not offered for a plan: its planning chips are fixed "
                         "(`plan.planning_chips`); give a count or all")  # fmt: skip
    n = -1
    if isinstance(images, str) and images.strip().isdigit():
        n = int(images)
    elif isinstance(images, (int, np.integer)) and not isinstance(images, bool):
        n = int(images)
    if n < 0:
        raise InputError(f"{key} must be a count >= 0 or 'all', got {images!r}")
    return 0 if n in (0, int(n_images)) else n


def design_record(n: int, n_images: int, base_seed: int) -> dict[str, Any]:
    """Return what ``plan_voltage.json`` (``search.sensitivity_design``) records about the design.

    Parameters
    ----------
    n : int
        Images per chip (0: the whole test set).
    n_images : int
        The test images the evaluator holds (the whole set, or the ``--eval-images`` subset).
    base_seed : int
        The plan's base seed.
    """
    if not n:
        return {"images_per_realisation": int(n_images), "nested": False,
                "stages": "every stage on the whole test set (or the --eval-images subset)"}  # fmt: skip
    return {
        "images_per_realisation": int(n), "of": int(n_images), "nested": True,
        "subset": "class-stratified, >= 2 per class, largest remainder; seed chip_subset_seed(seed, chip): "
                  "one subset per chip, the same at every voltage and domain",
        "seed": int(base_seed),
        "estimator": "difference: clean accuracy + stratified mean (weights N_c/N) of faulty - clean "
                     "answers (unbiased); image variance with the finite-population correction; "
                     "acc_std_between net of it",
        "stages": "sensitivity curves only; joint checks, uniform baseline, adjustment and final sets on "
                  "the whole test set (or the --eval-images subset)",
    }  # fmt: skip


class ChipSubsets:
    """Each chip's own class-stratified random subset of ``n`` of the test images ``labels``.

    Parameters
    ----------
    labels : array of int
        The labels of the test images the evaluator holds, in its order.
    n : int
        Images per chip, within the stratified allocation's bounds
        (:func:`wcatsim.experiments.montecarlo.nested.allocation`: refused otherwise, before any work).
    base_seed : int
        The plan's base seed (:func:`chip_subset_seed`).
    clean : array of bool, optional
        The clean model's correctness on every test image (in the evaluator's order); with ``clean_acc``
        (its accuracy, percent, as the evaluator measured it) the estimates are the difference estimator
        of the module docstring.  None: the plain stratified estimate of the chip's accuracy.
    clean_acc : float, optional
        The clean model's whole-set accuracy (percent); default: from ``clean``.
    """

    def __init__(
        self, labels: Sequence[int] | np.ndarray, n: int, base_seed: int,
        clean: Sequence[bool] | np.ndarray | None = None, clean_acc: float | None = None,
    ) -> None:  # fmt: skip
        from wcatsim.experiments.montecarlo.nested import allocation

        self.labels = np.asarray(labels, dtype=np.int64)
        self.n = int(n)
        self.base_seed = int(base_seed)
        self.clean = None if clean is None else np.asarray(clean, dtype=np.float64)
        if self.clean is not None and self.clean.shape != self.labels.shape:
            raise InputError(f"the clean answers cover {self.clean.size} images, the labels "
                             f"{self.labels.size}")  # fmt: skip
        if clean_acc is None and self.clean is not None:
            clean_acc = 100.0 * float(self.clean.mean())
        self.clean_acc = None if clean_acc is None else float(clean_acc)
        try:
            allocation(np.unique(self.labels, return_counts=True)[1], self.n)
        except InputError as exc:  # name the plan's setting, not the sweeps'
            raise InputError(str(exc).replace("`images` per realisation", "`plan.images`")) from None
        self._drawn: dict[int, np.ndarray] = {}

    def indices(self, chip: int) -> np.ndarray:
        """Return the sorted positions of chip ``chip``'s subset (drawn once, then kept)."""
        from wcatsim.experiments.montecarlo.nested import draw_subset

        chip = int(chip)
        found = self._drawn.get(chip)
        if found is None:
            found = draw_subset(self.labels, self.n, chip_subset_seed(self.base_seed, chip))
            self._drawn[chip] = found
        return found

    def estimate(self, correct: np.ndarray, chip: int) -> tuple[float, float]:
        """Return (accuracy estimate in percent, its image-sampling variance) from chip ``chip``'s answers.

        ``correct``: the per-image correctness on :meth:`indices` of ``chip``, in that order.  With the
        clean answers: C + the stratified mean of (faulty - clean) over the subset (module docstring).
        """
        from wcatsim.experiments.montecarlo.nested import subset_estimate

        chosen = self.indices(chip)
        if self.clean is None:
            return subset_estimate(correct, self.labels[chosen], self.labels)
        difference = np.asarray(correct, dtype=np.float64) - self.clean[chosen]
        if not difference.any():  # no answer changed on its subset: exactly the clean accuracy, no noise
            return float(self.clean_acc), 0.0
        delta, variance = subset_estimate(difference, self.labels[chosen], self.labels)
        return float(self.clean_acc) + delta, variance


__all__ = ["ChipSubsets", "chip_subset_seed", "design_record", "subset_size"]
