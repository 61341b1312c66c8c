"""The lower tail of accuracy over fault draws: what a mean and its CI hide near the cliff.

Near the accuracy cliff the draws are a mixture of fine and collapsed realisations; the mean and a
Student-t CI of it then describe neither (on a 2% collapse mixture such a "95%" CI covers about
61% of the time, issue 17 §6).  Two numbers go beside them in every table:

- ``acc_p05``: the 5th percentile of the draws' accuracies, in percent, by linear interpolation
  between order statistics (numpy's default, Hyndman and Fan's type 7: with n draws, the value at
  rank 1 + 0.05 (n - 1));
- ``collapsed_share``: the fraction (0..1) of draws more than ``COLLAPSE_POINTS`` accuracy points
  below the clean accuracy (strictly more: a draw exactly 10 points below is not counted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

COLLAPSE_POINTS = 10.0
"""accuracy points below clean that make a draw 'collapsed' (issue 17 §6: far beyond a 1-point
budget and far beyond the seed spread, so it marks a different mode of the mixture, not noise)"""
PERCENTILE = 5.0
"""the lower percentile reported (a one-in-twenty bad draw)"""


@dataclass(frozen=True)
class Tail:
    """The lower tail of one point's accuracies."""

    acc_p05: float  # percent
    collapsed_share: float  # fraction of draws, 0..1


def lower_tail(
    accuracies: Sequence[float], clean_acc: float, collapse_points: float = COLLAPSE_POINTS
) -> Tail:
    """5th percentile and collapsed share of ``accuracies`` (percent) against ``clean_acc``.

    Parameters
    ----------
    accuracies : sequence of float
        One accuracy per draw, in percent.
    clean_acc : float
        The fault-free accuracy, in percent.
    collapse_points : float
        A draw more than this many points below ``clean_acc`` counts as collapsed.

    Returns
    -------
    Tail
    """
    arr = np.asarray(accuracies, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("lower_tail needs at least one accuracy")
    p05 = float(np.percentile(arr, PERCENTILE, method="linear"))
    share = float(np.count_nonzero(arr < float(clean_acc) - float(collapse_points)) / arr.size)
    return Tail(p05, share)


__all__ = ["COLLAPSE_POINTS", "PERCENTILE", "Tail", "lower_tail"]
