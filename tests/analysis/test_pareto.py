"""Pareto fronts, the iso-accuracy saving and ``wcatsim pareto`` on synthetic sweeps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sram_models.errors import InputError
from tests.naive import naive_iso_voltage, naive_pareto_front
from wcatsim.analysis.pareto import iso_accuracy_saving, load_sweep, pareto_front
from wcatsim.store.atomic import atomic_write_csv, read_csv

SWEEP_COLUMNS = [
    "voltage",
    "ber",
    "bits_changed_mean",
    "energy_per_inference_pj",
    "energy_norm",
    "realisations",
    "acc_mean",
    "acc_std",
    "ci_low",
    "ci_high",
    "clean_acc",
]


# ------------------------------------------------------------------------------------ pareto_front


@pytest.mark.parametrize("seed", range(40))
def test_front_matches_brute_force_on_random_sets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    if seed % 3 == 0:
        # Coarse grid: many ties in energy, in accuracy, and exact duplicates.
        pts = rng.integers(0, 5, size=(n, 2)).astype(float)
    else:
        pts = rng.random((n, 2))
        pts[rng.random(n) < 0.2] = pts[0]  # duplicates of one point
    got = pareto_front(pts)
    want = naive_pareto_front(pts)
    assert got.dtype == bool and got.shape == (n,)
    np.testing.assert_array_equal(got, want, err_msg=f"points:\n{pts}")


def test_front_hand_made_cases() -> None:
    # (energy, accuracy)
    pts = [(1.0, 90.0), (0.8, 90.0), (0.8, 90.0), (0.6, 80.0), (0.6, 85.0), (0.9, 95.0), (0.5, 10.0)]
    # (1.0, 90) beaten by (0.8, 90) on energy; (0.6, 80) beaten by (0.6, 85) on accuracy;
    # the two (0.8, 90) are identical and both stay.
    assert pareto_front(pts).tolist() == [False, True, True, False, True, True, True]
    assert pareto_front(np.empty((0, 2))).tolist() == []
    assert pareto_front([(1.0, 1.0)]).tolist() == [True]
    with pytest.raises(InputError, match="shape"):
        pareto_front([1.0, 2.0])
    with pytest.raises(InputError, match="NaN"):
        pareto_front([(1.0, float("nan"))])


# ----------------------------------------------------------------------------- iso-accuracy saving


def sweep_rows(voltages, acc, energy=None, ci_low=None, clean=95.0):
    energy = energy if energy is not None else [round(v * v, 6) for v in voltages]  # ∝ V², 1 at 1.0 V
    ci_low = ci_low if ci_low is not None else [a - 0.5 for a in acc]
    return [
        {"voltage": v, "energy_norm": e, "acc_mean": a, "ci_low": c, "clean_acc": clean}
        for v, a, e, c in zip(voltages, acc, energy, ci_low, strict=True)
    ]


V = [0.80, 0.85, 0.90, 0.95, 1.00]


def test_iso_scans_down_and_stops_at_the_first_miss() -> None:
    rows = sweep_rows(V, [60.0, 93.5, 94.5, 94.95, 95.0])
    one = iso_accuracy_saving(rows, 1.0)
    assert one.voltage == 0.90 and one.energy_norm == pytest.approx(0.81)
    assert one.saving == pytest.approx(0.19)
    assert not one.bounded_by_sweep and one.nominal_within_budget
    tenth = iso_accuracy_saving(rows, 0.1)
    assert tenth.voltage == 0.95 and tenth.saving == pytest.approx(1 - 0.9025)


def test_iso_a_dip_ends_the_scan_even_if_a_lower_voltage_recovers() -> None:
    rows = sweep_rows(V, [95.0, 95.0, 90.0, 95.0, 95.0])  # 0.90 V misses; 0.85 and 0.80 look fine
    iso = iso_accuracy_saving(rows, 1.0)
    assert iso.voltage == 0.95, "every higher swept voltage must stay within the budget"


def test_iso_no_lowered_voltage_qualifies_gives_zero_saving() -> None:
    rows = sweep_rows(V, [50.0, 60.0, 70.0, 80.0, 95.0])
    iso = iso_accuracy_saving(rows, 1.0)
    assert iso.voltage == 1.0 and iso.saving == 0.0 and iso.energy_norm == 1.0
    assert iso.nominal_within_budget and not iso.bounded_by_sweep


def test_iso_nominal_itself_outside_budget() -> None:
    rows = sweep_rows(V, [95.0] * 4 + [93.0])
    iso = iso_accuracy_saving(rows, 1.0)
    assert iso.saving == 0.0 and iso.voltage == 1.0 and not iso.nominal_within_budget


def test_iso_lowest_swept_voltage_qualifies_is_flagged_bounded() -> None:
    rows = sweep_rows(V, [94.2, 94.5, 94.8, 95.0, 95.0])
    iso = iso_accuracy_saving(rows, 1.0)
    assert iso.voltage == 0.80 and iso.bounded_by_sweep
    assert iso.saving == pytest.approx(1 - 0.64)
    # A sweep of one voltage (nominal only): nothing lowered, and the sweep bounds it.
    only = iso_accuracy_saving(sweep_rows([1.0], [95.0]), 1.0)
    assert only.saving == 0.0 and only.bounded_by_sweep


def test_iso_budget_is_inclusive_and_metric_selects_the_column() -> None:
    acc = [90.0, 94.0, 94.9, 95.0, 95.0]  # 94.0 is exactly clean - 1
    ci = [89.0, 93.0, 94.0, 94.95, 95.0]
    rows = sweep_rows(V, acc, ci_low=ci)
    assert iso_accuracy_saving(rows, 1.0).voltage == 0.85
    assert iso_accuracy_saving(rows, 1.0, metric="ci_low").voltage == 0.90
    assert iso_accuracy_saving(rows, 0.1, metric="ci_low").voltage == 0.95
    with pytest.raises(InputError, match="metric"):
        iso_accuracy_saving(rows, 1.0, metric="median")


def test_iso_reads_csv_strings_unsorted_and_ignores_voltages_above_nominal() -> None:
    rows = sweep_rows([1.05, 1.0, 0.9, 0.95], [10.0, 95.0, 94.5, 95.0], energy=[1.1, 1.0, 0.81, 0.9])
    rows = [{k: str(v) for k, v in r.items()} for r in rows]
    iso = iso_accuracy_saving(rows, 1.0)
    assert iso.nominal_voltage == 1.0 and iso.voltage == 0.9
    explicit = iso_accuracy_saving(rows, 1.0, v_nominal=0.95)
    assert explicit.voltage == 0.9 and explicit.nominal_voltage == 0.95


def test_iso_with_the_nominal_voltage_given_but_not_swept() -> None:
    rows = sweep_rows(V[:-1], [94.5, 94.8, 95.0, 95.0])  # 0.80..0.95 V; nominal 1.0 V not swept
    iso = iso_accuracy_saving(rows, 1.0, v_nominal=1.0)
    assert iso.voltage == 0.80 and iso.bounded_by_sweep and iso.saving == pytest.approx(1 - 0.64)
    top_only = iso_accuracy_saving(sweep_rows(V[:-1], [50.0, 60.0, 70.0, 95.0]), 1.0, v_nominal=1.0)
    assert top_only.voltage == 0.95 and top_only.saving == pytest.approx(1 - 0.9025)
    nothing = iso_accuracy_saving(
        sweep_rows(V[:-1], [50.0, 60.0, 70.0, 80.0], clean=95.0), 1.0, v_nominal=1.0
    )
    assert nothing.voltage == 1.0 and nothing.saving == 0.0 and nothing.energy_norm == 1.0


def test_iso_saving_keeps_a_negative_saving() -> None:
    """Issue 17 §5: a protected sweep whose cheapest qualifying point costs more than the unprotected
    image at nominal (energy_norm > 1) shows 1 - energy, negative, not 0."""
    dear = sweep_rows(V, [95.0] * 5, energy=[1.20, 1.18, 1.16, 1.14, 1.125])
    iso = iso_accuracy_saving(dear, 1.0)
    assert iso.voltage == 1.0 and iso.saving == pytest.approx(-0.125)
    # the cheapest qualifying point is nominal (1.125): saving -0.125
    cheapest_at_nominal = iso_accuracy_saving(sweep_rows(V, [95.0] * 5, energy=[1.3, 1.25, 1.2, 1.15, 1.125]),
                                              1.0, v_nominal=1.0)
    assert cheapest_at_nominal.voltage == 1.0 and cheapest_at_nominal.saving == pytest.approx(-0.125)
    # a lowered point that is the cheapest but still above 1: its own negative number
    lowered = iso_accuracy_saving(sweep_rows(V, [50.0, 95.0, 95.0, 95.0, 95.0],
                                             energy=[1.0, 1.05, 1.10, 1.15, 1.20]), 1.0, v_nominal=1.0)
    assert lowered.voltage == 0.85 and lowered.saving == pytest.approx(-0.05)
    # nothing lowered qualifies: the nominal point's cost, negative
    none = iso_accuracy_saving(sweep_rows(V, [50.0, 50.0, 50.0, 50.0, 95.0],
                                          energy=[1.0, 1.05, 1.10, 1.15, 1.125]), 1.0, v_nominal=1.0)
    assert none.voltage == 1.0 and none.saving == pytest.approx(-0.125)


def test_iso_saving_is_the_lowest_energy_among_qualifying_voltages() -> None:
    # leakage over a slower clock: energy falls, then rises again toward the lowest voltages
    energy = [1.30, 0.90, 0.85, 0.95, 1.0]
    rows = sweep_rows(V, [95.0] * 5, energy=energy)
    iso = iso_accuracy_saving(rows, 1.0)
    assert iso.voltage == 0.90 and iso.saving == pytest.approx(0.15) and iso.lowest_voltage == 0.80
    assert not iso.bounded_by_sweep, "the cheapest point lies inside the sweep"
    # by the definition: the minimum over every qualifying voltage (here all of them)
    assert iso.energy_norm == min(energy)
    # every lowered voltage dearer than nominal: stay at nominal, saving 0
    dear = iso_accuracy_saving(sweep_rows(V, [95.0] * 5, energy=[1.4, 1.3, 1.2, 1.1, 1.0]), 1.0)
    assert dear.voltage == 1.0 and dear.saving == 0.0 and dear.lowest_voltage == 0.80
    # nominal not swept: it still counts, at energy 1
    top = iso_accuracy_saving(sweep_rows(V[:-1], [95.0] * 4, energy=[1.4, 1.3, 1.2, 1.1]), 1.0, v_nominal=1.0)
    assert top.voltage == 1.0 and top.saving == 0.0


def test_iso_bad_rows_are_clear_errors() -> None:
    with pytest.raises(InputError, match="no rows"):
        iso_accuracy_saving([], 1.0)
    with pytest.raises(InputError, match="energy_norm"):
        iso_accuracy_saving([{"voltage": 1.0, "acc_mean": 95, "ci_low": 94, "clean_acc": 95}], 1.0)
    with pytest.raises(InputError, match="twice"):
        iso_accuracy_saving(sweep_rows([1.0, 1.0], [95.0, 95.0]), 1.0)
    with pytest.raises(InputError, match="budget"):
        iso_accuracy_saving(sweep_rows([1.0], [95.0]), -1.0)


@pytest.mark.parametrize("seed", range(25))
def test_iso_matches_the_definition_on_random_sweeps(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 12))
    voltages = sorted(rng.choice(np.round(np.arange(0.6, 1.01, 0.02), 2), size=n, replace=False).tolist())
    if 1.0 not in voltages:
        voltages[-1] = 1.0
    clean = 95.0
    acc = (clean - rng.choice([0.0, 0.05, 0.1, 0.5, 1.0, 1.5, 5.0], size=len(voltages))).tolist()
    rows = sweep_rows(voltages, acc, clean=clean)
    for budget in (1.0, 0.1):
        iso = iso_accuracy_saving(rows, budget)
        want = naive_iso_voltage(voltages, acc, clean, budget, 1.0)
        expected_v = 1.0 if want is None else want
        assert iso.voltage == expected_v, (voltages, acc, budget)
        assert iso.bounded_by_sweep == (want is not None and want == voltages[0])


# ----------------------------------------------------------------------------- wcatsim pareto CLI


def make_run(root: Path, name: str, quantizer: str, acc: list[float], ecc: str = "none") -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "summary.json").write_text(
        json.dumps({"quantizer": quantizer, "bits": 4, "test_accuracy": acc[-1]})
    )
    (run / "config.toml").write_text(
        f'[quant]\nmethod = "{quantizer}"\nbits = 4\n\n[attack.sweep]\npreset = "chandramoorthy14"\n'
        f'ecc = "{ecc}"\n'
    )
    rows = []
    for v, a in zip(V, acc, strict=True):
        rows.append(
            {
                "voltage": v,
                "ber": 0.01 * (1 - v),
                "bits_changed_mean": 3,
                "energy_per_inference_pj": "",
                "energy_norm": round(v * v, 6),
                "realisations": 5,
                "acc_mean": a,
                "acc_std": 0.3,
                "ci_low": a - 0.4,
                "ci_high": a + 0.4,
                "clean_acc": acc[-1],
            }
        )
    atomic_write_csv(run / "sweep_voltage.csv", SWEEP_COLUMNS, rows)
    return run


def test_pareto_cli_on_synthetic_runs(tmp_path: Path) -> None:
    from cli.main import cli

    a = make_run(tmp_path, "run_maxabs", "maxabs", [40.0, 80.0, 93.0, 94.6, 95.0])
    b = make_run(tmp_path, "run_wcat", "wcat", [94.3, 94.9, 95.0, 95.0, 95.0])
    c = make_run(tmp_path, "run_wcat_ecc", "wcat", [94.3, 94.9, 95.0, 95.0, 95.0], ecc="secded")
    out = tmp_path / "figs" / "front.png"
    result = CliRunner().invoke(
        cli, ["pareto", str(a), str(b), str(c / "sweep_voltage.csv"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "maxabs 4-bit, chandramoorthy14, ECC off" in result.output
    assert "ECC secded" in result.output
    assert "bounded" in result.output  # wcat qualifies down to the lowest swept voltage
    for p in (out, out.with_suffix(".pdf"), out.with_suffix(".csv"), out.with_name("front_iso.csv")):
        assert p.exists() and p.stat().st_size > 0, p
    points = read_csv(out.with_suffix(".csv"))
    # Deliberate change (issue 19 section 3): the legend split into fields, units named, old names last
    assert list(points[0]) == [
        "label", "run", "model_name", "quantizer", "bits", "dataset", "preset", "protect", "train_seed",
        "voltage_v", "voltage_norm", "energy_norm", "acc_mean_pct", "ci_low_pct", "acc_p05_pct",
        "collapsed_frac", "on_front", "voltage", "acc_mean", "ci_low", "acc_p05", "collapsed_share", "model",
    ]  # fmt: skip
    assert len(points) == 15
    first = points[0]
    assert (first["label"], first["run"], first["quantizer"], first["bits"], first["preset"]) == (
        first["model"], "run_maxabs", "maxabs", "4", "chandramoorthy14")
    assert float(first["voltage_v"]) == round(float(first["voltage"]) * 0.8, 12)  # Vmin = 0.8 V
    iso = {(r["model"], float(r["budget"])): r for r in read_csv(out.with_name("front_iso.csv"))}
    maxabs = iso[("maxabs 4-bit, chandramoorthy14, ECC off", 1.0)]
    assert float(maxabs["voltage"]) == 0.95 and float(maxabs["saving"]) == pytest.approx(1 - 0.9025)
    wcat = iso[("wcat 4-bit, chandramoorthy14, ECC off", 1.0)]
    assert float(wcat["voltage"]) == 0.8 and wcat["bounded_by_sweep"] == "True"
    # The figure is a real picture, not a blank canvas.
    import matplotlib.image

    assert matplotlib.image.imread(out).std() > 0.01


def test_pareto_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    from cli.pareto import pareto

    empty = tmp_path / "empty_run"
    empty.mkdir()
    result = CliRunner().invoke(pareto, [str(empty), "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "error:" in result.output and "sweep-voltage" in result.output
    assert "Traceback" not in result.output


def test_load_sweep_labels_from_sweep_metadata(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", "lsq", [90.0, 93.0, 94.5, 95.0, 95.0])
    (run / "sweep_voltage.json").write_text(json.dumps({"preset": "dpcs45", "ecc": "secded"}))
    s = load_sweep(run)
    assert s.label == "lsq 4-bit, dpcs45, ECC secded"
    assert s.front().any()
    # The layout wcatsim.experiments.sweeps.sweep writes: settings with the technology's description
    # (values as strings).
    meta = {
        "fingerprint": "x",
        "settings": {
            "preset": "chandramoorthy14",
            "ecc": "none",
            "technology": {"name": "chandramoorthy14", "v_nominal": "1.0"},
        },
    }
    (run / "sweep_voltage.json").write_text(json.dumps(meta))
    s = load_sweep(run)
    assert s.label == "lsq 4-bit, chandramoorthy14, ECC off" and s.info["v_nominal"] == 1.0
