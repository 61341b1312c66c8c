"""Tables tools can read: the run in columns, volts in voltage_v, units in the names, old names kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sram_models import load_technology
from wcatsim.store.atomic import atomic_write_csv, read_csv
from wcatsim.store.columns import (
    IDENTITY_COLUMNS,
    RENAMES,
    VOLTAGE_COLUMNS,
    accept_both,
    column,
    read_table,
    run_identity,
    standard_columns,
    standard_row,
    voltage_columns,
)


def test_standard_columns_put_the_identity_first_and_the_old_names_last() -> None:
    assert standard_columns(("voltage", "ber", "acc_mean", "leakage_share", "realisations")) == (
        *IDENTITY_COLUMNS, "voltage_v", "voltage_norm", "ber", "acc_mean_pct", "leakage_frac", "realisations",
        "voltage", "acc_mean", "leakage_share",
    )  # fmt: skip
    assert standard_columns(("acc", "loss"), identity=False) == ("acc_pct", "loss", "acc")
    # every new name states its unit, and no new name is also an old one
    assert all(new.endswith(("_pct", "_frac", "_pp")) for new in RENAMES.values())
    assert not set(RENAMES.values()) & set(RENAMES)


@pytest.mark.parametrize(
    ("preset", "voltage", "volts", "norm"),
    [
        # x Vmin, Vmin = 0.8 V (vmin_volts of the preset file)
        ("chandramoorthy14", 0.9, 0.72, 0.9),
        # volts, v_min = 0.74 V
        ("dpcs45", 0.9, 0.9, round(0.9 / 0.74, 12)),
        # x Vmin with no vmin_volts: no volts to give
        ("chandramoorthy14_fig1", 0.9, None, 0.9),
    ],
)
def test_voltage_columns_are_volts_and_multiples_of_vmin(preset, voltage, volts, norm) -> None:
    tech = load_technology(preset)
    assert voltage_columns(tech)(voltage) == {"voltage_v": volts, "voltage_norm": norm}
    # the sidecar's description gives the same
    assert voltage_columns(tech.describe())(voltage) == {"voltage_v": volts, "voltage_norm": norm}


def test_standard_row_and_accept_both_read_either_name() -> None:
    tech = load_technology("dpcs45")
    row = standard_row({"voltage": 0.8, "acc_mean": 91.5, "flip_rate": 1e-3}, {"run": "r", "bits": 4},
                       voltage_columns(tech))  # fmt: skip
    assert row == {
        "run": "r", "bits": 4, "voltage": 0.8, "acc_mean": 91.5, "flip_rate": 1e-3, "acc_mean_pct": 91.5,
        "flip_frac": 1e-3, "voltage_v": 0.8, "voltage_norm": round(0.8 / 0.74, 12),
    }  # fmt: skip
    # a table of a later release, new names only: the old ones come back, voltage in the preset's unit
    vmin_unit = {"voltage_unit": "Vmin", "v_min": 1.0}
    later = accept_both({"voltage_norm": "1.25", "acc_mean_pct": "90.0"}, vmin_unit)
    assert (later["voltage"], later["acc_mean"]) == (1.25, "90.0")
    assert accept_both({"voltage_v": "0.8"}, tech.describe())["voltage"] == "0.8"
    assert column({"ci_low_pct": "1.5"}, "ci_low") == "1.5" and column({"ci_low": "2"}, "ci_low_pct") == "2"
    assert column({"ci_low": ""}, "ci_low", default="none") == "none"


def test_run_identity_names_the_run_from_its_config(tmp_path: Path) -> None:
    from wcatsim.config import load_config

    cfg = load_config([], ["quant.method=lsq", "quant.bits=8"])
    assert run_identity(cfg, tmp_path / "my-run") == {
        "run": "my-run", "model": "small_cnn", "quantizer": "lsq", "bits": 8, "dataset": "digits",
    }  # fmt: skip
    floating = load_config([], ["quant.method=float"])
    assert run_identity(floating, None)["bits"] is None  # a float model stores no bit width


def test_read_table_restores_voltage_from_the_sidecar(tmp_path: Path) -> None:
    """A table written with the new names only reads back with the old ones (voltage from its technology)."""
    tech = load_technology("chandramoorthy14")
    path = tmp_path / "sweep_voltage.csv"
    atomic_write_csv(path, ("voltage_v", "voltage_norm", "acc_mean_pct"),
                     [{"voltage_v": 0.8 * 0.95, "voltage_norm": 0.95, "acc_mean_pct": 88.0}])  # fmt: skip
    (path.with_suffix(".json")).write_text(json.dumps({"settings": {"technology": tech.describe()}}))
    (row,) = read_table(path)
    assert float(row["voltage"]) == 0.95 and row["acc_mean"] == "88.0"
    # the per-realisation rows read their table's sidecar
    realisations = tmp_path / "sweep_voltage_realisations.csv"
    atomic_write_csv(realisations, ("voltage_norm", "accuracy_pct"),
                     [{"voltage_norm": 0.9, "accuracy_pct": 70}])  # fmt: skip
    (row,) = read_table(realisations)
    assert float(row["voltage"]) == 0.9 and row["accuracy"] == "70"


def _copy_run_with_sweep(digits_runs, tmp_path: Path, rows) -> Path:
    import shutil

    run = tmp_path / Path(digits_runs["maxabs"]).name
    shutil.copytree(digits_runs["maxabs"], run)
    atomic_write_csv(run / "sweep_voltage.csv", list(rows[0]), rows)
    return run


def _tiny_run(digits_runs):
    from wcatsim.train.runs import load_run

    return load_run(digits_runs["maxabs"], device="cpu")


def test_a_sweep_table_names_its_run_and_resumes_a_table_written_before_the_new_columns(
    digits_runs, tmp_path: Path
) -> None:
    from wcatsim.experiments.sweeps.sweep import SWEEP_VOLTAGE_COLUMNS, voltage_sweep

    run = _tiny_run(digits_runs)
    out = tmp_path / "sweep_voltage.csv"
    first = voltage_sweep(run, "chandramoorthy14", [1.0, 0.9], chips=1, device="cpu", out=out)
    rows = read_csv(out)
    for row, returned in zip(rows, first, strict=True):
        assert (row["run"], row["model"], row["quantizer"], row["bits"], row["dataset"]) == (
            Path(digits_runs["maxabs"]).name, "small_cnn", "maxabs", "4", "digits")
        assert float(row["voltage_v"]) == round(float(row["voltage"]) * 0.8, 12)  # Vmin = 0.8 V
        assert float(row["voltage_norm"]) == float(row["voltage"])  # its v_min is 1 (the unit itself)
        for old, new in RENAMES.items():
            if old in row:
                assert row[new] == row[old], (old, new)
        assert returned["run"] == row["run"] and returned["bits"] == 4
        assert returned["acc_mean_pct"] == returned["acc_mean"]
    # the table as an earlier release wrote it: old columns only; same settings, so it resumes, and the
    # next point written (0.95) rewrites it with the new columns, the resumed rows' values unchanged
    atomic_write_csv(out, SWEEP_VOLTAGE_COLUMNS, rows)
    fingerprint = json.loads(out.with_suffix(".json").read_text())["fingerprint"]
    resumed: list[bool] = []
    again = voltage_sweep(run, "chandramoorthy14", [1.0, 0.95, 0.9], chips=1, device="cpu", out=out,
                          on_row=lambda row, was: resumed.append(was))  # fmt: skip
    assert resumed == [True, False, True], "the finished points are reused, not computed again"
    now = read_csv(out)
    assert [now[0], now[2]] == rows and list(now[1]) == list(rows[0])
    assert [again[0]["acc_mean"], again[2]["acc_mean"]] == [r["acc_mean"] for r in first]
    assert again[0]["voltage_v"] == 0.8 and again[0]["run"] == rows[0]["run"], "resumed rows carry them too"
    assert json.loads(out.with_suffix(".json").read_text())["fingerprint"] == fingerprint


def test_pareto_reads_old_and_new_names_alike_and_splits_its_legend(digits_runs, tmp_path: Path) -> None:
    from wcatsim.analysis.pareto import POINT_COLUMNS, iso_table, load_sweep, point_rows
    from wcatsim.experiments.sweeps.sweep import voltage_sweep

    run = _tiny_run(digits_runs)
    out = tmp_path / "run" / "sweep_voltage.csv"
    voltage_sweep(run, "chandramoorthy14", [1.0, 0.95, 0.9], chips=1, device="cpu", out=out)
    full = read_csv(out)
    new_only = tmp_path / "new" / "sweep_voltage.csv"
    new_only.parent.mkdir()
    kept = [c for c in full[0] if c not in RENAMES and c != "voltage"]  # what a later release writes
    atomic_write_csv(new_only, kept, full)
    new_only.with_suffix(".json").write_text(out.with_suffix(".json").read_text())
    old_only = tmp_path / "old" / "sweep_voltage.csv"
    old_only.parent.mkdir()
    old_columns = [c for c in full[0] if c not in (*RENAMES.values(), *IDENTITY_COLUMNS, *VOLTAGE_COLUMNS)]
    atomic_write_csv(old_only, old_columns, full)
    a, b, c = load_sweep(out), load_sweep(new_only), load_sweep(old_only)
    for other in (b, c):
        assert list(other.voltage) == list(a.voltage) and list(other.acc_mean) == list(a.acc_mean)
        assert iso_table([other])[0]["saving"] == iso_table([a])[0]["saving"]
    (point, *_) = point_rows([a])
    assert set(point) == set(POINT_COLUMNS)
    assert (point["label"], point["model"]) == (a.label, a.label)  # `model` is the legend for one release
    assert a.label == "maxabs 4-bit, chandramoorthy14, ECC off"  # from the table's own columns
    assert (point["run"], point["model_name"], point["quantizer"], point["bits"], point["dataset"],
            point["preset"]) == (
        Path(digits_runs["maxabs"]).name, "small_cnn", "maxabs", 4, "digits", "chandramoorthy14")  # fmt: skip
    assert point["train_seed"] is None  # no config.toml beside this table; a run directory gives it
    (beside_run,) = point_rows([load_sweep(_copy_run_with_sweep(digits_runs, tmp_path, full))])[:1]
    assert beside_run["train_seed"] == 0 and beside_run["run"] == Path(digits_runs["maxabs"]).name
    assert point["voltage_v"] == round(point["voltage"] * 0.8, 12)
    assert point["acc_mean_pct"] == point["acc_mean"]
