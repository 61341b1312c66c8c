"""Adaptive stopping (Stein's two-stage rule) and the CI it reports, without a model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sram_models.errors import InputError
from wcatsim.experiments.montecarlo import StoppingRule, summarize
from wcatsim.experiments.montecarlo.stats import skew_corrected_interval

# t(0.975, 9), from a printed Student-t table (independent of scipy).
T_975_9 = 2.2621571628


def test_stein_count_is_the_formula_of_the_pilot() -> None:
    # Zero variance and no floor: the pilot is enough, never fewer.
    rule = StoppingRule(ci_half_width=0.5, min_samples=10, max_samples=40)
    assert rule.stop_count([90.0] * 9) is None
    assert rule.stop_count([90.0] * 25) == 10
    assert rule.next_request(0) == 10 and rule.next_request(4) == 6
    # A floor of 1 point: N = ceil((2.2622 * 1 / 0.5)^2) = ceil(20.47) = 21.
    floored = StoppingRule(ci_half_width=0.5, min_samples=10, max_samples=40, std_floor=1.0)
    assert math.ceil((T_975_9 * 1.0 / 0.5) ** 2) == 21
    assert floored.stop_count([90.0] * 20) is None
    assert floored.stop_count([90.0] * 30) == 21
    assert floored.next_request(10, 1, [90.0] * 10) == 11  # exactly the second stage
    # A pilot of spread s0 = std(ddof=1) of [0, 2, 0, 2, ...] = sqrt(10/9) * 1; N = ceil((t s0/h)^2).
    pilot = [0.0, 2.0] * 5
    s0 = math.sqrt(sum((v - 1.0) ** 2 for v in pilot) / 9)
    expected = math.ceil((T_975_9 * s0 / 0.5) ** 2)
    assert expected == 23
    assert rule.stop_count(pilot + [1.0] * 30) == 23
    # A very noisy pilot: capped at max_samples.
    noisy = [0.0, 100.0] * 30
    assert rule.stop_count(noisy[:39]) is None
    assert rule.stop_count(noisy) == 40
    with pytest.raises(InputError, match="max_samples"):
        StoppingRule(ci_half_width=0.5, min_samples=20, max_samples=10)
    with pytest.raises(InputError, match="pilot"):
        StoppingRule(ci_half_width=0.5, min_samples=1)


def test_the_count_depends_on_the_pilot_only_and_any_prefix_agrees() -> None:
    rng = np.random.default_rng(3)
    values = list(rng.normal(90.0, 2.0, size=200))
    rule = StoppingRule(ci_half_width=0.8, min_samples=12, max_samples=200)
    n = rule.stop_count(values)
    assert n is not None and 12 < n < 200
    # Values after the pilot do not move N (no optional stopping on them).
    changed = values[:12] + list(rng.normal(50.0, 30.0, size=188))
    assert rule.stop_count(changed) == n
    # A one-by-one run stops at n: every shorter prefix asks for more, every longer one truncates to n.
    assert all(rule.stop_count(values[:k]) is None for k in range(1, n))
    assert all(rule.stop_count(values[:k]) == n for k in range(n, 200, 17))
    assert rule.next_request(12, 3, values[:12]) == n - 12
    assert rule.next_request(12, 3) == 3  # without the values: one per worker, truncated later


def test_rule_ci_fixed_is_student_t_and_adaptive_contains_stein_and_hall() -> None:
    rng = np.random.default_rng(5)
    values = list(rng.normal(95.0, 0.5, size=50))
    values[7] = 60.0  # one collapse: left-skewed
    fixed = StoppingRule(samples=50)
    assert fixed.summarize(values, bounds=(0.0, 100.0)) == summarize(values, bounds=(0.0, 100.0))
    rule = StoppingRule(ci_half_width=0.5, min_samples=50, max_samples=200)
    at_pilot = rule.summarize(values)
    plain = summarize(values)
    # At N = n0 Stein's interval is the pilot's t-interval: the rule's CI contains it.
    assert at_pilot.ci_low <= plain.ci_low and at_pilot.ci_high >= plain.ci_high
    low, high = skew_corrected_interval(values)
    assert at_pilot.ci_low == pytest.approx(min(low, plain.ci_low))
    assert at_pilot.ci_high == pytest.approx(max(high, plain.ci_high))
    # Left skew: Hall's interval reaches further below the mean than above it.
    assert plain.mean - low > high - plain.mean


def test_skew_corrected_interval_solves_halls_statistic() -> None:
    # Independent check of the cube-root inversion: at both ends Hall's polynomial statistic
    # sqrt(n)*(U + g U^2/3 + g^2 U^3/27 + g/(6n)), U = (mean - mu)/s, equals -t and +t.
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.normal(95.0, 0.5, 46), [60.0, 61.0, 70.0, 80.0]])
    n, mean, s = x.size, float(x.mean()), float(x.std(ddof=1))
    g = float(np.mean((x - mean) ** 3)) / s**3
    low, high = skew_corrected_interval(x)
    stat = [math.sqrt(n) * (u + g * u * u / 3 + g * g * u**3 / 27 + g / (6 * n))
            for u in ((mean - high) / s, (mean - low) / s)]  # fmt: skip
    t = 2.0096  # t(0.975, 49), printed table
    assert stat[0] == pytest.approx(-t, abs=1e-3) and stat[1] == pytest.approx(t, abs=1e-3)
    # A symmetric sample has no skew: the Student-t interval.
    sym = [1.0, 2.0, 3.0, 4.0, 5.0]
    s_t = summarize(sym)
    assert skew_corrected_interval(sym) == pytest.approx((s_t.ci_low, s_t.ci_high))


def _coverage(rule: StoppingRule, rows: np.ndarray, mean: float) -> tuple[float, float]:
    adaptive = fixed = 0
    for row in rows:
        s = rule.summarize(row[: rule.stop_count(row)], bounds=(0.0, 100.0))
        adaptive += s.ci_low <= mean <= s.ci_high
        f = summarize(row[:50], bounds=(0.0, 100.0))
        fixed += f.ci_low <= mean <= f.ci_high
    return adaptive / len(rows), fixed / len(rows)


def test_adaptive_ci_covers_as_often_as_the_fixed_protocol() -> None:
    # benchmarks/coverage.py in small: the default rule at --ci-half-width 0.5 against 50 fixed
    # realisations, 400 seeded sweeps per case (a coverage's standard error is <= 0.025 here).
    rule = StoppingRule(ci_half_width=0.5)
    assert (rule.min_samples, rule.max_samples) == (50, 200)
    rng = np.random.default_rng(2024)
    normal = rng.normal(95.0, 0.5, size=(400, 200))
    cov_normal, _ = _coverage(rule, normal, 95.0)
    assert cov_normal >= 0.90, f"coverage {cov_normal:.3f} on N(95, 0.5^2) must be >= 0.90 (nominal 0.95)"
    assert all(rule.stop_count(row) == 50 for row in normal[:50]), "calm points stop at the pilot"
    for p in (0.02, 0.05):
        rows = rng.normal(95.0, 0.5, size=(400, 200))
        rows[rng.random(rows.shape) < p] = 60.0
        adaptive, fixed = _coverage(rule, rows, 95.0 * (1 - p) + 60.0 * p)
        # The replaced rule covered the 2% mixture in ~19% of sweeps; the plain t-interval of
        # Stein's N values falls 5 points behind the fixed protocol on the 5% mixture.
        assert adaptive >= fixed - 0.035, (
            f"collapse p={p}: adaptive coverage {adaptive:.3f} must be >= fixed {fixed:.3f} - 0.035"
        )


def test_fixed_count_fingerprint_ignores_the_adaptive_bounds() -> None:
    # A config layer's min/max samples do not change a fixed-count table (they are not used there).
    a = StoppingRule(samples=50, min_samples=50, max_samples=200).settings()
    b = StoppingRule(samples=50, min_samples=10, max_samples=400).settings()
    assert a == b and a["ci_procedure"] == "student_t"
    adaptive = StoppingRule(ci_half_width=0.5, min_samples=50, max_samples=200).settings()
    assert adaptive != StoppingRule(ci_half_width=0.5, min_samples=50, max_samples=400).settings()


def test_hull_within_goes_on_until_the_reported_interval_is_within_h() -> None:
    """The allocated design's final stage: past Stein's N, on to the first count of its chain whose
    reported interval (Stein's hull with Hall's) is within h, a pure function of the ordered values."""
    h = 0.5
    plain = StoppingRule(ci_half_width=h, min_samples=50, max_samples=2000)
    hull = StoppingRule(ci_half_width=h, min_samples=50, max_samples=2000, hull_within=True)
    extended = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        # skewed values (a subset accuracy near 100%): Hall's interval is wider than Stein's
        values = 100.0 - rng.exponential(2.0, size=2000)
        n_stein, n_hull = plain.stop_count(values), hull.stop_count(values)
        assert n_hull >= n_stein, (seed, n_stein, n_hull)
        s = hull.summarize(values[:n_hull])
        assert (s.ci_high - s.ci_low) / 2 <= h * (1 + 1e-9) or n_hull == hull.max_samples, (seed, s)
        extended += n_hull > n_stein
        # the chain by hand: each count from the widths before it
        k = plain.total_count(values)
        while True:
            w = (hull.summarize(values[:k]).ci_high - hull.summarize(values[:k]).ci_low) / 2
            if w <= h or k >= hull.max_samples:
                break
            k = min(hull.max_samples, max(k + 1, math.ceil(k * (w / h) ** 2)))
        assert n_hull == k, (seed, n_hull, k)
        # a one-by-one run (next_request, then stop_count on what it has) stops at the same count
        have = list(values[: hull.min_samples])
        while hull.stop_count(have) is None:
            more = hull.next_request(len(have), 1, have)
            assert more > 0, (seed, len(have))
            have.extend(values[len(have) : len(have) + more])
        assert hull.stop_count(have) == n_hull and len(have) == n_hull, (seed, len(have), n_hull)
    assert extended >= 5, f"the skewed case should need more than Stein's N in some seeds ({extended}/40)"
    # without it, the rule and its fingerprint are as before
    assert "hull_within" not in plain.settings() and hull.settings()["hull_within"] is True
