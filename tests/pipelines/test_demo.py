"""``wcatsim demo --quick`` end to end: every promised file, images that are not blank, reuse on rerun."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib.image
import pytest
from click.testing import CliRunner

from wcatsim.analysis.pareto import POINT_COLUMNS
from wcatsim.store.atomic import read_csv

FIGURES = ("pareto", "accuracy_vs_ber", "accuracy_energy_vs_voltage", "bfa_maxabs", "bfa_lsq", "bfa_wcat",
           "weights_maxabs", "weights_lsq", "weights_wcat",
           "plan_voltage_maxabs", "plan_voltage_lsq", "plan_voltage_wcat")  # fmt: skip
SUMMARY_KEYS = ("clean_acc", "iso_acc_energy_norm_1pt", "iso_acc_voltage_1pt", "plan_energy_norm_1pt",
                "plan_saving_over_uniform_1pt")  # fmt: skip
SCHEMES = ("none", "secded", "secded-zero", "parity-zero", "bit-mask", "msb-8t")


def test_quick_demo_writes_every_promised_file_and_reuses_finished_stages(tmp_path: Path) -> None:
    from wcatsim.cli.demo import demo

    out = tmp_path / "demo"
    # An empty runs root: the test trains its own models whatever ./runs holds.
    args = ["--quick", "--out", str(out), "--device", "cpu", "--runs-root", str(tmp_path / "no_runs")]
    result = CliRunner().invoke(demo, args)
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report.md'}" in result.output
    for stage in range(1, 9):
        assert f"[demo {stage}/8]" in result.output, f"stage {stage} did not say it started"
    assert "incomplete" not in result.output, result.output

    for name in ("report.md", "pareto.csv", "summary.json", "demo.json"):
        assert (out / name).is_file(), name
    for name in FIGURES:
        for suffix in (".png", ".pdf"):
            path = out / f"{name}{suffix}"
            assert path.is_file() and path.stat().st_size > 1000, path
        image = matplotlib.image.imread(out / f"{name}.png")
        assert image.std() > 0.02, f"{name}.png is blank (pixel std {image.std():.4f})"

    summary = json.loads((out / "summary.json").read_text())
    models = {k: v for k, v in summary.items() if isinstance(v, dict)}
    assert sorted(models) == ["lsq", "maxabs", "wcat"]
    # issue 17 section 3: the saving with its CI over chips (one seed in the quick demo) and its band
    top = set(summary) - set(models)
    assert {"wcat_minus_maxabs_saving_1pt", "wcat_minus_maxabs_saving_1pt_ci", "wcat_minus_maxabs_clean_acc",
            "wcat_minus_maxabs_clean_acc_ci"} <= top, sorted(top)  # fmt: skip
    diff = summary["wcat_minus_maxabs_saving_1pt"]
    assert diff == pytest.approx(models["wcat"]["saving_1pt"] - models["maxabs"]["saving_1pt"])
    low, high = summary["wcat_minus_maxabs_saving_1pt_ci"]
    assert low <= diff <= high, (low, diff, high)
    assert summary["wcat_minus_maxabs_clean_acc_ci"] is None  # one seed: no spread over seeds
    for entry in models.values():
        assert entry["seeds"] == 1
        assert entry["saving_1pt"] == pytest.approx(entry["iso_acc_saving_1pt"])  # one seed: the same
        low, high = entry["saving_1pt_ci"]
        assert low <= entry["saving_1pt"] <= high, entry
        band = entry["saving_1pt_band"]  # chandramoorthy14: the fit and the other second-point assumption
        assert band[0] <= entry["saving_1pt"] <= band[1], entry
        assert len(entry["seed_values"]) == 1
    for model, entry in models.items():
        for key in SUMMARY_KEYS:
            assert isinstance(entry[key], (int, float)), (model, key, entry[key])
        # Flips to break: the mean over broken trials (None when none broke in the quick budget), and
        # the Kaplan-Meier median or, where half the trials or more did not break, its lower bound.
        status = entry["bfa_status"]
        assert status and set(status) <= {"broken", "budget", "stalled"}, status
        assert entry["bfa_censored"] == sum(st != "broken" for st in status)
        assert (entry["flips_to_break_mean"] is None) == ("broken" not in status), entry
        median, bound = entry["flips_to_break_median"], entry["flips_to_break_median_lower_bound"]
        assert (median is None) != (bound is None), entry
        # the median's CI brackets it where there is one (high None: open above)
        ci = entry["flips_to_break_median_ci"]
        if median is not None and ci is not None:
            assert ci[0] <= median and (ci[1] is None or median <= ci[1]), entry
        assert 0 <= entry["clean_acc"] <= 100
        assert 0 < entry["iso_acc_energy_norm_1pt"] <= 1.0
        assert 0.8 <= entry["iso_acc_voltage_1pt"] <= 1.0
        # the plan: never costlier than nominal, its saving the uniform voltage's energy minus its own
        assert 0 < entry["plan_energy_norm_1pt"] <= 1.0 + 1e-9
        assert entry["plan_saving_over_uniform_1pt"] == pytest.approx(
            entry["plan_uniform_energy_norm_1pt"] - entry["plan_energy_norm_1pt"]
        )
        assert sorted(entry["plan_voltages_1pt"]) == ["conv1", "conv2", "conv3", "fc"]
        assert sorted(entry["protection_1pt"]) == sorted(SCHEMES)
        assert entry["protection_1pt"]["none"]["iso_acc_saving"] == pytest.approx(entry["iso_acc_saving_1pt"])
        # issue 20 §1: the activation buffer's own sweep, and the memory with the higher 1-point voltage
        weights_v, act_v = entry["iso_acc_voltage_1pt"], entry["act_iso_acc_voltage_1pt"]
        assert 0.8 <= act_v <= 1.0 and 0 <= entry["act_clean_acc"] <= 100
        expected = "both" if act_v == weights_v else "weights" if weights_v > act_v else "activations"
        assert entry["voltage_limited_by"] == expected, entry
        # the plan over both memories: the buffer's planned voltage beside the weights' highest domain
        assert entry["plan_target"] == "both"
        planned_w, planned_a = entry["plan_weights_max_voltage_1pt"], entry["plan_act_voltage_1pt"]
        assert planned_a in (0.8, 0.85, 0.9, 0.95, 1.0), entry
        assert planned_w == max(entry["plan_voltages_1pt"].values())
        assert 0 < entry["plan_act_energy_share_1pt"] < 1
        expected = "both" if planned_a == planned_w else "weights" if planned_w > planned_a else "activations"
        assert entry["plan_voltage_limited_by_1pt"] == expected, entry
        written = json.loads((Path(entry["run_dir"]) / "plan_voltage.json").read_text())
        assert [d["name"] for d in written["domains"]][-1] == "activations" and written["target"] == "both"

    points = read_csv(out / "pareto.csv")
    assert tuple(points[0]) == POINT_COLUMNS  # issue 19 section 3: the legend in fields, units named
    assert all(p["acc_p05"] != "" and 0 <= float(p["collapsed_share"]) <= 1 for p in points)
    for model in ("maxabs", "lsq", "wcat"):
        mine = [p for p in points if p["model"] == model]
        assert {(p["label"], p["quantizer"], p["bits"], p["model_name"]) for p in mine} == {
            (model, model, "4", "small_cnn")}
        assert len(mine) == 5, model  # the quick plan's five voltages
        assert any(p["on_front"] == "True" for p in mine), model

    report = (out / "report.md").read_text()
    for name in FIGURES:
        assert f"]({name}.png)" in report, f"{name}.png is not embedded in the report"
    assert "iso-accuracy energy saving and flips-to-break" in report
    assert "### How sure: chips, training seeds, technology" in report
    assert "WCAT − maxabs, saving within 1 pt, paired" in report
    assert "## Per-layer voltage plan within 1 point" in report
    assert "## Protection schemes" in report
    assert "## Activation buffer: which memory limits the voltage" in report
    for model in ("maxabs", "lsq", "wcat"):
        assert f"- **{model}**: in the plan over both memories, " in report, model
    for scheme in SCHEMES:
        assert f"| {scheme} |" in report, scheme

    # A rerun reuses every finished stage.
    again = CliRunner().invoke(demo, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("reusing") == 21, again.output  # 7 stages x 3 models


def test_an_identical_run_under_runs_root_is_copied_not_retrained(tmp_path: Path) -> None:
    from wcatsim.config import load_config
    from wcatsim.pipelines.demo import _State, quick_plan, train_or_reuse
    from wcatsim.store.runs import run_dir_for

    plan = quick_plan()
    cfg = load_config([], ["quant.method=wcat", f"quant.bits={plan.bits}", *plan.train_overrides])
    shared = run_dir_for(cfg, root=tmp_path / "runs")
    shared.mkdir(parents=True)
    for name in ("checkpoint.pt", "summary.json", "config.toml"):
        (shared / name).write_text(name)  # stand-ins: a copy must not open them
    out = tmp_path / "out"
    lines: list[str] = []
    state = _State(out / "demo.json", plan)
    run_dir, reused = train_or_reuse("wcat", plan, out, tmp_path / "runs", state, lines.append, device="cpu")
    assert run_dir == out / "runs" / shared.name and not reused
    assert (run_dir / "checkpoint.pt").read_text() == "checkpoint.pt"
    assert lines == [f"  wcat: copying the identical run {shared}"]
    # The second time it is the demo's own finished stage.
    run_dir, reused = train_or_reuse("wcat", plan, out, tmp_path / "runs", state, lines.append, device="cpu")
    assert reused and lines[-1].startswith("  wcat: reusing")


@pytest.mark.parametrize("flag", ["--help"])
def test_demo_help_is_light(flag: str) -> None:
    from wcatsim.cli.demo import demo

    result = CliRunner().invoke(demo, [flag])
    assert result.exit_code == 0 and "--quick" in result.output


# ------------------------------------------------------------------------ stages and their ledger


def _fake_stages(monkeypatch, tmp_path: Path, failing: str, error: Exception) -> list[str]:
    """Stand-ins for training, loading and every stage: ``failing`` raises ``error``; the calls made."""
    from wcatsim.pipelines import demo as demo_module

    calls: list[str] = []

    def trained(q, plan, out_dir, runs_root, state, say, device, progress, seed=0):
        run_dir = out_dir / "runs" / (q if seed == 0 else f"{q}-seed{seed}")
        run_dir.mkdir(parents=True, exist_ok=True)
        state.finish(f"train:{q}" if seed == 0 else f"train:{q}:seed{seed}", "train", run_dir, 0.0, 0.0)
        return run_dir, False

    monkeypatch.setattr(demo_module, "train_or_reuse", trained)
    monkeypatch.setattr("wcatsim.train.runs.load_run", lambda run_dir, device="auto": run_dir)
    monkeypatch.setattr("wcatsim.train.health.check_run", lambda run, allow=False: None)
    for stage in ("random_flip", "sweep", "act_sweep", "protect", "plan", "bfa"):

        def action(run, plan, progress, stage=stage):
            calls.append(f"{stage}:{Path(run).name}")
            if stage == failing:
                raise error

        monkeypatch.setattr(demo_module, f"_{stage}", action)
    return calls


def test_a_failing_stage_stops_the_demo_with_one_line_and_exit_1(monkeypatch, tmp_path: Path) -> None:
    from wcatsim.cli.demo import demo

    calls = _fake_stages(monkeypatch, tmp_path, "random_flip", AttributeError("no attribute 'x'\n  here"))
    out = tmp_path / "demo"
    result = CliRunner().invoke(demo, ["--quick", "--out", str(out), "--device", "cpu", "--quiet"])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: demo stage random_flip (maxabs) failed: AttributeError: no attribute 'x' here"
    ], result.output
    assert "SKIPPED" not in result.output and "report:" not in result.output
    assert calls == ["random_flip:maxabs"]  # nothing after the failure ran
    stages = json.loads((out / "demo.json").read_text())["stages"]
    assert sorted(stages) == ["train:lsq", "train:maxabs", "train:wcat"]  # the failed stage is not recorded
    assert not list(out.glob("demo.json.lock*"))  # the ledger's lock is released


def test_seeds_beyond_the_first_run_only_the_sweep_and_bfa(monkeypatch, tmp_path: Path) -> None:
    from wcatsim.pipelines import demo as demo_module

    calls = _fake_stages(monkeypatch, tmp_path, "none", RuntimeError("unused"))

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop  # the stages are what this test is about, not the figures

    monkeypatch.setattr(demo_module, "draw_figures", stop)
    plan = dataclasses.replace(demo_module.quick_plan(), seeds=2)
    with pytest.raises(Stop):
        demo_module.run_demo(tmp_path / "demo", plan=plan, device="cpu", progress=False, log=lambda s: None,
                             runs_root=None)  # fmt: skip
    seed1 = sorted(c for c in calls if "seed1" in c)
    quantizers = ("maxabs", "lsq", "wcat")
    assert seed1 == sorted(f"{stage}:{q}-seed1" for stage in ("sweep", "bfa") for q in quantizers)
    assert len(calls) - len(seed1) == 18  # seed 0: six stages x three models
    stages = json.loads((tmp_path / "demo" / "demo.json").read_text())["stages"]
    assert {"train:wcat:seed1", "sweep:wcat:seed1", "bfa:wcat:seed1", "sweep:wcat"} <= set(stages)


def test_bad_input_in_a_stage_keeps_its_own_exit_code(monkeypatch, tmp_path: Path) -> None:
    from sram_models.errors import InputError
    from wcatsim.cli.demo import demo

    _fake_stages(monkeypatch, tmp_path, "sweep", InputError("voltage 2 is outside the preset's range"))
    out = tmp_path / "demo"
    result = CliRunner().invoke(demo, ["--quick", "--out", str(out), "--device", "cpu", "--quiet"])
    assert result.exit_code == 2, result.output
    assert "error: voltage 2 is outside the preset's range" in result.output


def test_a_stage_is_reused_only_on_the_same_device_and_batch_size(tmp_path: Path) -> None:
    from wcatsim.pipelines.demo import _State, quick_plan

    plan, run_dir = quick_plan(), tmp_path / "runs" / "small_cnn-digits-wcat4-298ac69d"
    cpu = _State(tmp_path / "demo.json", plan, device="cpu", lock=True)
    cpu.finish("sweep:wcat", "sweep", run_dir, 1.0, 1.0)
    cpu.close()
    assert _State(tmp_path / "demo.json", plan, device="cpu").done("sweep:wcat", "sweep", run_dir)
    assert not _State(tmp_path / "demo.json", plan, device="cuda").done("sweep:wcat", "sweep", run_dir)
    other_batch = _State(tmp_path / "demo.json", plan, device="cpu", batch_size=64)
    assert not other_batch.done("sweep:wcat", "sweep", run_dir)
    # and not on other stage settings either
    changed = _State(tmp_path / "demo.json", dataclasses.replace(plan, chips=4))
    assert not changed.done("sweep:wcat", "sweep", run_dir)


def test_the_headline_says_when_a_plan_misses_on_the_final_set() -> None:
    from wcatsim.pipelines.demo import format_summary

    row = {"clean_acc": 98.0, "plan_energy_norm_1pt": 0.6, "plan_saving_over_uniform_1pt": 0.05}
    missed = format_summary({"wcat": {**row, "plan_within_budget_1pt": False}})
    held = format_summary({"wcat": {**row, "plan_within_budget_1pt": True}})
    assert "0.600 (misses on final set)" in missed
    assert "misses" not in held and "0.600" in held


def test_the_memory_with_the_higher_iso_accuracy_voltage_limits() -> None:
    from wcatsim.pipelines.demo import limiting_memory

    assert limiting_memory(0.9, 0.85) == "weights"
    assert limiting_memory(0.85, 0.9) == "activations"
    assert limiting_memory(0.88, 0.88) == "both"
    assert limiting_memory(None, 0.9) is None and limiting_memory(0.9, None) is None


def test_the_plan_over_both_memories_gives_the_buffers_voltage_and_the_limiting_memory() -> None:
    from wcatsim.pipelines.demo import format_summary, plan_memories

    plan = {
        "target": "both",
        "domains": [{"name": "conv1", "weights": 10, "voltage": 0.85, "kind": "weights"},
                    {"name": "fc", "weights": 5, "voltage": 0.8, "kind": "weights"},
                    {"name": "activations", "weights": 0, "voltage": 0.9, "kind": "buffer",
                     "activations": 7}],
        "domain_details": [{"name": "conv1", "energy_share": 0.5}, {"name": "fc", "energy_share": 0.3},
                           {"name": "activations", "energy_share": 0.2}],
    }  # fmt: skip
    got = plan_memories(plan)
    assert got == {
        "plan_target": "both", "plan_weights_max_voltage_1pt": 0.85, "plan_act_voltage_1pt": 0.9,
        "plan_act_energy_share_1pt": 0.2, "plan_voltage_limited_by_1pt": "activations"}  # fmt: skip
    lowered = {**plan, "domains": [*plan["domains"][:2], {**plan["domains"][2], "voltage": 0.8}]}
    assert plan_memories(lowered)["plan_voltage_limited_by_1pt"] == "weights"
    # a weights-only plan (no kinds, no target): no buffer, nothing limits from the plan
    weights_only = {"domains": [{"name": "conv1", "weights": 10, "voltage": 0.85}]}
    assert plan_memories(weights_only) == {
        "plan_target": "weights", "plan_weights_max_voltage_1pt": 0.85, "plan_act_voltage_1pt": None,
        "plan_act_energy_share_1pt": None, "plan_voltage_limited_by_1pt": None}  # fmt: skip
    assert plan_memories({})["plan_target"] is None
    # the headline: the weights' planned range beside the buffer's voltage
    row = {"clean_acc": 98.0, "plan_voltages_1pt": {"conv1": 0.85, "fc": 0.8}, **got}
    assert "0.80–0.85 | 0.90" in format_summary({"wcat": row})
    assert "0.85 | —" in format_summary({"wcat": {"plan_voltages_1pt": {"conv1": 0.85}}})

