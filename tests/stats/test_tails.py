"""The lower tail beside the mean (issue 17 §6): 5th percentile and collapsed share."""

from __future__ import annotations

import numpy as np
import pytest

from tests.naive import naive_lower_tail
from wcatsim.stats.tails import lower_tail


@pytest.mark.parametrize("seed", range(20))
def test_lower_tail_matches_the_order_statistics_by_hand(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    # a mixture: fine draws near 95%, some collapsed ones near 30%, ties from rounding
    acc = np.where(rng.random(n) < 0.15, rng.normal(30, 5, n), rng.normal(95, 1, n)).round(1)
    tail = lower_tail(acc.tolist(), 96.0)
    p05, share = naive_lower_tail(acc.tolist(), 96.0)
    assert tail.acc_p05 == pytest.approx(p05, abs=1e-9) and tail.collapsed_share == share


def test_collapsed_is_strictly_more_than_ten_points_below_clean() -> None:
    tail = lower_tail([90.0, 89.9, 80.0, 100.0], 100.0)
    assert tail.collapsed_share == 0.5  # 89.9 and 80.0; 90.0 is exactly 10 below
    assert lower_tail([42.0], 50.0).acc_p05 == 42.0
    # 21 values 0..20: rank 0.05 * 20 = 1 -> the second smallest
    assert lower_tail(list(range(21)), 0.0).acc_p05 == 1.0
    with pytest.raises(ValueError):
        lower_tail([], 90.0)
