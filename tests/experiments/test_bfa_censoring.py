"""Flips to break with censored trials: the Kaplan–Meier median against hand-computed examples."""

from __future__ import annotations

import pytest

from wcatsim.stats.censoring import CensoredMedian, fmt_count, fmt_median, km_median, statuses


def test_km_median_matches_the_product_limit_by_hand() -> None:
    # Trials: 10 broken, 20 broken, 20 budget, 30 broken, 40 stalled (5 trials, 2 censored).
    # By hand (a censoring at 20 is still at risk at 20):
    #   t=10: 5 at risk, 1 breaks -> S = 4/5 = 0.8
    #   t=20: 4 at risk (20, 20, 30, 40), 1 breaks -> S = 0.8 * 3/4 = 0.6
    #   t=30: 2 at risk (30, 40), 1 breaks -> S = 0.6 * 1/2 = 0.3 <= 0.5: median 30
    # (the mean of the broken ones, 20, and the naive median of all five counts, 20, both differ).
    flips = [10, 20, 20, 30, 40]
    broken = [True, True, False, True, False]
    assert km_median(flips, broken) == CensoredMedian(median=30, lower_bound=None, censored=2)
    # S reaching exactly 0.5 counts: 10 and 20 broken, 30 and 40 censored: S(10) = 3/4,
    # S(20) = 3/4 * 2/3 = 1/2 -> median 20.
    assert km_median([10, 20, 30, 40], [True, True, False, False]).median == 20
    # S stays above 0.5: 10 broken (S = 2/3), 50 and 60 censored -> no median, bound = 60.
    assert km_median([10, 50, 60], [True, False, False]) == CensoredMedian(None, 60, 2)
    # Nothing broke: S = 1, bound = the largest count; everything broke: the plain lower median.
    assert km_median([500, 500, 320], [False, False, False]) == CensoredMedian(None, 500, 3)
    assert km_median([7, 3, 5, 9], [True] * 4).median == 5  # S(5) = 2/4
    assert km_median([], []) == CensoredMedian(None, None, 0)
    with pytest.raises(ValueError):
        km_median([1, 2], [True])


def test_censored_counts_read_as_lower_bounds() -> None:
    assert fmt_count(500, True) == "≥ 500" and fmt_count(42, False) == "42" and fmt_count(None, True) == "—"
    new = {"flips_to_break_median": None, "flips_to_break_median_lower_bound": 500}
    assert fmt_median(new) == "≥ 500"
    assert fmt_median({"flips_to_break_median": 31, "flips_to_break_median_lower_bound": None}) == "31"
    # A summary written before these keys existed: derived from its lists.
    old = {"flips_to_break": [10, 20, 20, 30, 40], "broken": [True, True, False, True, False],
           "stalled": [False, False, False, False, True]}  # fmt: skip
    assert statuses(old) == ["broken", "broken", "budget", "broken", "stalled"]
    assert fmt_median(old) == "30"


def test_km_median_ci_matches_an_independent_greenwood_computation() -> None:
    """Brookmeyer–Crowley CI of the Kaplan–Meier median (issue 17 §6) against a plain-Python
    product-limit with Greenwood's variance (tests/naive.py), on hand-made and random censored sets
    with many ties (integer counts from a small range)."""
    import numpy as np

    from tests.naive import naive_km_median_ci
    from wcatsim.stats.censoring import km_median_ci

    cases = [([10, 20, 20, 30, 50, 20, 40], [True, True, True, True, True, False, False])]
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        flips = [int(x) for x in rng.integers(1, 15, size=n)]
        broken = [bool(x) for x in rng.random(n) < rng.uniform(0.2, 1.0)]
        cases.append((flips, broken))
    for flips, broken in cases:
        median, low, high = naive_km_median_ci(flips, broken)
        ci = km_median_ci(flips, broken)
        assert (ci.low, ci.high) == (low, high), (flips, broken)
        assert km_median(flips, broken).median == median, (flips, broken)
        if median is not None:
            assert ci.low is not None and ci.low <= median and (ci.high is None or median <= ci.high)
    # hand check of the first case (7 trials; breaks 10, 20, 20, 30, 50; censored 20, 40):
    # S(10) = 6/7, S(20) = 6/7 * (1 - 2/6) = 4/7, S(30) = 4/7 * 2/3 = 8/21, S(50) = 0: median 30.
    # Greenwood at 20: 1/42 + 2/24; lower edge 4/7 - 1.96 * 4/7 * sqrt(1/42 + 1/12) = 0.205 <= 0.5:
    # the CI starts at 20.  Upper edge at 30: 8/21 (1 + 1.96 sqrt(1/42 + 1/12 + 1/6)) = 0.772 > 0.5,
    # at 50 S = 0 (the band is S): the CI ends at 50.
    ci = km_median_ci(*cases[0])
    assert km_median(*cases[0]).median == 30 and (ci.low, ci.high) == (20, 50)
    assert (ci.confidence, ci.method) == (0.95, "Brookmeyer-Crowley, linear Greenwood band")
    nothing = km_median_ci([5, 9], [False, False])  # no break: no median, no CI
    assert (nothing.low, nothing.high) == (None, None)


def test_the_bfa_summary_states_the_median_its_ci_method_and_ties() -> None:
    """bfa_summary.json carries the Kaplan–Meier median with its Brookmeyer–Crowley CI, the method and
    the tie convention (issue 17 §6), on the hand-worked 7-trial case above: median 30, CI [20, 50]."""
    from wcatsim.experiments.attacks.bfa import TrialResult, summarise
    from wcatsim.stats.censoring import TIE_CONVENTION

    flips = [10, 20, 20, 30, 50, 20, 40]
    broken = [True, True, True, True, True, False, False]
    trials = [TrialResult(trial=i, flips=f, iterations=f, broken=b, stalled=False,
                          budget_hit=None if b else "flips", final_acc=10.0, random_baseline_acc=90.0)
              for i, (f, b) in enumerate(zip(flips, broken, strict=True))]  # fmt: skip
    summary = summarise(trials, {})
    assert summary["flips_to_break_median"] == 30 and summary["flips_to_break_median_lower_bound"] is None
    assert summary["flips_to_break_median_ci"] == [20, 50]
    assert summary["flips_to_break_median_ci_method"] == "95% Brookmeyer-Crowley, linear Greenwood band"
    assert summary["flips_to_break_median_ties"] == TIE_CONVENTION
    assert "breaks before censorings" in TIE_CONVENTION
    # S stays above 0.5 (one break at 10 of 3: S = 2/3): no median, its bound, a CI open above from 10
    # (lower edge 2/3 - 1.96 * 2/3 sqrt(1/6) = 0.133 <= 0.5)
    few = summarise([TrialResult(0, 10, 10, True, False, None, 10.0, 90.0),
                     TrialResult(1, 60, 60, False, True, None, 90.0, 90.0),
                     TrialResult(2, 60, 60, False, False, "flips", 90.0, 90.0)], {})  # fmt: skip
    assert (few["flips_to_break_median"], few["flips_to_break_median_lower_bound"]) == (None, 60)
    assert few["flips_to_break_median_ci"] == [10, None]
    nothing = summarise([TrialResult(0, 60, 60, False, True, None, 90.0, 90.0)], {})
    assert nothing["flips_to_break_median_ci"] is None
