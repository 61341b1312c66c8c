"""The per-preset saving table (wcatsim.analysis.savings) on hand-made sweeps whose savings are known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sram_models import load_technology
from sram_models.errors import InputError
from wcatsim.analysis.savings import (
    band_basis,
    find_runs,
    format_savings,
    group_runs,
    preset_savings,
    preset_table,
    voltage_grid,
)
from wcatsim.store.atomic import atomic_write_csv

VOLTAGES = (1.0, 0.95, 0.9, 0.85, 0.8)
CLEAN = 95.0


def _run(root: Path, method: str, seed: int, bits: int = 4) -> Path:
    run = root / f"small_cnn-digits-{method}{bits}-seed{seed}"
    run.mkdir(parents=True)
    (run / "config.toml").write_text(
        f'[model]\nname = "small_cnn"\n[data]\nname = "digits"\n[quant]\nmethod = "{method}"\nbits = {bits}\n'
        f"[trainer]\nseed = {seed}\n", encoding="utf-8")  # fmt: skip
    return run


def _sweep(table: Path, preset: str, chips: dict[float, list[float]], protect: str = "none",
           realisations: bool = True) -> Path:  # fmt: skip
    """A sweep table as voltage_sweep writes it: energy_norm = V^2, the preset's ber, the chip mean."""
    tech = load_technology(preset)
    rows, per_chip = [], []
    for v in sorted(chips, reverse=True):
        accs = chips[v]
        rows.append({"voltage": v, "ber": float(tech.ber(v)), "energy_norm": v * v, "realisations": len(accs),
                     "acc_mean": sum(accs) / len(accs), "ci_low": min(accs), "clean_acc": CLEAN})  # fmt: skip
        per_chip += [{"voltage": v, "realisation": c, "seed": 100 + c, "accuracy": a}
                     for c, a in enumerate(accs)]  # fmt: skip
    atomic_write_csv(table, list(rows[0]), rows)
    if realisations:
        atomic_write_csv(table.with_name(table.stem + "_realisations.csv"), list(per_chip[0]), per_chip)
    settings = {"preset": preset, "chips": len(next(iter(chips.values()))), "seed": 0, "protect": protect}
    table.with_suffix(".json").write_text(json.dumps({"settings": settings}), encoding="utf-8")
    return table


def _chips(fails_at: float, n: int = 3, dip: dict | None = None) -> dict[float, list[float]]:
    """n chips at clean accuracy down to the voltage above ``fails_at``, 10 points lower from there."""
    out = {v: [CLEAN] * n if v > fails_at else [CLEAN - 10.0] * n for v in VOLTAGES}
    out.update(dip or {})
    return out


def test_the_saving_ci_and_paired_difference_of_hand_made_sweeps(tmp_path: Path) -> None:
    # maxabs fails at 0.85 (qualifying down to 0.9: saving 1 - 0.81 = 0.19); wcat down to 0.85 on seed 0
    # (1 - 0.7225 = 0.2775) and to 0.9 on seed 1 (0.19): seed mean 0.23375.  Every chip alike: every
    # bootstrap draw of seed s gives seed s's saving, so the CI spans the resampled seed means.
    runs = {("maxabs", 0): _chips(0.85), ("maxabs", 1): _chips(0.85),
            ("wcat", 0): _chips(0.8), ("wcat", 1): _chips(0.85)}  # fmt: skip
    groups, tables = {}, {}
    for (q, s), chips in runs.items():
        run = _run(tmp_path, q, s)
        groups.setdefault(q, []).append(run)
        tables.setdefault(q, []).append(_sweep(run / "sweep_voltage_chandramoorthy14.csv", "chandramoorthy14",
                                               chips))  # fmt: skip
    found = preset_savings(groups, "chandramoorthy14", tables, resamples=400)
    rows = {r["quantizer"]: r for r in found["rows"]}
    assert rows["maxabs"]["saving_1pt"] == 0.19
    assert (rows["maxabs"]["saving_1pt_ci_low"], rows["maxabs"]["saving_1pt_ci_high"]) == (0.19, 0.19)
    assert rows["wcat"]["saving_1pt"] == pytest.approx(0.23375, abs=1e-9)
    # the seed resamples: (0, 0) 0.2775, mixed 0.23375, (1, 1) 0.19; each has chance 1/4 or 1/2
    assert (rows["wcat"]["saving_1pt_ci_low"], rows["wcat"]["saving_1pt_ci_high"]) == (0.19, 0.2775)
    assert rows["wcat"]["voltage_1pt"] == pytest.approx(0.875) and rows["wcat"]["voltage_unit"] == "Vmin"
    assert rows["wcat"]["seeds"] == 2 and rows["wcat"]["chips"] == 3 and rows["wcat"]["bounded_seeds"] == 0
    # paired by seed: wcat - maxabs is 0.0875 on seed 0 and 0 on seed 1
    assert found["wcat_minus_maxabs_saving_1pt"] == pytest.approx(0.04375, abs=1e-9)
    assert found["wcat_minus_maxabs_saving_1pt_ci"] == pytest.approx([0.0, 0.0875], abs=1e-9)
    # the band contains the point (the fitted curve is the first pair) and reaches the other assumption
    for r in rows.values():
        assert r["saving_1pt_band_low"] <= r["saving_1pt"] + 1e-12 <= r["saving_1pt_band_high"] + 2e-12
    assert "mu = 0.6677, sigma = 0.06977" in rows["wcat"]["band_basis"]
    assert found["voltages"] == sorted(VOLTAGES) and found["chips"] == 3
    assert found["per_model"]["wcat"]["tables"] == [str(t) for t in tables["wcat"]]
    assert "flips_to_break_seeds_mean" not in found["per_model"]["wcat"]


def test_a_chip_that_fails_widens_the_ci_by_the_bootstrap_over_chips(tmp_path: Path) -> None:
    # At 0.85 the chips read 95, 95, 92: mean 94, exactly 1 point below clean (qualifies: saving 0.2775).
    # A resample with the bad chip twice or more (chance 7/27 per draw) has mean <= 93: saving 0.19.
    run = _run(tmp_path, "wcat", 0)
    table = _sweep(run / "sweep_voltage_chandramoorthy14.csv", "chandramoorthy14",
                   _chips(0.8, dip={0.85: [95.0, 95.0, 92.0]}))  # fmt: skip
    found = preset_savings({"wcat": [run]}, "chandramoorthy14", {"wcat": [table]}, resamples=400)
    row = found["rows"][0]
    assert row["saving_1pt"] == 0.2775
    assert (row["saving_1pt_ci_low"], row["saving_1pt_ci_high"]) == (0.19, 0.2775)
    assert "wcat_minus_maxabs_saving_1pt" not in found  # no maxabs


def test_a_table_preset_has_no_band_and_says_why(tmp_path: Path) -> None:
    run = _run(tmp_path, "wcat", 0)
    table = _sweep(run / "sweep_voltage_dpcs45.csv", "dpcs45", _chips(0.0))  # every voltage qualifies
    found = preset_savings({"wcat": [run]}, "dpcs45", {"wcat": [table]}, resamples=50)
    row = found["rows"][0]
    assert row["saving_1pt_band_low"] is None and row["saving_1pt_band_high"] is None
    assert row["band_basis"].startswith("none: no fitted parameter")
    assert row["bounded_seeds"] == 1 and row["saving_1pt"] == pytest.approx(1 - 0.8**2)  # the lowest swept
    # a Gaussian curve through exactly two points with no stated alternative: no band either (the fitted
    # curve alone would give the point twice)
    generic = _sweep(run / "sweep_voltage_generic.csv", "generic", _chips(0.0))
    found_generic = preset_savings({"wcat": [run]}, "generic", {"wcat": [generic]}, resamples=50)
    assert found_generic["rows"][0]["saving_1pt_band_low"] is None
    assert found_generic["per_model"]["wcat"]["saving_1pt_band"] is None
    text = format_savings([found])
    assert "dpcs45" in text and "none" in text.splitlines()[1] and "(≥)" in text
    with pytest.raises(InputError, match="per-chip rows"):
        _sweep(run / "other.csv", "dpcs45", _chips(0.0), realisations=False)
        preset_savings({"wcat": [run]}, "dpcs45", {"wcat": [run / "other.csv"]})


def test_band_basis_of_the_shipped_presets() -> None:
    from sram_models.technology.fit import load_fit

    assert band_basis(load_fit("chandramoorthy14")) == (
        "the fitted curve and the alternative its [fit] states (mu = 0.6677, sigma = 0.06977)")
    assert band_basis(load_fit("chandramoorthy14_fig1")) == (
        "the fitted curve and mu and sigma at ±1 standard error (the fit's covariance)")
    assert band_basis(load_fit("dpcs45")).startswith("none: no fitted parameter")
    # two points, no stderr, no alternative: the fitted curve alone is no band
    assert band_basis(load_fit("generic")).startswith("none: exactly determined")
    assert band_basis(None) == "none: the preset has no [fit] section"


def test_the_table_of_a_preset_is_the_runs_own_sweep_only_where_it_is_that_presets(tmp_path: Path) -> None:
    run = _run(tmp_path, "wcat", 0)
    _sweep(run / "sweep_voltage.csv", "chandramoorthy14", _chips(0.8))
    assert preset_table(run, "chandramoorthy14") == run / "sweep_voltage.csv"
    assert preset_table(run, "dpcs45") == run / "sweep_voltage_dpcs45.csv"
    protected = _run(tmp_path, "lsq", 0)
    _sweep(protected / "sweep_voltage.csv", "chandramoorthy14", _chips(0.8), protect="secded")
    assert preset_table(protected, "chandramoorthy14") == protected / "sweep_voltage_chandramoorthy14.csv"
    bare = _run(tmp_path, "maxabs", 0)  # no per-chip rows: no CI from it, so swept again beside it
    _sweep(bare / "sweep_voltage.csv", "chandramoorthy14", _chips(0.8), realisations=False)
    assert preset_table(bare, "chandramoorthy14") == bare / "sweep_voltage_chandramoorthy14.csv"


def test_runs_are_found_in_a_demo_directory_and_grouped_by_quantizer_in_seed_order(tmp_path: Path) -> None:
    demo = tmp_path / "demo_out"
    made = {(q, s): _run(demo / "runs", q, s) for s in (2, 0, 1) for q in ("wcat", "maxabs")}
    (demo / "report.md").write_text("not a run", encoding="utf-8")
    runs = find_runs([demo])
    assert sorted(runs) == sorted(made.values())
    first = made[("wcat", 0)]
    assert find_runs([first, demo]) == [first] + [r for r in runs if r != first]  # each once, in order
    groups = group_runs(runs)
    assert groups == {"maxabs": [made[("maxabs", s)] for s in (0, 1, 2)],
                      "wcat": [made[("wcat", s)] for s in (0, 1, 2)]}  # fmt: skip
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no run directory"):
        find_runs([tmp_path / "empty"])
    with pytest.raises(InputError, match="different training seeds"):
        group_runs([made[("wcat", 0)], made[("wcat", 1)], made[("maxabs", 0)]])
    other = _run(tmp_path / "elsewhere", "wcat", 0)
    with pytest.raises(InputError, match="trainer.seed = 0"):
        group_runs([made[("wcat", 0)], other])
    eight = _run(tmp_path / "eight", "wcat", 0, bits=8)
    assert list(group_runs([first, eight])) == ["small_cnn-digits-wcat4", "small_cnn-digits-wcat8"]


def test_the_default_grid_on_chandramoorthy14_is_the_demos() -> None:
    from wcatsim.pipelines.demo import full_plan

    assert voltage_grid(load_technology("chandramoorthy14"), 26) == list(full_plan().voltages)
    assert voltage_grid(load_technology("dpcs45"), 4) == [0.4, 0.6, 0.8, 1.0]
    with pytest.raises(InputError, match="at least 2"):
        voltage_grid(load_technology("dpcs45"), 1)


def test_the_chandramoorthy14_band_holds_both_second_point_assumptions() -> None:
    """Its two (mu, sigma) pairs are the curves through the published point (1% at 0.83 Vmin) and each
    second point: one faulty cell per 512x64 array at Vmin (the shipped fit) or none in all 32 measured
    arrays, BER(1.0) = 1/(32 x 32768) (the fit's uncertainty text), to the 4-5 digits the file gives."""
    from scipy.stats import norm

    from sram_models.technology.fit import load_fit
    from wcatsim.analysis.pareto import band_parameters

    pairs = band_parameters(load_fit("chandramoorthy14"))
    assert len(pairs) == 2
    for (mu, sigma), at_vmin in zip(pairs, (1 / 32768, 1 / (32 * 32768)), strict=True):
        assert norm.cdf((mu - 0.83) / sigma) == pytest.approx(0.01, rel=2e-3)
        assert norm.cdf((mu - 1.0) / sigma) == pytest.approx(at_vmin, rel=2e-3)
