"""The nested design of plan-voltage's sensitivity curves: each planning chip on its own image subset.

(a) ``images`` = the whole test set gives exactly the curves (and plan) of ``all``; (b) a chip reads one
subset at every voltage and domain, chips read different ones, and only the sensitivity stage reads
subsets; (c) planted: over chips, the mean of subset accuracies lies within a stated bound of the mean of
the same chips' whole-set accuracies; the chip-subset seed; the recorded design.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sram_models.errors import InputError

GRID = [1.0, 0.9, 0.8]


@pytest.fixture(scope="module")
def maxabs_run(digits_runs):
    from wcatsim.train.runs import load_run

    return load_run(digits_runs["maxabs"], device="cpu")


def _plan(run, tmp: Path, images, chips: int = 3):
    from wcatsim.experiments.plan.planner import PlanSettings, plan_voltage

    settings = PlanSettings(planning_chips=chips, verification_chips=2, max_verification_sets=1, budget=1.0,
                            images=images)  # fmt: skip
    return plan_voltage(run, "chandramoorthy14", GRID, settings=settings, out_dir=tmp)


def test_images_equal_to_the_test_set_give_the_curves_and_plan_of_all(maxabs_run, tmp_path) -> None:
    n_test = len(maxabs_run.data.test_tensors()[1])
    whole = _plan(maxabs_run, tmp_path / "all", "all")
    counted = _plan(maxabs_run, tmp_path / "count", n_test)
    assert len(whole.sensitivity) >= 4 and whole.search_info["forward_passes"] > 0, "nothing was evaluated"
    assert counted.sensitivity == whole.sensitivity
    assert all(r["images_per_realisation"] == n_test for r in whole.sensitivity)
    first, second = whole.to_json(), counted.to_json()
    first.pop("run_dir"), second.pop("run_dir")
    assert first == second
    assert first["search"]["sensitivity_design"]["nested"] is False
    # one fingerprint: a whole-set table is the same table, whichever way the whole set was asked for
    assert ((tmp_path / "all" / "plan_voltage_sensitivity.json").read_text()
            == (tmp_path / "count" / "plan_voltage_sensitivity.json").read_text())  # fmt: skip


def test_a_chip_reads_one_subset_at_every_voltage_and_chips_read_different_ones(
    maxabs_run, tmp_path, monkeypatch
) -> None:
    from wcatsim.experiments.plan.chips import DomainChips
    from wcatsim.memory.evaluator import FaultEvaluator

    last: list[tuple[tuple, int]] = []  # (voltages, chip) of the latest chip read
    seen: list[tuple[tuple, int, np.ndarray]] = []  # (voltages, chip, images) of every subset evaluation
    read, correct = DomainChips.read, FaultEvaluator.correct_replayed

    def spy_read(self, voltages, chip):
        last.append((tuple(voltages), int(chip)))
        return read(self, voltages, chip)

    def spy_correct(self, codes, indices, key, share=1):  # a chip's read on its subset (no buffer here)
        seen.append((*last[-1], np.array(indices)))
        return correct(self, codes, indices, key, share)

    monkeypatch.setattr(DomainChips, "read", spy_read)
    monkeypatch.setattr(FaultEvaluator, "correct_replayed", spy_correct)
    plan = _plan(maxabs_run, tmp_path, 60, chips=4)
    assert seen, "no chip was read on a subset"
    by_chip: dict[int, list[np.ndarray]] = {}
    points: dict[int, set] = {}
    for voltages, chip, images in seen:
        # only the sensitivity stage reads subsets: one domain faulty, every other one clean
        assert sum(v is not None for v in voltages) == 1, f"a subset read outside the curves: {voltages}"
        assert images.size == 60
        by_chip.setdefault(chip, []).append(images)
        points.setdefault(chip, set()).add(voltages)
    assert max(len(p) for p in points.values()) >= 2, "no chip was read at two points"
    for chip, subsets in by_chip.items():
        for images in subsets[1:]:
            assert np.array_equal(images, subsets[0]), f"chip {chip} read another subset at another point"
    firsts = [subsets[0] for subsets in by_chip.values()]
    assert len(firsts) >= 2, "fewer than two chips were read on subsets"
    for i in range(len(firsts)):
        for j in range(i + 1, len(firsts)):
            assert not np.array_equal(firsts[i], firsts[j]), "two chips read the same subset"
    # the later stages read the whole set: the final set's accuracies are whole-set ones (k / N)
    n_test = len(maxabs_run.data.test_tensors()[1])
    for acc in plan.final_set["accuracies"]:
        assert acc * n_test / 100 == pytest.approx(round(acc * n_test / 100), abs=1e-6)
    assert all(r["images_per_realisation"] == 60 for r in plan.sensitivity)
    assert plan.search_info["sensitivity_design"]["images_per_realisation"] == 60


def test_chip_subset_seeds_are_their_own_stream() -> None:
    from wcatsim.experiments.montecarlo.seeds import chip_seed, subset_seed
    from wcatsim.experiments.plan.chips import domain_chip_seed
    from wcatsim.experiments.plan.subsets import chip_subset_seed

    seeds = {chip_subset_seed(0, c) for c in range(50)}
    assert len(seeds) == 50
    others = {chip_seed(0, c) for c in range(50)} | {domain_chip_seed(0, "fc", c) for c in range(50)}
    others |= {subset_seed(0, v, c) for v in (0.8, 0.9, 1.0) for c in range(50)}
    assert not seeds & others
    assert chip_subset_seed(1, 3) != chip_subset_seed(0, 3)
    with pytest.raises(InputError):
        chip_subset_seed(0, -1)


@pytest.mark.parametrize("estimator", ["difference", "plain"])
def test_mean_subset_accuracy_over_chips_is_within_its_bound_of_the_whole_set_mean(
    maxabs_run, estimator
) -> None:
    """Planted: the truth (each chip's whole-set accuracy) is measured, and the sampling variance of the
    stratified estimate is computed exactly from each chip's whole-set answers (plain numpy below).

    ``difference``: the plan's estimator (the clean accuracy + the subset mean of faulty - clean answers);
    ``plain``: the stratified estimate of the chip's accuracy alone (ChipSubsets without clean answers).
    """
    from sram_models import load_technology
    from wcatsim.experiments.plan.chips import DomainChips, make_layout
    from wcatsim.experiments.plan.domains import load_domains
    from wcatsim.experiments.plan.planner import PlanSettings, _Bench, _chip_subsets
    from wcatsim.experiments.plan.subsets import ChipSubsets
    from wcatsim.memory.evaluator import FaultEvaluator

    evaluator = FaultEvaluator.for_run(maxabs_run)
    weights = {name: int(codes.size) for name, codes in evaluator.memory.clean_codes.items()}
    doms = load_domains("layer", weights)
    layout = make_layout(evaluator.memory.bits, 64, "none")
    n_chips, n = 30, 50
    chips = DomainChips(maxabs_run.model, doms, layout, load_technology("chandramoorthy14"), 0.5, 11, n_chips)
    bench = _Bench(evaluator, chips, "mean", lambda k: None)
    labels = evaluator.labels
    everything = np.arange(labels.size)
    clean = evaluator.correct(None, everything).astype(float)
    assert 100.0 * clean.mean() == pytest.approx(evaluator.clean_acc, abs=1e-9)
    if estimator == "difference":
        subsets = _chip_subsets(evaluator, PlanSettings(images=n, seed=11))
    else:
        subsets = ChipSubsets(labels, n, 11)
    volts = [0.75] * len(doms)  # every domain at the lowest voltage: accuracies well below 100%
    ids = list(range(n_chips))
    whole, variance = [], []
    classes, counts = np.unique(labels, return_counts=True)
    for chip in ids:
        codes, _ = chips.read(volts, chip)
        right = evaluator.correct(codes, everything).astype(float)
        whole.append(100.0 * right.mean())
        # Var of the stratified estimate (Cochran eq. 5.6, population S_c^2) with this chip's allocation,
        # of the answers (plain) or of their differences from the clean model's (difference)
        sampled = right - clean if estimator == "difference" else right
        chosen = subsets.indices(chip)
        var = 0.0
        for c, big in zip(classes, counts, strict=True):
            taken = int((labels[chosen] == c).sum())
            s2 = sampled[labels == c].var(ddof=1)
            var += (big / labels.size) ** 2 * (1 - taken / big) * s2 / taken
        variance.append(1e4 * var)
    with bench.nested(subsets):
        estimates = bench.accuracies(volts, ids)
    assert len(set(estimates)) > 1 and min(whole) < 95.0, "the planted case has no spread to test"
    gap = float(np.mean(estimates) - np.mean(whole))
    sd = math.sqrt(sum(variance)) / n_chips
    bound = 4.0 * sd  # 4 standard deviations: a false alarm in 6e-5 of seeds
    assert abs(gap) <= bound, (
        f"mean subset accuracy {np.mean(estimates):.3f} is {gap:+.3f} points from the whole-set mean "
        f"{np.mean(whole):.3f}; bound 4 sd = {bound:.3f} (sd {sd:.3f} over {n_chips} chips, {n} images each)"
    )
    # and the estimates are not the whole-set values themselves (the subsets were really used)
    assert not np.allclose(estimates, whole)
    # acc_std_between: on the whole set the chips' plain std (no image term); nested, net of the image
    # term, so below the subset estimates' own std, and near the whole-set spread it estimates
    # the per-read cache keys the subset too: the same codes on the whole set are measured afresh
    assert bench.accuracies(volts, ids) == pytest.approx(whole, abs=1e-9)
    plain = bench.stats(volts, ids)
    assert plain.acc_std_between == pytest.approx(float(np.std(whole, ddof=1)), rel=1e-9)
    assert plain.images_per_realisation == labels.size
    with bench.nested(subsets):
        nested = bench.stats(volts, ids)
    assert nested.images_per_realisation == n and nested.acc_mean == pytest.approx(float(np.mean(estimates)))
    assert nested.acc_std_between < float(np.std(estimates, ddof=1))
    # same chips, so only image noise separates the two (at most about 4.4 points per chip here, the
    # plain estimator's): the delta method puts the difference's sd near 0.9 points, and 0.4 x the spread
    # (~3.5 points) is about 4 sd
    spread = float(np.std(whole, ddof=1))
    assert abs(nested.acc_std_between - spread) <= 0.4 * spread, (
        f"acc_std_between {nested.acc_std_between:.3f} on subsets vs the chips' whole-set std {spread:.3f}: "
        f"bound 0.4 x {spread:.3f}"
    )


def test_plan_images_refusals_name_the_setting() -> None:
    from wcatsim.experiments.plan.planner import PlanSettings
    from wcatsim.experiments.plan.subsets import ChipSubsets, subset_size

    for bad in (-1, "auto", "many", 2.5, True):
        with pytest.raises(InputError, match="`plan.images`") as info:
            PlanSettings(images=bad)
        assert "\n" not in str(info.value)
    assert subset_size("all", 539) == 0 and subset_size(539, 539) == 0 and subset_size("120", 539) == 120
    labels = np.repeat(np.arange(10), 5)
    for bad in (5, 51):  # below 2 per class, above the set
        with pytest.raises(InputError, match="`plan.images` must be between 20") as info:
            ChipSubsets(labels, bad, 0)
        assert "\n" not in str(info.value)
    # a streamed test set (decoded batch by batch) cannot give a chip its subset: refused before any work
    from types import SimpleNamespace

    from wcatsim.experiments.plan.planner import _chip_subsets

    held = SimpleNamespace(streamed=False, n_images=50, labels=labels, clean_acc=100.0,
                           correct=lambda codes, indices: np.ones(len(indices), dtype=bool))  # fmt: skip
    assert _chip_subsets(held, PlanSettings(images=30)).indices(0).size == 30
    assert _chip_subsets(held, PlanSettings(images=50)) is None  # the whole set
    with pytest.raises(InputError, match="`plan.images` needs the test set held in memory"):
        _chip_subsets(SimpleNamespace(streamed=True, n_images=50, labels=labels), PlanSettings(images=30))


def test_nested_curves_with_each_chips_clean_prefix_replayed_are_identical(
    maxabs_run, tmp_path, monkeypatch
) -> None:
    # Each chip's subset is the same at every point: its clean prefix is recorded once per batch of its own
    # images and replayed (FaultEvaluator.correct_replayed); the curves must be exactly those of whole
    # forwards on the subsets.
    from wcatsim.experiments.plan.planner import SENSITIVITY_CSV, PlanSettings, plan_voltage
    from wcatsim.memory.prefix import CleanPrefix

    replayed: list[int] = []  # unit calls answered from a record, per subset prediction
    predict = CleanPrefix.predict

    def spy(self, model, batches, changed):
        before = self.replayed_calls
        out = predict(self, model, batches, changed)
        replayed.append(self.replayed_calls - before)
        return out

    monkeypatch.setattr(CleanPrefix, "predict", spy)
    settings = PlanSettings(planning_chips=3, verification_chips=1, max_verification_sets=1, images=80)
    grid = [1.0, 0.9, 0.85, 0.8, 0.75]
    plans = {share: plan_voltage(maxabs_run, "chandramoorthy14", grid, settings=settings,
                                 out_dir=tmp_path / str(share), share_prefix=share)  # fmt: skip
             for share in (False, True)}  # fmt: skip
    plain, shared = plans[False], plans[True]
    assert sum(replayed) > 0, "nothing was replayed"
    assert len({row["acc_mean"] for row in plain.sensitivity}) > 2, "the curves should fall with the voltage"
    assert shared.sensitivity == plain.sensitivity
    table = {share: (tmp_path / str(share) / SENSITIVITY_CSV).read_bytes() for share in (False, True)}
    assert table[True] == table[False]
    assert shared.voltages == plain.voltages


def test_the_difference_estimate_moves_only_with_the_answers_the_faults_changed() -> None:
    from wcatsim.experiments.plan.subsets import ChipSubsets

    labels = np.repeat(np.arange(4), [10, 20, 30, 40])  # N = 100, class weights 0.1 .. 0.4
    clean = np.random.default_rng(3).random(100) < 0.8
    subsets = ChipSubsets(labels, 40, 5, clean, clean_acc=81.0)
    chosen = subsets.indices(2)
    assert subsets.estimate(clean[chosen], 2) == (81.0, 0.0)  # no answer changed: C exactly, no noise
    flipped = clean[chosen].copy()
    k = int(np.flatnonzero(labels[chosen] == 3)[0])  # an image of class 3: 16 of its 40 in the subset
    flipped[k] = not flipped[k]
    acc, var = subsets.estimate(flipped, 2)
    step = 100.0 * 0.4 / 16  # W_3 / n_3, in points
    assert acc == pytest.approx(81.0 + (step if flipped[k] else -step), abs=1e-12)
    assert var > 0.0
