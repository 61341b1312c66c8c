"""``wcatsim savings`` end to end on a demo-shaped folder of the three tiny digits runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from wcatsim.cli.savings import savings
from wcatsim.store.atomic import read_csv

PRESETS = "chandramoorthy14,dpcs45"


def _demo_folder(digits_runs: dict, root: Path) -> dict[str, Path]:
    """The trained files of the shared runs copied under ``root/runs`` (the shared runs stay untouched)."""
    out = {}
    for q, run in digits_runs.items():
        dst = root / "runs" / Path(run).name
        dst.mkdir(parents=True)
        for name in ("config.toml", "checkpoint.pt", "summary.json"):
            shutil.copy2(Path(run) / name, dst / name)
        out[q] = dst
    return out


def test_savings_of_a_demo_folder_reuses_its_sweep_and_sweeps_the_other_preset(digits_runs, tmp_path) -> None:
    from wcatsim.analysis.pareto import iso_accuracy_saving
    from wcatsim.experiments.sweeps.sweep import voltage_sweep
    from wcatsim.train.runs import load_run

    demo = tmp_path / "demo_out"
    runs = _demo_folder(digits_runs, demo)
    # the demo's own sweep on chandramoorthy14 (per-chip rows, 2 chips, fault seed 3)
    for run_dir in runs.values():
        run = load_run(run_dir, device="cpu")
        voltage_sweep(run, "chandramoorthy14", [1.0, 0.85, 0.8], chips=2, seed=3, per_realisation=True,
                      device="cpu", config=run.config)  # fmt: skip
    out = tmp_path / "table" / "savings.csv"
    (tmp_path / "table").mkdir()
    args = [str(demo), "--presets", PRESETS, "--points", "3", "--device", "cpu", "--out", str(out)]
    result = CliRunner().invoke(savings, args)
    assert result.exit_code == 0, result.output
    # chandramoorthy14: the demo's table, nothing swept; dpcs45: swept beside it on the same chips and seed
    assert "on chandramoorthy14" not in result.output and result.output.count("on dpcs45") == 3
    for run_dir in runs.values():
        assert not (run_dir / "sweep_voltage_chandramoorthy14.csv").exists()
        sidecar = json.loads((run_dir / "sweep_voltage_dpcs45.json").read_text(encoding="utf-8"))
        assert (sidecar["settings"]["chips"], sidecar["settings"]["seed"]) == (2, 3)
        per_chip = read_csv(run_dir / "sweep_voltage_dpcs45_realisations.csv")
        assert sorted({float(r["voltage"]) for r in per_chip}) == [0.4, 0.7, 1.0]  # v_low..nominal, 3 points
        assert {int(r["realisation"]) for r in per_chip} == {0, 1}
    rows = read_csv(out)
    assert [(r["preset"], r["quantizer"]) for r in rows] == [
        (p, q) for p in PRESETS.split(",") for q in ("lsq", "maxabs", "wcat")]  # fmt: skip
    for r in rows:
        table = runs[r["quantizer"]] / ("sweep_voltage.csv" if r["preset"] == "chandramoorthy14"
                                        else "sweep_voltage_dpcs45.csv")  # fmt: skip
        # one seed: the saving is that sweep's own iso-accuracy saving
        assert abs(float(r["saving_1pt"]) - iso_accuracy_saving(read_csv(table), 1.0).saving) < 1e-6
        assert float(r["saving_1pt_ci_low"]) <= float(r["saving_1pt_ci_high"])
        assert r["seeds"] == "1" and r["chips"] == "2"
        if r["preset"] == "dpcs45":
            assert r["saving_1pt_band_low"] == "" and r["band_basis"].startswith("none: no fitted parameter")
        else:
            assert float(r["saving_1pt_band_low"]) <= float(r["saving_1pt"]) + 1e-6
            assert float(r["saving_1pt"]) <= float(r["saving_1pt_band_high"]) + 1e-6
    doc = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert doc["rows"] == json.loads(json.dumps(doc["rows"])) and len(doc["rows"]) == 6
    assert set(doc["presets"]) == {"chandramoorthy14", "dpcs45"}
    assert "wcat_minus_maxabs_saving_1pt_ci" in doc["presets"]["dpcs45"]
    assert doc["units"]["saving_1pt"].startswith("fraction")
    assert "technology band none: no fitted parameter" in result.output
    # a rerun finds every table: nothing swept, the same table
    again = CliRunner().invoke(savings, [*args, "--quiet"])
    assert again.exit_code == 0, again.output
    assert "sweeping" not in again.output and read_csv(out) == rows
    # one run lost its dpcs45 table: it is swept again on the others' chips; a --chips that differs from
    # theirs is refused in one line (exit 2), before any sweep
    for suffix in (".csv", "_realisations.csv", ".json"):
        (runs["lsq"] / f"sweep_voltage_dpcs45{suffix}").unlink()
    refused = CliRunner().invoke(savings, [*args, "--chips", "5"])
    assert refused.exit_code == 2 and "--chips 5" in refused.output, refused.output
    assert "used 2" in refused.output and len(refused.output.strip().splitlines()) == 1
    assert not (runs["lsq"] / "sweep_voltage_dpcs45.csv").exists()

def test_bad_inputs_are_one_line(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(savings, [str(tmp_path / "empty"), "--presets", "chandramoorthy14"])
    assert result.exit_code == 2 and "no run directory" in result.output
    assert len(result.output.strip().splitlines()) == 1
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    (run / "config.toml").write_text('[quant]\nmethod = "wcat"\n', encoding="utf-8")
    result = CliRunner().invoke(savings, [str(tmp_path), "--presets", "nosuchpreset"])
    assert result.exit_code == 2 and "nosuchpreset" in result.output
    result = CliRunner().invoke(savings, [str(tmp_path), "--presets", "dpcs45", "--out",
                                          str(run / "sweep_voltage.csv")])  # fmt: skip
    assert result.exit_code == 2 and "--out" in result.output
