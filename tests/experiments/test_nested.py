"""Nested Monte Carlo (issue 18 section 1): per-realisation image subsets, unbiased, with a variance split."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sram_models.errors import InputError
from tests.naive import naive_std_between, naive_stratified_estimate
from wcatsim.experiments.montecarlo.nested import allocation, draw_subset, std_between, subset_estimate
from wcatsim.experiments.montecarlo.seeds import subset_seed, transient_seed
from wcatsim.store.atomic import read_csv
from wcatsim.store.columns import standard_columns


def _synthetic(rows: int = 6, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    # 539 images in 10 uneven classes (the embedded digits' test size); per-image correctness whose
    # rate differs by class and by realisation (a collapse in row 0), so stratification matters.
    rng = np.random.default_rng(seed)
    labels = rng.choice(10, size=539, p=np.linspace(1, 3, 10) / np.linspace(1, 3, 10).sum())
    rate = np.clip(rng.uniform(0.6, 0.99, size=(rows, 10)), 0, 1)
    rate[0] = 0.1
    correct = rng.random((rows, 539)) < rate[:, labels]
    return correct, labels


def test_allocation_is_proportional_with_two_per_class_and_refuses_too_few() -> None:
    counts = [1, 5, 50, 100]
    take = allocation(counts, 20)
    assert int(take.sum()) == 20 and list(take[:2]) == [1, 2] and all(take <= counts)
    assert list(allocation(counts, 156)) == counts
    with pytest.raises(InputError, match="between 7"):
        allocation(counts, 6)
    with pytest.raises(InputError, match="156 test images"):
        allocation(counts, 157)


def test_subset_seed_is_its_own_stream_and_subsets_are_reproducible() -> None:
    assert subset_seed(0, 1e-3, 4) == subset_seed(0, 0.001, 4) != transient_seed(0, 1e-3, 4)
    _, labels = _synthetic()
    a = draw_subset(labels, 60, subset_seed(0, 1e-3, 4))
    assert np.array_equal(a, draw_subset(labels, 60, subset_seed(0, 1e-3, 4)))
    assert a.size == 60 and np.unique(a).size == 60
    assert not np.array_equal(a, draw_subset(labels, 60, subset_seed(0, 1e-3, 5)))


def test_subset_estimate_is_unbiased_and_its_variance_estimate_matches_the_spread() -> None:
    correct, labels = _synthetic()
    truth = 100.0 * correct.mean(axis=1)
    draws = 3000
    for r in range(correct.shape[0]):
        est, var = np.empty(draws), np.empty(draws)
        for k in range(draws):
            chosen = draw_subset(labels, 60, subset_seed(7, 0.5, r * draws + k))
            est[k], var[k] = subset_estimate(correct[r, chosen], labels[chosen], labels)
        # E[estimate] = whole-set accuracy: a 5-sigma bound on the mean of `draws` estimates
        bound = 5.0 * math.sqrt(float(var.mean()) / draws)
        assert abs(est.mean() - truth[r]) <= bound, (
            f"row {r}: mean of {draws} subset estimates {est.mean():.4f} vs whole-set {truth[r]:.4f}, "
            f"5-sigma bound {bound:.4f}"
        )
        # E[v] = Var[estimate]: the sample variance of 3000 estimates is within 15% (its relative
        # standard error is about sqrt(2/3000) = 2.6%, plus the kurtosis of a 0/1 mean: 15% is > 5 sigma)
        assert abs(var.mean() / est.var(ddof=1) - 1.0) <= 0.15, (
            f"row {r}: mean estimated variance {var.mean():.4f} vs observed {est.var(ddof=1):.4f} (15% bound)"
        )


def test_variance_split_matches_the_hand_computation() -> None:
    correct, labels = _synthetic()
    accs, within = [], []
    for r in range(correct.shape[0]):
        chosen = draw_subset(labels, 45, subset_seed(1, 0.25, r))
        acc, var = subset_estimate(correct[r, chosen], labels[chosen], labels)
        ref_acc, ref_var = naive_stratified_estimate(correct[r, chosen].tolist(), labels[chosen].tolist(),
                                                     labels.tolist())  # fmt: skip
        assert acc == pytest.approx(ref_acc, abs=1e-9) and var == pytest.approx(ref_var, rel=1e-9)
        accs.append(acc)
        within.append(var)
    assert std_between(accs, within) == pytest.approx(naive_std_between(accs, within), rel=1e-9)
    # the whole set: no sampling variance, the plain accuracy
    everything = np.arange(labels.size)
    acc, var = subset_estimate(correct[1], labels, labels)
    assert var == 0.0 and acc == pytest.approx(100.0 * correct[1].mean(), abs=1e-9)
    assert std_between([90.0, 90.0], [4.0, 4.0]) == 0.0 and everything.size == 539


@pytest.fixture(scope="module")
def runs(digits_runs):
    from wcatsim.train.runs import load_run

    return {name: load_run(digits_runs[name], device="cpu") for name in ("wcat", "maxabs")}


def test_images_all_and_the_paper_protocol_are_today_s_table(runs, tmp_path) -> None:
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep

    bers = [0.0, 2e-2]
    base = random_flip_sweep(runs["wcat"], bers, samples=50, out=tmp_path / "a.csv")
    # a whole-set table carries the design too: n = the test set, no image term (std_between = std)
    assert [r["images_per_realisation"] for r in base] == [539, 539]
    assert base[1]["acc_std"] > 0
    assert base[1]["acc_std_between"] == pytest.approx(base[1]["acc_std"], rel=1e-12)
    for name, kwargs in (("b", {"images": "all", "samples": 50}), ("c", {"images": 539, "samples": 50}),
                         ("d", {"protocol": "paper"})):  # fmt: skip
        rows = random_flip_sweep(runs["wcat"], bers, out=tmp_path / f"{name}.csv", **kwargs)
        assert rows == base, name
        assert (tmp_path / f"{name}.json").read_text().split('"fingerprint"')[1][:70] == (
            (tmp_path / "a.json").read_text().split('"fingerprint"')[1][:70]
        )
    with pytest.raises(InputError, match="protocol 'paper'"):
        random_flip_sweep(runs["wcat"], bers, protocol="paper", images=100, out=tmp_path / "e.csv")


def test_nested_sweep_columns_exact_clean_points_and_shared_subsets(runs, tmp_path) -> None:
    from wcatsim.experiments.sweeps.sweep import RANDOM_FLIP_COLUMNS, random_flip_sweep

    per = {}
    for name, run in runs.items():
        out = tmp_path / f"{name}.csv"
        rows = random_flip_sweep(run, [0.0, 3e-2], samples=6, images=100, seed=2, out=out,
                                 per_realisation=True)
        assert list(read_csv(out)[0]) == list(standard_columns(RANDOM_FLIP_COLUMNS))
        zero, high = rows
        # a point whose reads change nothing stays exact and free
        assert (zero["acc_mean"], zero["acc_std_between"], zero["images_per_realisation"]) == (
            zero["clean_acc"], 0.0, 100)
        assert 0.0 <= high["acc_std_between"] and high["images_per_realisation"] == 100
        per[name] = read_csv(tmp_path / f"{name}_realisations.csv")
        assert {r["images"] for r in per[name] if float(r["ber"]) == 0.0} == {"0"}
        assert {r["images"] for r in per[name] if float(r["ber"]) == 3e-2} == {"100"}
    # common random numbers: the same fault seeds in both models (and with them the same subset seeds)
    assert [r["seed"] for r in per["wcat"]] == [r["seed"] for r in per["maxabs"]]
    with pytest.raises(InputError, match="per realisation must be between"):
        random_flip_sweep(runs["wcat"], [1e-2], samples=2, images=5, out=tmp_path / "x.csv")


def test_voltage_sweep_takes_images_per_realisation(runs, tmp_path) -> None:
    from wcatsim.experiments.sweeps.sweep import SWEEP_VOLTAGE_COLUMNS, voltage_sweep

    out = tmp_path / "v.csv"
    rows = voltage_sweep(runs["wcat"], "chandramoorthy14", [1.0, 0.75], chips=3, images=80, out=out)
    assert list(read_csv(out)[0]) == list(standard_columns(SWEEP_VOLTAGE_COLUMNS))
    assert all(r["images_per_realisation"] == 80 for r in rows) and rows[0]["acc_std_between"] >= 0.0


def test_ci_nominal_flags_a_mixture_of_collapsed_and_fine_draws() -> None:
    from wcatsim.experiments.sweeps.sweep import ci_nominal

    assert ci_nominal([95.0, 95.5, 80.0], 96.0)  # 80 is 16 points below clean: a collapse among fine draws
    assert not ci_nominal([95.0, 94.0, 93.0], 96.0)  # all fine
    assert not ci_nominal([50.0, 40.0], 96.0)  # all collapsed: one mode
    assert not ci_nominal([86.0, 95.0], 96.0)  # exactly 10 below is not a collapse (tails' strict rule)
    assert ci_nominal([85.9, 95.0], 96.0)
