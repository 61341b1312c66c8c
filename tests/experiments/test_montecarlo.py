"""Monte Carlo machinery without a model: statistics, seeds, stopping, executors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sram_models.errors import InputError
from tests import naive
from wcatsim.experiments.montecarlo import (
    LocalExecutor,
    Realisation,
    StoppingRule,
    chip_seed,
    make_executor,
    paired_difference,
    run_point,
    summarize,
    t_quantile,
    transient_seed,
)


def test_summary_matches_the_textbook_formula() -> None:
    values = [91.0, 93.5, 90.25, 95.0, 92.0, 88.5]
    s = summarize(values)
    ref = naive.mean_ci_reference(values)
    assert s.n == 6
    assert s.mean == pytest.approx(ref["mean"], abs=1e-12)
    assert s.std == pytest.approx(ref["std"], abs=1e-12)
    assert (s.min, s.max) == (88.5, 95.0)
    assert s.ci_low == pytest.approx(ref["ci_low"], abs=1e-9)
    assert s.ci_high == pytest.approx(ref["ci_high"], abs=1e-9)
    # Student t with 5 degrees of freedom, from any table: 2.5706.
    assert t_quantile(6) == pytest.approx(2.5706, abs=1e-4)


def test_summary_of_identical_values_is_exact_and_of_one_value_has_no_ci() -> None:
    s = summarize([97.5] * 12)
    assert (s.mean, s.std, s.ci_low, s.ci_high) == (97.5, 0.0, 97.5, 97.5)
    one = summarize([80.0])
    assert one.std == 0.0 and math.isnan(one.ci_low) and math.isnan(one.ci_high)


def test_student_t_ci_covers_the_true_mean_at_its_nominal_rate() -> None:
    # 2000 intervals of n=10 normal draws: coverage ~ Binomial(2000, 0.95); 4 sigma = 0.0195.
    rng = np.random.default_rng(7)
    hits = 0
    trials = 2000
    for _ in range(trials):
        s = summarize(rng.normal(90.0, 3.0, size=10))
        hits += s.ci_low <= 90.0 <= s.ci_high
    coverage = hits / trials
    bound = 4 * math.sqrt(0.95 * 0.05 / trials)
    assert abs(coverage - 0.95) <= bound, f"coverage {coverage:.4f} not within 0.95 ± {bound:.4f}"


def test_paired_difference_uses_the_pairs() -> None:
    base = np.array([80.0, 90.0, 70.0, 85.0, 95.0])
    d = paired_difference(base + 2.0, base)
    assert (d.mean, d.std, d.ci_low, d.ci_high) == (2.0, 0.0, 2.0, 2.0)
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])


def test_seeds_depend_on_what_the_draw_is_only() -> None:
    a = transient_seed(0, 1e-3, 4)
    assert a == transient_seed(0, float("0.001"), 4) == transient_seed(0, 0.001, 4)
    assert transient_seed(0, 0.0, 0) == transient_seed(0, -0.0, 0)
    seeds = {transient_seed(b, p, r) for b in (0, 1) for p in (0.0, 1e-4, 1e-3) for r in range(20)}
    assert len(seeds) == 2 * 3 * 20, "distinct draws must get distinct seeds"
    assert chip_seed(0, 3) == chip_seed(0, 3) != chip_seed(1, 3)
    assert chip_seed(0, 3) not in {transient_seed(0, p, 3) for p in (0.0, 1e-3)}
    assert all(0 <= s < 2**63 for s in seeds), "seeds must fit an int64 numba argument"
    with pytest.raises(ValueError):
        transient_seed(-1, 1e-3, 0)


def test_fixed_rule_draws_exactly_samples() -> None:
    rule = StoppingRule(samples=7)
    assert rule.stop_count([1.0] * 6) is None
    assert rule.stop_count([1.0] * 9) == 7
    assert rule.next_request(0) == 7


def _fake_task(index: int) -> Realisation:
    # A deterministic function of the index only, like a seeded realisation.
    rng = np.random.default_rng(transient_seed(5, 1e-2, index))
    return Realisation(index, 0, float(rng.normal(90, 3)), int(rng.integers(10)), 0, 100)


def test_run_point_truncates_speculative_batches_to_the_one_by_one_count() -> None:
    rule = StoppingRule(ci_half_width=1.5, min_samples=5, max_samples=100)

    class Wide(LocalExecutor):
        parallelism = 7  # asks for 7 at a time, like a 7-thread cluster

    class Greedy(StoppingRule):  # requests rounded up to whole rounds of the workers: it overshoots the stop
        def next_request(self, n_have, parallelism=1, values=None):
            n = super().next_request(n_have, parallelism, values)
            return -(-n // parallelism) * parallelism

    greedy = Greedy(ci_half_width=1.5, min_samples=5, max_samples=100)
    one = run_point(_fake_task, rule, LocalExecutor())
    wide = run_point(_fake_task, greedy, Wide())
    assert [r.index for r in one] == list(range(len(one)))
    assert one == wide
    assert len(one) == rule.stop_count([r.accuracy for r in wide])
    assert len(one) % Wide.parallelism != 0, "pick settings where the greedy batches overshoot the stop"


def test_dask_local_cluster_gives_the_local_result() -> None:
    import distributed  # the test run installs the dask extra: this test must run, not skip

    from wcatsim.experiments.montecarlo import DaskExecutor

    rule = StoppingRule(ci_half_width=1.5, min_samples=5, max_samples=100)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        ex = DaskExecutor(client=client)
        assert ex.parallelism == 2
        remote = run_point(_fake_task, rule, ex)
        # The CLI's path: --executor dask --scheduler ADDRESS.
        with make_executor("dask", cluster.scheduler_address) as by_address:
            assert by_address.parallelism == 2
            again = run_point(_fake_task, rule, by_address)
    local = run_point(_fake_task, rule, LocalExecutor())
    assert remote == local and again == local


def test_executor_names_are_checked() -> None:
    assert make_executor("local").name == "local"
    with pytest.raises(InputError, match="`option.scheduler`"):
        make_executor("dask")
    with pytest.raises(InputError, match="unknown executor"):
        make_executor("mpi")
    only_processes = "`option.workers` only applies with `montecarlo.executor` processes"
    with pytest.raises(InputError, match=only_processes):
        make_executor("local", workers=2)
    with pytest.raises(InputError, match="at least 1"):
        make_executor("processes", workers=0)


def test_accuracy_ci_never_leaves_0_to_100() -> None:
    # Three realisations near 100%: the plain t-interval reaches past 100; the bounded one stops there.
    values = [100.0, 100.0, 98.0]
    plain = summarize(values)
    bounded = summarize(values, bounds=(0.0, 100.0))
    assert plain.ci_high > 100.0, f"test premise: plain CI high {plain.ci_high} should exceed 100"
    assert bounded.ci_high == 100.0 and bounded.ci_low == plain.ci_low
    assert bounded.mean == plain.mean and bounded.std == plain.std
