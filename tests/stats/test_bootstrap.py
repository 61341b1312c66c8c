"""The paired bootstrap of the iso-accuracy saving over chips and seeds, and the technology band."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sram_models.errors import InputError
from tests.naive import naive_bootstrap_savings
from wcatsim.analysis.pareto import (
    band_parameters,
    bootstrap_iso_savings,
    iso_accuracy_saving,
    technology_band,
)
from wcatsim.stats.bootstrap import percentile_interval

VOLTAGES = [0.8, 0.85, 0.9, 0.95, 1.0]
MU, SIGMA = 0.59494, 0.10104  # chandramoorthy14's curve


def _rate(v: float, mu: float = MU, sigma: float = SIGMA) -> float:
    return 0.5 * math.erfc((v - mu) / (sigma * math.sqrt(2.0)))


def _sweep(acc: list[list[float]], clean: float, chip_seed0: int = 0):
    """(sweep rows, realisation rows) of one model and training seed; acc[c][k]: chip c at VOLTAGES[k]."""
    sweep = [{"voltage": v, "ber": _rate(v), "energy_norm": v * v,
              "acc_mean": float(np.mean([a[k] for a in acc])), "ci_low": 0.0, "clean_acc": clean}
             for k, v in enumerate(VOLTAGES)]  # fmt: skip
    real = [{"voltage": v, "realisation": c, "seed": chip_seed0 + c, "accuracy": acc[c][k]}
            for k, v in enumerate(VOLTAGES) for c in range(len(acc))]  # fmt: skip
    return sweep, real


def _chips(rng: np.random.Generator, chips: int, drop: float) -> list[list[float]]:
    # quarter-point accuracies (exact binary sums): a loss growing towards the low voltages
    return [[99.0 - 0.25 * int(rng.integers(0, 4 * drop * (1.0 - v) / 0.2 + 1)) for v in VOLTAGES]
            for _ in range(chips)]  # fmt: skip


@pytest.mark.parametrize("case", range(6))
def test_paired_bootstrap_equals_the_loops_of_the_naive_reference(case: int) -> None:
    rng = np.random.default_rng(100 + case)
    seeds, chips = 1 + case % 3, 4 + case
    acc = [[_chips(rng, chips, drop) for _ in range(seeds)] for drop in (1.5, 3.0)]  # two models
    names = ("wcat", "maxabs")
    runs = {name: [_sweep(acc[m][s], 99.0) for s in range(seeds)] for m, name in enumerate(names)}
    draws = bootstrap_iso_savings(runs, budget=1.0, resamples=60, seed=case)
    ref = naive_bootstrap_savings(acc, VOLTAGES, [v * v for v in VOLTAGES], [99.0, 99.0], 1.0, 60, case)
    assert draws["wcat"].tolist() == ref[0]
    assert draws["maxabs"].tolist() == ref[1]


def test_one_model_against_itself_differs_by_exactly_zero_and_the_interval_brackets_the_point() -> None:
    rng = np.random.default_rng(7)
    acc = _chips(rng, 12, 3.0)
    runs = {"a": [_sweep(acc, 99.0)], "b": [_sweep(acc, 99.0)]}
    draws = bootstrap_iso_savings(runs, resamples=200, seed=1)
    assert np.all(draws["a"] - draws["b"] == 0.0)  # paired: the same chips in every resample
    low, high = percentile_interval(draws["a"])
    point = iso_accuracy_saving(runs["a"][0][0], 1.0).saving
    assert low <= point <= high, (low, point, high)


def test_sweeps_of_different_chips_are_refused() -> None:
    rng = np.random.default_rng(3)
    acc = _chips(rng, 5, 2.0)
    runs = {"a": [_sweep(acc, 99.0)], "b": [_sweep(acc, 99.0, chip_seed0=100)]}
    with pytest.raises(InputError, match="chips or voltages differ"):
        bootstrap_iso_savings(runs, resamples=10)


def test_technology_band_on_the_sweeps_own_curve_is_the_point_and_a_worse_curve_saves_less() -> None:
    rng = np.random.default_rng(11)
    sweep, _ = _sweep(_chips(rng, 20, 3.0), 99.0)
    point = iso_accuracy_saving(sweep, 1.0).saving
    assert technology_band(sweep, [(MU, SIGMA)]) == (point, point)
    # mu + 0.05: every voltage has a higher faulty-cell rate, so no lower voltage can qualify
    low, high = technology_band(sweep, [(MU, SIGMA), (MU + 0.05, SIGMA)])
    assert low <= high == point
    assert technology_band(sweep, []) is None


def test_band_parameters_of_the_shipped_presets() -> None:
    from sram_models.technology.fit import load_fit

    pairs = band_parameters(load_fit("chandramoorthy14"))
    assert pairs == [(0.59494, 0.10104), (0.66770, 0.06977)]  # the fit, the other second-point assumption
    fig1 = band_parameters(load_fit("chandramoorthy14_fig1"))
    assert len(fig1) == 9 and fig1[0] == (0.70559, 0.055212)
    assert (0.70559 - 0.0022, 0.055212 + 0.00074) in fig1
    assert band_parameters(load_fit("dpcs45")) == []  # a table preset: no parameters


@pytest.mark.parametrize("n", [2, 3, 7])
def test_t_interval_over_seeds_matches_the_term_by_term_reference(n: int) -> None:
    from tests.naive import mean_ci_reference
    from wcatsim.stats.bootstrap import t_interval

    values = list(np.random.default_rng(n).normal(98.7, 0.37, size=n))
    ref = mean_ci_reference(values)
    low, high = t_interval(values)
    assert low == pytest.approx(ref["ci_low"], rel=1e-12) and high == pytest.approx(ref["ci_high"], rel=1e-12)
    assert t_interval(values[:1]) is None


def test_the_voltage_draws_are_those_of_the_same_resamples_as_the_savings() -> None:
    rng = np.random.default_rng(5)
    runs = {"a": [_sweep(_chips(rng, 9, 3.0), 99.0)], "b": [_sweep(_chips(rng, 9, 1.0), 99.0)]}
    savings = bootstrap_iso_savings(runs, resamples=100, seed=4)
    volts = bootstrap_iso_savings(runs, resamples=100, seed=4, quantity="voltage")
    for name in runs:  # energy = V^2 falls with V, so the saving is 1 - V^2 of the same resample
        assert np.allclose(1.0 - volts[name] ** 2, savings[name], rtol=0, atol=1e-12), name
        assert set(volts[name]) <= set(VOLTAGES)
