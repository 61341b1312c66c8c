"""Voltage planning: the greedy search against brute force, back-off, disjoint chips, common random
numbers, the energy of mixed voltages, domains files, and `wcatsim plan-voltage` on the digits runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sram_models.errors import InputError
from tests.naive import naive_best_plan, naive_domains_energy_pj, naive_mixed_voltage_energy
from wcatsim.experiments.plan import search

# ------------------------------------------------------------------------- greedy search (plain arrays)


def _random_tables(rng: np.random.Generator, n_domains: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Energies falling with the step (lower voltage), losses 0 at the top and rising with noise (as
    measured curves do), an occasional step not allowed (inf) at the bottom."""
    energy = np.empty((n_domains, n_steps))
    loss = np.empty((n_domains, n_steps))
    for d in range(n_domains):
        share = rng.uniform(0.05, 1.0)
        energy[d] = share * np.sort(rng.uniform(0.3, 1.0, n_steps))[::-1]
        energy[d, 0] = share
        rising = np.cumsum(rng.exponential(0.3, n_steps)) - 0.3
        loss[d] = np.maximum(0.0, rising + rng.normal(0, 0.1, n_steps))
        loss[d, 0] = 0.0
        if rng.random() < 0.3:
            loss[d, n_steps - 1] = np.inf
    return loss, energy


def test_greedy_is_feasible_and_within_one_domain_range_of_the_brute_force_optimum() -> None:
    rng = np.random.default_rng(12)
    exact = 0
    cases = 300
    for _ in range(cases):
        n_domains, n_steps = int(rng.integers(1, 4)), int(rng.integers(2, 6))
        loss, energy = _random_tables(rng, n_domains, n_steps)
        budget = float(rng.uniform(0.0, 2.0))
        best = naive_best_plan(loss.tolist(), energy.tolist(), budget)
        assert best is not None  # every domain at the top loses nothing
        got = search.greedy_descent(loss, energy, budget)
        rows = np.arange(n_domains)
        steps = np.asarray(got.steps)
        assert loss[rows, steps].sum() <= budget + 1e-9, (loss, budget, got.steps)
        assert got.energy == pytest.approx(energy[rows, steps].sum())
        assert got.energy >= best[0] - 1e-12, "greedy beat the brute-force optimum: the check is wrong"
        slack = float(np.max(energy[:, 0] - energy.min(axis=1)))
        assert got.energy <= best[0] + slack + 1e-12, (
            f"greedy {got.energy:.4f} exceeds optimum {best[0]:.4f} + one domain's range {slack:.4f}"
        )
        exact += got.energy <= best[0] + 1e-12
    # On tables this small the greedy mostly finds the optimum itself.
    assert exact >= 0.7 * cases, f"greedy optimal in only {exact}/{cases} cases"


def test_greedy_is_exact_for_one_domain() -> None:
    rng = np.random.default_rng(3)
    for _ in range(100):
        loss, energy = _random_tables(rng, 1, int(rng.integers(2, 9)))
        budget = float(rng.uniform(0, 2))
        best = naive_best_plan(loss.tolist(), energy.tolist(), budget)
        assert search.greedy_descent(loss, energy, budget).energy == pytest.approx(best[0], abs=1e-12)


def test_greedy_takes_the_steepest_saving_first_and_is_exact_on_a_hull_vertex() -> None:
    # Convex curves: domain 0 saves 0.3 for 0.1 point, then 0.1 for 0.4; domain 1 saves 0.2 for 0.2 point.
    loss = np.array([[0.0, 0.1, 0.5], [0.0, 0.2, 1.0]])
    energy = np.array([[0.5, 0.2, 0.1], [0.5, 0.3, 0.25]])
    got = search.greedy_descent(loss, energy, budget=0.3)
    assert [(m.domain, m.stop) for m in got.moves] == [(0, 1), (1, 1)]  # slopes 3, then 1
    assert got.trajectory == ((0, 0), (1, 0), (1, 1))
    assert got.energy == pytest.approx(naive_best_plan(loss.tolist(), energy.tolist(), 0.3)[0])
    # A move that is free (no loss) and saves energy is always taken first.
    free = search.greedy_descent(np.array([[0.0, 0.0], [0.0, 0.5]]), np.array([[1.0, 0.9], [1.0, 0.1]]), 0.4)
    assert free.steps == (1, 0)


def test_greedy_refuses_a_top_that_already_misses_the_budget() -> None:
    with pytest.raises(InputError, match="highest allowed voltage"):
        search.greedy_descent(np.array([[1.5, 2.0]]), np.array([[1.0, 0.5]]), budget=1.0)


def test_back_off_bisects_to_the_latest_passing_plan() -> None:
    trajectory = [(k,) for k in range(21)]
    chosen, checks = search.back_off(trajectory, lambda k: k <= 7)
    assert chosen == 7
    assert checks[0] == (20, False)
    assert len(checks) <= 1 + math.ceil(math.log2(20)) + 1
    assert search.back_off(trajectory, lambda k: True) == (20, [(20, True)])
    with pytest.raises(InputError, match="highest allowed voltage"):
        search.back_off(trajectory, lambda k: False)


def test_failing_domains_cover_the_excess_largest_loss_first() -> None:
    solo = [0.1, 0.8, 0.0, 0.5]
    lowered = [True, True, False, True]
    assert search.failing_domains(solo, lowered, excess=0.6) == [1]
    assert search.failing_domains(solo, lowered, excess=1.2) == [1, 3]
    # the losses alone do not explain the miss (interaction): every lowered domain goes up
    assert search.failing_domains(solo, lowered, excess=2.0) == [0, 1, 3]
    assert search.failing_domains([0.0, 0.0], [True, False], excess=0.1) == [0]
    assert search.failing_domains([0.3], [False], excess=0.1) == []


def test_uniform_choice_stops_at_the_first_miss_and_takes_the_least_energy() -> None:
    loss = [0.0, 0.2, 0.9, 1.4, 0.5]  # the scan ends at step 3 even though step 4 recovers
    energy = [1.0, 0.8, 0.85, 0.5, 0.4]  # not monotone: leakage over a slower clock
    assert search.uniform_choice(loss, energy, budget=1.0) == 1
    assert search.uniform_choice(loss, energy, budget=2.0) == 4
    with pytest.raises(InputError, match="highest allowed voltage"):
        search.uniform_choice([1.5, 0.0], [1.0, 0.5], budget=1.0)


# ------------------------------------------------------------------------------- chips and seeds


def test_planning_and_verification_chips_are_disjoint_and_seeds_distinct() -> None:
    from wcatsim.experiments.plan.chips import domain_chip_seed, planning_chips, verification_chips

    plan = set(planning_chips(20))
    sets = [set(verification_chips(20, 20, s)) for s in (1, 2, 3)]
    assert all(len(s) == 20 for s in sets) and len(plan) == 20
    every = [plan, *sets]
    for i in range(len(every)):
        for j in range(i + 1, len(every)):
            assert not every[i] & every[j], (i, j)
    seeds = {domain_chip_seed(0, d, c) for d in ("conv1", "conv2") for c in range(80)}
    assert len(seeds) == 160  # every (domain, chip) its own stream
    assert domain_chip_seed(0, "conv1", 5) == domain_chip_seed(0, "conv1", 5)
    assert domain_chip_seed(1, "conv1", 5) != domain_chip_seed(0, "conv1", 5)


@pytest.fixture(scope="module")
def maxabs_chips(digits_runs):
    from sram_models import load_technology
    from wcatsim.experiments.plan.chips import DomainChips, make_layout
    from wcatsim.experiments.plan.domains import per_layer_domains
    from wcatsim.train.runs import load_run

    run = load_run(digits_runs["maxabs"], device="cpu")
    from wcatsim.image import weight_image

    weights = {name: int(li.codes.numel()) for name, li in weight_image(run.model).items()}
    tech = load_technology("chandramoorthy14")
    return DomainChips(run.model, per_layer_domains(weights), make_layout(4, 64, "none"), tech, base_seed=7)


def test_a_chip_has_the_same_faults_in_a_domain_alone_and_jointly(maxabs_chips) -> None:
    chips = maxabs_chips
    n = len(chips.domains)
    joint_volts = [0.78, 0.8, 0.76, 0.9][:n]
    for chip in range(3):
        joint, _ = chips.read(joint_volts, chip)
        for d, dom in enumerate(chips.domains):
            alone = [None] * n
            alone[d] = joint_volts[d]
            codes, faulty = chips.read(alone, chip)
            for layer in dom.layers:
                assert np.array_equal(codes[layer], joint[layer]), (chip, layer)
            for other in chips.domains:
                if other is not dom:
                    for layer in other.layers:
                        assert np.array_equal(codes[layer], chips.clean[layer])
            assert faulty > 0  # at these voltages every domain has faulty cells (else the test is empty)
    # nested within a domain: a lower voltage changes a superset of the weights
    hi, _ = chips.read([0.9] + [None] * (n - 1), 0)
    lo, _ = chips.read([0.8] + [None] * (n - 1), 0)
    name = chips.domains[0].layers[0]
    clean = chips.clean[name]
    assert set(np.flatnonzero(hi[name] != clean)) <= set(np.flatnonzero(lo[name] != clean))


def test_each_domain_starts_its_own_words_and_energy_matches_a_hand_computation(maxabs_chips) -> None:
    from sram_models import MemoryImage, load_technology
    from wcatsim.experiments.plan.chips import make_layout
    from wcatsim.experiments.plan.energy import domains_energy

    chips = maxabs_chips
    tech = load_technology("chandramoorthy14")  # read energy ∝ V², no leakage weight: dynamic reads only
    layout = make_layout(4, 64, "none")
    reference = MemoryImage.pack(chips.clean, layout)
    volts = [0.97, 0.81, 0.76, 0.75]
    got = domains_energy(chips.images, volts, tech, reference)
    domains = [(d.weights, 16, v) for d, v in zip(chips.domains, volts, strict=True)]
    expected = naive_mixed_voltage_energy(domains, tech.v_nominal, lambda v: v * v)
    assert got.memory_norm == pytest.approx(expected, rel=1e-12)
    # the three domains below 0.97 V send every bit they read through a level shifter (20.43 fJ x 0.5
    # per bit, in read energies of one bit at nominal, 52.5 fJ / 0.45^2), over the reference's bits
    bits = sum(img.n_words * 64 for img in chips.images[1:])
    assert got.level_shifter_norm == pytest.approx(
        bits * 0.5 * 20.43 / (52.5 / 0.45**2) / (reference.n_words * 64), rel=1e-12)  # fmt: skip
    assert got.total_norm == pytest.approx(expected + got.level_shifter_norm, rel=1e-12)
    assert sum(got.domain_norm) == pytest.approx(got.total_norm, rel=1e-12)
    # one domain holding everything at nominal is the reference itself
    assert domains_energy([reference], [1.0], tech, reference).total_norm == pytest.approx(1.0)
    # per-domain packing: conv1's 144 weights fill 9 words of their own
    assert [img.n_words for img in chips.images][0] == 9


def test_mixed_voltages_with_absolute_figures_count_padding_and_the_whole_inference(maxabs_chips) -> None:
    from sram_models import MemoryImage, load_technology
    from wcatsim.experiments.plan.chips import make_layout
    from wcatsim.experiments.plan.energy import domains_energy

    chips = maxabs_chips
    tech = load_technology("dpcs45")  # absolute read energy, leakage and access time
    reference = MemoryImage.pack(chips.clean, make_layout(4, 64, "none"))
    volts = [1.0, 0.8, 0.6, 0.7]
    words = [img.n_words for img in chips.images]  # 9, 288, 1152, 160

    def total(ws, vs):
        return naive_domains_energy_pj(ws, vs, tech.read_energy, tech.leakage_power, tech.access_time,
                                       tech.access_bits, tech.leakage_bits)  # fmt: skip

    expected = total(words, volts) / total([reference.n_words], [tech.v_nominal])
    got = domains_energy(chips.images, volts, tech, reference)
    assert got.memory_norm == pytest.approx(expected, rel=1e-9)
    # level shifters in pJ: every bit of the three domains below 1.0 V, 0.5 x 20.43 fJ each
    shifted_pj = sum(words[1:]) * 64 * 0.5 * 20.43e-3
    assert got.level_shifter_norm == pytest.approx(
        shifted_pj / total([reference.n_words], [tech.v_nominal]), rel=1e-9)  # fmt: skip
    # four domains at nominal cost more than one memory: six arrays' padding leaks where one had three
    split = domains_energy(chips.images, [1.0] * 4, tech, reference).total_norm
    assert split == pytest.approx(total(words, [1.0] * 4) / total([reference.n_words], [1.0]), rel=1e-9)
    assert split > 1.0


def _toy_images(words: tuple[int, ...]):
    from sram_models import MemoryImage
    from wcatsim.experiments.plan.chips import make_layout

    layout = make_layout(4, 64, "none")  # 16 four-bit weights per 64-bit word
    rng = np.random.default_rng(3)
    images = [MemoryImage.pack({f"d{i}": rng.integers(-8, 8, size=16 * n)}, layout)
              for i, n in enumerate(words)]  # fmt: skip
    reference = MemoryImage.pack({f"d{i}": img.unpack()[f"d{i}"] for i, img in enumerate(images)}, layout)
    return images, reference


@pytest.mark.parametrize("preset", ["chandramoorthy14", "dpcs45"])
def test_level_shifter_cost_of_a_two_domain_toy_plan_by_hand(preset: str) -> None:
    from sram_models import load_technology
    from wcatsim.experiments.plan.energy import LevelShifters, domains_energy

    tech = load_technology(preset)
    images, reference = _toy_images((10, 30))  # 10 words at 1.0 V, 30 words at 0.8 V
    assert [img.n_words for img in images] == [10, 30] and reference.n_words == 40
    off = domains_energy(images, [1.0, 0.8], tech, reference, shifters=LevelShifters(energy_fj=0.0))
    on = domains_energy(images, [1.0, 0.8], tech, reference)
    # the reference's energy in the model's own unit, from the one-domain run at nominal
    if preset == "chandramoorthy14":  # relative units: 1 = one bit read at nominal, no leakage weight
        ref_total, per_bit = 40 * 64 * 1.0, 0.5 * 20.43 / 259.259259259
    else:  # pJ, and the reference's dynamic plus its leakage over its read time
        ref_total = naive_domains_energy_pj(
            [40], [1.0], tech.read_energy, tech.leakage_power, tech.access_time, tech.access_bits,
            tech.leakage_bits,
        )
        per_bit = 0.5 * 20.43 * 1e-3
    cost = 30 * 64 * per_bit / ref_total  # only the 0.8 V domain's 30 x 64 bits cross
    assert on.level_shifter_norm == pytest.approx(cost, rel=1e-9)
    assert on.total_norm - off.total_norm == pytest.approx(cost, rel=1e-9)
    assert on.domain_norm[0] == off.domain_norm[0]  # the highest domain pays nothing
    assert on.domain_norm[1] - off.domain_norm[1] == pytest.approx(cost, rel=1e-9)
    assert off.level_shifter_norm == 0.0 and on.memory_norm == pytest.approx(off.total_norm, rel=1e-12)
    # the saving over a uniform design drops by exactly that cost: one domain pays no crossing
    uniform = domains_energy([reference], [0.9], tech, reference)
    assert uniform.level_shifter_norm == 0.0
    saving_on, saving_off = uniform.total_norm - on.total_norm, uniform.total_norm - off.total_norm
    assert saving_off - saving_on == pytest.approx(cost, rel=1e-9)
    # a stated parameter: the cost is linear in the energy per transition and in the activity
    double = domains_energy(images, [1.0, 0.8], tech, reference, shifters=LevelShifters(energy_fj=2 * 20.43))
    assert double.level_shifter_norm == pytest.approx(2 * cost, rel=1e-9)
    quiet = domains_energy(images, [1.0, 0.8], tech, reference, shifters=LevelShifters(activity=0.25))
    assert quiet.level_shifter_norm == pytest.approx(cost / 2, rel=1e-9)


def test_one_domain_and_equal_voltages_pay_no_crossing() -> None:
    from sram_models import load_technology
    from wcatsim.experiments.plan.energy import LevelShifters, crossing_bits, domains_energy

    tech = load_technology("chandramoorthy14")
    images, reference = _toy_images((10, 30))
    for v in (1.0, 0.8):
        assert domains_energy([reference], [v], tech, reference).level_shifter_norm == 0.0
        assert domains_energy(images, [v, v], tech, reference).level_shifter_norm == 0.0
    assert crossing_bits(images, [0.8, 0.9]) == [10 * 64, 0.0]
    assert crossing_bits(images, [0.8, 0.9], reads_per_weight=2) == [2 * 10 * 64, 0.0]
    with pytest.raises(InputError, match="activity in \\[0, 1\\]"):
        LevelShifters(activity=1.5)
    with pytest.raises(InputError, match="energy_fj must be a number"):
        LevelShifters(energy_fj="x")


# ------------------------------------------------------------------------------------ domains


def test_domains_file_groups_layers_by_name_and_pattern(tmp_path: Path) -> None:
    from wcatsim.experiments.plan.domains import load_domains

    weights = {"conv1": 144, "conv2": 4608, "conv3": 18432, "fc": 2560}
    path = tmp_path / "domains.toml"
    path.write_text('[domains]\nfront = ["conv1", "conv3", "fc"]\nmiddle = ["conv2"]\n')
    got = load_domains(path, weights)
    assert [(d.name, d.layers, d.weights) for d in got] == [
        ("front", ("conv1", "conv3", "fc"), 144 + 18432 + 2560),
        ("middle", ("conv2",), 4608),
    ]
    path.write_text('[domains]\nconvs = ["conv*"]\nhead = ["fc"]\n')
    assert [d.layers for d in load_domains(path, weights)] == [("conv1", "conv2", "conv3"), ("fc",)]
    assert [d.name for d in load_domains("layer", weights)] == list(weights)
    bad = {
        '[domains]\na = ["conv*"]\nb = ["conv2", "fc"]\n': "in two domains",
        '[domains]\na = ["conv1", "conv2", "conv3"]\n': "in no domain: fc",
        '[domains]\na = ["conv9"]\n': "matches no quantized layer",
        '[domains]\na = "conv1"\n': "non-empty list",
        '[groups]\na = ["conv1"]\n': r"one \[domains\] table",
    }
    for text, message in bad.items():
        path.write_text(text)
        with pytest.raises(InputError, match=message):
            load_domains(path, weights)
    with pytest.raises(InputError, match="no such file"):
        load_domains(tmp_path / "absent.toml", weights)


# --------------------------------------------------------------------- verification (the back-off path)


class _FakeBench:
    """Accuracy = clean minus the sum over domains of a per-voltage loss; verification set 1's chips are
    unlucky for domain 1 (one extra point), the others are not."""

    clean = 90.0

    def __init__(self, per_volt_loss: dict[float, float]) -> None:
        self.per_volt_loss = per_volt_loss
        self.calls: list[tuple[tuple, tuple]] = []

    def stats(self, voltages, chip_ids):
        from wcatsim.experiments.plan.planner import PointStats

        self.calls.append((tuple(voltages), tuple(chip_ids)))
        lost = sum(self.per_volt_loss[v] for v in voltages if v is not None)
        if chip_ids[0] == 4 and voltages[1] is not None and voltages[1] < 1.0:  # set 1 = chips 4..7
            lost += 1.0
        return PointStats(len(chip_ids), self.clean - lost, self.clean - lost - 0.1, self.clean - lost + 0.1)

    def loss(self, stats):
        return self.clean - stats.acc_mean


def test_a_plan_that_misses_on_held_out_chips_raises_its_failing_domain_and_is_verified_afresh() -> None:
    from wcatsim.experiments.plan.planner import PlanSettings, verify_held_out

    grid = [1.0, 0.9, 0.8]
    bench = _FakeBench({1.0: 0.0, 0.9: 0.2, 0.8: 0.4})
    settings = PlanSettings(budget=1.0, planning_chips=4, verification_chips=4, max_verification_sets=5)
    out = verify_held_out(bench, grid, ["a", "b"], [2, 2], 1, settings)
    # set 1: plan 0.8 + 1 = 1.8 points lost -> misses; b lost 1.4 alone, a 0.4: b (the largest) covers 0.8
    assert out.history[0]["within_budget"] is False and out.history[0]["raised"] == ["b"]
    assert out.history[0]["uniform_within_budget"] is False  # uniform 0.9 on set 1: 0.4 + 1 = 1.4
    assert out.steps == [2, 1] and out.uniform_step == 0
    assert len(out.history) == 2 and out.history[1]["chips"] == [8, 11]  # a fresh set
    assert out.plan.acc_mean == pytest.approx(90.0 - 0.6)
    assert out.uniform.acc_mean == pytest.approx(90.0)
    # every chip set the verification used is disjoint from the planning chips 0..3
    assert all(min(ids) >= 4 for _, ids in bench.calls)


def test_the_final_set_is_disjoint_from_every_set_the_adjustment_may_spend() -> None:
    from wcatsim.experiments.plan.chips import final_chips, planning_chips, verification_chips

    final = final_chips(20, 20, 5)
    assert final == list(range(120, 140))
    spent = set(planning_chips(20)).union(*(verification_chips(20, 20, s) for s in range(1, 6)))
    assert not spent & set(final)


class _NoisyBench:
    """Every chip loses ``true_loss`` points whatever the voltages, plus its own N(0, sigma) noise (seeded
    by trial and chip): raising a domain cannot repair the plan, so it stays exactly as far over budget."""

    clean = 90.0

    def __init__(self, trial: int, true_loss: float, sigma: float) -> None:
        self.trial, self.true_loss, self.sigma = trial, true_loss, sigma
        self.noise: dict[int, float] = {}

    def accuracies(self, voltages, chip_ids):
        out = []
        for chip in chip_ids:
            if chip not in self.noise:
                self.noise[chip] = float(np.random.default_rng([self.trial, chip]).normal(0.0, self.sigma))
            out.append(self.clean - self.true_loss + self.noise[chip])
        return out

    def stats(self, voltages, chip_ids):
        from wcatsim.experiments.plan.planner import point_stats

        return point_stats(self.accuracies(voltages, chip_ids))

    def loss(self, stats):
        return self.clean - stats.acc_mean


def test_a_plan_0_1_point_over_budget_is_verified_no_more_often_than_the_final_set_alone_allows() -> None:
    """Issue 17 section 4: the adjustment sets are spent, the final set decides.  A plan truly 0.1 point
    over a 1-point budget, per-chip sd 0.35 points, 20 final chips: the final set's mean passes with
    probability p0 = Phi(-0.1 / (0.35 / sqrt 20)) = 0.10.  Reported verified must stay within p0 plus 3
    binomial standard errors over the trials; the old report (the last of up to 5 retried sets, the
    first where both pass) is shown to break that bound, so the check can fail."""
    from wcatsim.experiments.plan.planner import PlanSettings, final_verification, verify_held_out

    budget, sigma, chips, trials = 1.0, 0.35, 20, 300
    settings = PlanSettings(budget=budget, planning_chips=4, verification_chips=chips,
                            max_verification_sets=5)
    verified = selected = 0
    for trial in range(trials):
        bench = _NoisyBench(trial, budget + 0.1, sigma)
        out = verify_held_out(bench, [1.0, 0.9], ["a", "b"], [1, 1], 1, settings)
        final = final_verification(bench, [1.0, 0.9], ["a", "b"], out.steps, out.uniform_step, settings)
        assert final.plan.chips == chips and len(final.plan_accuracies) == chips
        assert min(final.chips) > max(max(e["chips"]) for e in out.history)  # never seen by the adjustment
        verified += final.plan_within_budget
        selected += out.history[-1]["within_budget"]
    p0 = 0.5 * (1.0 + math.erf(-0.1 / (sigma / math.sqrt(chips)) / math.sqrt(2.0)))
    bound = p0 + 3.0 * math.sqrt(p0 * (1.0 - p0) / trials)
    assert verified / trials <= bound, (
        f"reported verified in {verified}/{trials} runs; the final set alone allows p0 = {p0:.3f}, "
        f"bound p0 + 3 binomial s.e. = {bound:.3f}"
    )
    assert selected / trials > bound, f"the selected report passed {selected}/{trials} (bound {bound:.3f})"


def test_verification_stops_after_the_last_set_and_reports_the_miss() -> None:
    from wcatsim.experiments.plan.planner import PlanSettings, verify_held_out

    bench = _FakeBench({1.0: 2.0, 0.9: 2.0})  # misses everywhere, even at the top
    settings = PlanSettings(budget=1.0, planning_chips=4, verification_chips=4, max_verification_sets=2)
    out = verify_held_out(bench, [1.0, 0.9], ["a", "b"], [1, 1], 1, settings)
    assert len(out.history) == 2 and not out.history[-1]["within_budget"]
    assert out.steps == [0, 0] and out.uniform_step == 0


# ------------------------------------------------------------------------------------ the command


def test_plan_voltage_cli_on_the_digits_runs(digits_runs, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli
    from wcatsim.store.atomic import read_csv

    out = tmp_path / "plan"
    args = ["plan-voltage", "--run", str(digits_runs["maxabs"]), "--preset", "chandramoorthy14",
            "--voltages", "0.8:1.0:0.05", "--chips", "3", "--verify-chips", "3", "--device", "cpu",
            "--out", str(out), "--quiet"]  # fmt: skip
    args_plot = [*args, "--plot"]
    result = CliRunner().invoke(cli, args_plot)
    assert result.exit_code in (0, 1), result.output
    data = json.loads((out / "plan_voltage.json").read_text())
    required = ("domains", "energy_norm", "verified_acc_mean", "verified_ci_low", "clean_acc",
                "uniform_voltage", "uniform_energy_norm", "saving_over_uniform", "budget",
                "metric")  # fmt: skip
    for key in required:
        assert key in data, key
    assert [sorted(d) for d in data["domains"]] == [["name", "voltage", "weights"]] * 4
    assert [d["name"] for d in data["domains"]] == ["conv1", "conv2", "conv3", "fc"]
    assert sum(d["weights"] for d in data["domains"]) == 25744
    assert all(v in (0.8, 0.85, 0.9, 0.95, 1.0) for v in (d["voltage"] for d in data["domains"]))
    assert data["saving_over_uniform"] == pytest.approx(data["uniform_energy_norm"] - data["energy_norm"])
    assert data["budget"] == 1.0 and data["metric"] == "mean" and data["verification_sets"] >= 1
    assert (result.exit_code == 0) == data["verified_within_budget"]
    assert data["bounded_by_grid"] == [d["name"] for d in data["domains"] if d["voltage"] == 0.8]
    # the energy is what the plan's voltages cost (dynamic V² reads, each domain in words of its own),
    # plus a level shifter for every bit read from a domain below the highest (0.5 x 20.43 fJ, in read
    # energies of one bit at nominal, 52.5 fJ / 0.45^2)
    doms = [(d["weights"], 16, d["voltage"]) for d in data["domains"]]
    top = max(d["voltage"] for d in data["domains"])
    crossed = sum(-(-d["weights"] // 16) * 64 for d in data["domains"] if d["voltage"] < top)
    shift = crossed * 0.5 * 20.43 / (52.5 / 0.45**2) / (-(-25744 // 16) * 64)
    assert data["level_shifter_norm"] == pytest.approx(shift, rel=1e-9)
    assert data["level_shifters"]["energy_fj"] == 20.43 and "SIMULATION" in data["level_shifters"]["source"]
    memory = naive_mixed_voltage_energy(doms, 1.0, lambda v: v * v)
    assert data["energy_norm"] == pytest.approx(memory + shift)
    rows = read_csv(out / "plan_voltage.csv")
    assert [r["name"] for r in rows] == ["conv1", "conv2", "conv3", "fc"]
    assert sum(float(r["energy_share"]) for r in rows) == pytest.approx(1.0)
    # the run and the units in columns (issue 19 section 3): chandramoorthy14 is in x Vmin, Vmin = 0.8 V
    for r in rows:
        assert (r["run"], r["model"], r["quantizer"], r["bits"], r["dataset"]) == (
            Path(digits_runs["maxabs"]).name, "small_cnn", "maxabs", "4", "digits")
        assert float(r["voltage_v"]) == round(float(r["voltage"]) * 0.8, 12)
        assert float(r["voltage_norm"]) == float(r["voltage"]) and r["energy_frac"] == r["energy_share"]
    assert (out / "plan_voltage.png").stat().st_size > 1000
    assert "saving_over_uniform" in result.output and "verified" in result.output
    assert f"level shifters: {shift:.4f} of the nominal energy" in result.output

    # A rerun reuses every sensitivity point (and finds the same plan).
    rerun = CliRunner().invoke(cli, args)
    assert rerun.exit_code == result.exit_code, rerun.output
    second = json.loads((out / "plan_voltage.json").read_text())
    points = len(read_csv(out / "plan_voltage_sensitivity.csv"))
    assert second["search"]["sensitivity_points_reused"] == points
    assert second["domains"] == data["domains"] and second["energy_norm"] == data["energy_norm"]

    # Grouping the layers in a file plans two domains.
    domains = tmp_path / "domains.toml"
    domains.write_text('[domains]\nbig = ["conv3", "fc"]\nsmall = ["conv1", "conv2"]\n')
    again = CliRunner().invoke(cli, [*args, "--domains", str(domains), "--budget", "2"])
    assert again.exit_code in (0, 1), again.output
    grouped = json.loads((out / "plan_voltage.json").read_text())
    assert [(d["name"], d["weights"]) for d in grouped["domains"]] == [("big", 20992), ("small", 4752)]
    # other domains, another fingerprint: the earlier sensitivity table is kept (with its sidecar), not lost
    from wcatsim.store.results import kept_tables

    (kept,) = kept_tables(out / "plan_voltage_sensitivity.csv")
    assert {r["domain"] for r in read_csv(kept)} == {"conv1", "conv2", "conv3", "fc"}
    assert {r["domain"] for r in read_csv(out / "plan_voltage_sensitivity.csv")} == {"big", "small"}
    kept_fp = json.loads(kept.with_suffix(".json").read_text())["fingerprint"]
    now_fp = json.loads((out / "plan_voltage_sensitivity.json").read_text())["fingerprint"]
    assert kept.name.split(".")[2] == kept_fp[:8] and kept_fp != now_fp
    # the plan and the figures made from the kept table went with it, under its tag (issue 19 section 3)
    tag = kept.name[len("plan_voltage_sensitivity.") : -len(".csv")]
    assert json.loads((out / f"plan_voltage.{tag}.json").read_text())["domains"] == data["domains"]
    assert [r["name"] for r in read_csv(out / f"plan_voltage.{tag}.csv")] == ["conv1", "conv2", "conv3", "fc"]
    assert (out / f"plan_voltage.{tag}.png").stat().st_size > 1000
    assert not (out / "plan_voltage.png").exists(), "no figure of the old plan beside the new one"
    assert data["eval_images"] is None  # the whole test set

    # --eval-images: planned and verified on a recorded, stratified subset (as the sweeps)
    subset = CliRunner().invoke(cli, [*args, "--eval-images", "100", "--out", str(tmp_path / "sub")])
    assert subset.exit_code in (0, 1), subset.output
    record = json.loads((tmp_path / "sub" / "plan_voltage.json").read_text())["eval_images"]
    assert record["images"] == 100 and record["of"] == 539 and len(record["indices"]) == 100


def test_a_domains_file_naming_no_layer_of_the_model_is_refused_first(digits_runs, tmp_path) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    # (the option checks that need no model are rows of tests/cli/test_bad_inputs.py)
    domains = tmp_path / "domains.toml"
    domains.write_text('[domains]\nall = ["conv1", "conv2", "conv3", "fc"]\nextra = ["layer4.*"]\n')
    out = tmp_path / "plan"
    result = CliRunner().invoke(cli, ["plan-voltage", "--run", str(digits_runs["maxabs"]), "--device", "cpu",
                                      "--quiet", "--domains", str(domains), "--out", str(out)])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "'layer4.*' matches no quantized layer" in result.output and "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_pareto_marks_a_runs_plan(tmp_path: Path) -> None:
    import matplotlib.image
    from click.testing import CliRunner

    from cli.main import cli
    from tests.analysis.test_pareto import make_run

    run = make_run(tmp_path, "run_maxabs", "maxabs", [40.0, 80.0, 93.0, 94.6, 95.0])
    without = tmp_path / "without.png"
    assert CliRunner().invoke(cli, ["pareto", str(run), "--out", str(without)]).exit_code == 0
    plan = {"energy_norm": 0.7, "verified_acc_mean": 94.5, "verified_ci_low": 94.0, "metric": "mean"}
    (run / "plan_voltage.json").write_text(json.dumps(plan))
    marked = tmp_path / "marked.png"
    assert CliRunner().invoke(cli, ["pareto", str(run), "--out", str(marked)]).exit_code == 0
    a, b = matplotlib.image.imread(without), matplotlib.image.imread(marked)
    # (the legend line naming the diamond widens the figure)
    assert a.shape != b.shape or np.abs(a - b).max() > 0.2, "the plan's diamond is not drawn"


def test_the_plan_is_marked_only_on_a_sweep_whose_energies_compare(tmp_path: Path) -> None:
    from tests.analysis.test_pareto import make_run
    from wcatsim.analysis.plots.plan_figures import draw_plan_figures

    run = make_run(tmp_path, "run", "maxabs", [40.0, 80.0, 93.0, 94.6, 95.0])
    organisation = {"banks": 32, "inference_time_ns": None, "reads_per_weight": 1.0}
    (run / "sweep_voltage.json").write_text(json.dumps({"settings": {
        "preset": "chandramoorthy14", "protect": "none", "word_bits": 64, "organisation": organisation}}))
    plan = {"energy_norm": 0.7, "verified_acc_mean": 94.5, "verified_ci_low": 94.0, "metric": "mean",
            "budget": 1.0, "preset": "chandramoorthy14", "protect": "none", "word_bits": 64,
            "organisation": organisation, "domains": [{"name": "a", "weights": 10, "voltage": 0.9}],
            "uniform_voltage": 0.95, "uniform_energy_norm": 0.75, "saving_over_uniform": 0.05}
    same = draw_plan_figures(plan, tmp_path / "same.png", run)
    assert [p.name for p in same] == ["same.png", "same_pareto.png"]
    # a plan under SECDED against an unprotected sweep: its energies include check cells the sweep lacks
    other = draw_plan_figures({**plan, "protect": "secded"}, tmp_path / "other.png", run)
    assert [p.name for p in other] == ["other.png"]


def test_a_plan_costlier_than_uniform_says_so() -> None:
    from wcatsim.experiments.plan.planner import format_plan

    plan = {"domains": [{"name": "a", "weights": 10, "voltage": 0.9}], "energy_norm": 1.4,
            "verified_acc_mean": 94.5, "verified_ci_low": 94.0, "uniform_voltage": 0.8,
            "uniform_energy_norm": 0.7, "uniform_verified_acc_mean": 94.6, "uniform_verified_ci_low": 94.1,
            "clean_acc": 95.0, "budget": 1.0, "metric": "mean", "saving_over_uniform": -0.7}
    assert "costs less than these domains" in format_plan(plan)
    assert "costs less" not in format_plan({**plan, "energy_norm": 0.6, "saving_over_uniform": 0.1})


def test_sensitivity_curves_with_the_clean_prefix_replayed_are_identical(digits_runs, tmp_path: Path) -> None:
    # Faults in one domain at a time replay the activations before it (wcatsim.memory.prefix): the
    # curves, the table on disk and the plan must be exactly those of whole forwards.
    from wcatsim.experiments.plan.planner import SENSITIVITY_CSV, PlanSettings, plan_voltage
    from wcatsim.train.runs import load_run

    run = load_run(digits_runs["maxabs"], device="cpu")
    settings = PlanSettings(planning_chips=2, verification_chips=1, max_verification_sets=1)
    grid = [1.0, 0.9, 0.85, 0.8, 0.75]
    plans = {}
    for share in (False, True):
        plans[share] = plan_voltage(run, "chandramoorthy14", grid, settings=settings,
                                    out_dir=tmp_path / str(share), share_prefix=share)  # fmt: skip
    plain, shared = plans[False], plans[True]
    assert len(plain.sensitivity) > 4 and plain.search_info["forward_passes"] > 4, "nothing was evaluated"
    assert shared.sensitivity == plain.sensitivity
    assert len({row["acc_mean"] for row in plain.sensitivity}) > 2, "the curves should fall with the voltage"
    a = (tmp_path / "False" / SENSITIVITY_CSV).read_bytes()
    assert (tmp_path / "True" / SENSITIVITY_CSV).read_bytes() == a
    assert shared.voltages == plain.voltages
    assert shared.to_json()["verified_acc_mean"] == plain.to_json()["verified_acc_mean"]
