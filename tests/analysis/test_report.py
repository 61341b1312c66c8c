"""The Markdown reports and the weight-histogram figure, on synthetic results (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import pytest

from tests.analysis.test_pareto import SWEEP_COLUMNS, V
from wcatsim.analysis.report.format import markdown_table
from wcatsim.analysis.report.writer import fmt_flips, write_demo_report, write_run_report
from wcatsim.store.atomic import atomic_write_csv

FLIP_COLUMNS = ["ber", "realisations", "acc_mean", "acc_std", "acc_min", "acc_max", "ci_low", "ci_high",
                "bits_changed_mean", "clean_acc"]  # fmt: skip


def fake_results(
    run: Path, quantizer: str, sweep_acc: list[float], flips: list[int], broken: list[bool]
) -> Path:
    run.mkdir(parents=True)
    clean = sweep_acc[-1]
    (run / "summary.json").write_text(json.dumps({
        "quantizer": quantizer, "bits": 4, "model": "small_cnn", "dataset": "digits", "test_accuracy": clean,
        "layers": {"conv1": {"range": 0.3, "max_abs_weight": 0.4, "clipped_fraction": 0.05}},
    }))  # fmt: skip
    flip_rows = []
    for b in (0.0, 1e-3, 1e-2):
        acc = clean - 100 * b
        flip_rows.append({"ber": b, "realisations": 50, "acc_mean": acc, "acc_std": 1, "acc_min": 0,
                          "acc_max": clean, "ci_low": acc - 0.5, "ci_high": acc + 0.5, "bits_changed_mean": 1,
                          "clean_acc": clean})  # fmt: skip
    atomic_write_csv(run / "random_flip.csv", FLIP_COLUMNS, flip_rows)
    sweep_rows = []
    for v, a in zip(V, sweep_acc, strict=True):
        sweep_rows.append({"voltage": v, "ber": 1e-3, "bits_changed_mean": 1, "energy_per_inference_pj": "",
                           "energy_norm": v * v, "realisations": 20, "acc_mean": a, "acc_std": 0.2,
                           "ci_low": a - 0.3, "ci_high": a + 0.3, "clean_acc": clean})  # fmt: skip
    atomic_write_csv(run / "sweep_voltage.csv", SWEEP_COLUMNS, sweep_rows)
    (run / "bfa_summary.json").write_text(json.dumps({
        "trials": len(flips), "threshold": 10.3, "flips_to_break": flips, "broken": broken,
        "stalled": [False] * len(flips),
        # the mean over broken trials only (issue 9); no status/median keys: the readers derive them
        "flips_to_break_mean": sum(f for f, b in zip(flips, broken, strict=True) if b) / max(1, sum(broken)),
        "flips_to_break_std": 2.0, "clean_acc": clean, "final_acc": [10.0] * len(flips),
        "random_baseline_acc": [clean - 0.5] * len(flips), "test_images": 539,
    }))  # fmt: skip
    return run


def test_markdown_table_and_flip_formatting() -> None:
    table = markdown_table(["a", "b"], [["x|y", 1.23456], [None, 2]])
    assert table.splitlines() == ["| a | b |", "|:---|---:|", "| x\\|y | 1.235 |", "| — | 2 |"]
    three = {"flips_to_break": [55, 60, 65], "flips_to_break_mean": 60.0, "flips_to_break_std": 4.5,
             "broken": [True] * 3, "stalled": [False] * 3}  # fmt: skip
    # Brookmeyer-Crowley by hand: S(55) = 2/3, Greenwood se = 2/3 sqrt(1/6) = 0.272, lower edge 0.133
    # <= 0.5 (low 55); upper edges 1.20 at 55 and 1/3 + 1.96 * 1/3 sqrt(1/6 + 1/2) = 0.867 at 60, S = 0
    # at 65 (high 65)
    assert fmt_flips(three) == "60 [55, 65] (median, 95% CI; 3/3 broken, mean 60.0 ± 4.5)"
    # A trial that did not break: its count is a lower bound, and the median says so.
    stalled = {"flips_to_break": [500], "flips_to_break_mean": None, "broken": [False], "stalled": [True]}
    assert fmt_flips(stalled) == "≥ 500 (median; 0/1 broken, 1 stalled)"
    new = {"flips_to_break": [40, 500, 500], "status": ["broken", "budget", "stalled"], "censored": 2,
           "flips_to_break_median": None, "flips_to_break_median_lower_bound": 500,
           "flips_to_break_mean": 40.0}
    # one break at 40 of 3: S = 2/3, lower edge 0.133 (low 40), the upper never reaches 0.5: open above
    assert fmt_flips(new) == "≥ 500 [40, ∞) (median, 95% CI; 1/3 broken, mean 40.0, 1 stalled)"  # fmt: skip
    assert fmt_flips(None) == "—"


def test_run_report_has_every_section(tmp_path: Path) -> None:
    run = fake_results(tmp_path / "run", "wcat", [94.2, 94.8, 95.0, 95.0, 95.0], [60, 70], [True, True])
    (run / "fig.png").write_bytes(b"\x89PNG fake")
    report = write_run_report(run).read_text()
    for heading in (
        "## Training",
        "## Random bit errors",
        "## Voltage sweep",
        "## Bit-Flip Attack",
        "## Figures",
    ):
        assert heading in report, heading
    assert "36.0% @ 0.800 V (≥, bounded by the sweep)" in report  # 1-point budget, lowest voltage qualifies
    # S(60) = 1/2 with se 0.354 (low 60), S(70) = 0 (high 70)
    assert "60 [60, 70] (median, 95% CI; 2/2 broken, mean 65.0 ± 2.0)" in report
    assert "![fig](fig.png)" in report
    assert "| conv1 | 0.3 | 0.4 | 5.0 |" in report


def test_demo_report_puts_savings_and_flips_side_by_side(tmp_path: Path) -> None:
    from wcatsim.pipelines.demo import collect

    runs = {
        "maxabs": fake_results(tmp_path / "runs/m", "maxabs", [40.0, 80.0, 93.0, 94.6, 95.0], [30, 40],
                               [True, True]),
        "wcat": fake_results(tmp_path / "runs/w", "wcat", [94.3, 94.9, 95.0, 95.0, 95.0], [80, 500, 500],
                             [True, False, False]),
    }  # fmt: skip
    summary, models = collect(runs)
    assert summary["maxabs"]["iso_acc_voltage_1pt"] == 0.95
    assert summary["maxabs"]["iso_acc_energy_norm_1pt"] == pytest.approx(0.9025)
    assert summary["wcat"]["iso_acc_bounded_1pt"] is True
    assert summary["wcat"]["flips_to_break_mean"] == 80.0
    fig = tmp_path / "pareto.png"
    fig.write_bytes(b"png")
    settings = {"quick": False, "bits": 4, "model": "small_cnn", "dataset": "digits", "test_images": 539,
                "epochs": 30, "quantizers": ["maxabs", "wcat"], "bers": [0, 1e-3], "samples": 50,
                "voltages": V, "chips": 20, "bfa_trials": 2, "bfa_k_top": 100, "bfa_max_flips": 500,
                "wall_time_s": 600}  # fmt: skip
    tech = {"name": "chandramoorthy14", "node": "14 nm", "source": "Chandramoorthy et al. HPCA 2019.",
            "v_nominal": 1.0, "has_absolute_energy": False}  # fmt: skip
    path = write_demo_report(tmp_path, models, settings, {"pareto": fig}, tech, missing=["bfa plot"])
    text = path.read_text()
    head = next(line for line in text.splitlines() if line.startswith("| maxabs |"))
    assert "9.8% @ 0.950 V" in head, head
    assert "30 [30, 40] (median, 95% CI; 2/2 broken, mean 35.0 ± 2.0)" in head, head
    wcat = next(line for line in text.splitlines() if line.startswith("| wcat |"))
    assert "36.0% @ 0.800 V (≥, bounded by the sweep)" in wcat, wcat
    assert "≥ 500 [80, ∞) (median, 95% CI; 1/3 broken" in wcat, wcat
    assert "The most flips to break (median ≥ 500): wcat — a lower bound" in text
    assert "largest 1-point saving (36.0%) is wcat's" in text
    assert "Incomplete run" in text and "bfa plot" in text
    assert "](pareto.png)" in text
    assert "Chandramoorthy et al. HPCA 2019. Nominal voltage 1.0" in text
    assert "10.0 min wall time" in text


def test_weight_histograms_draw_headless(tmp_path: Path) -> None:
    import torch
    from torch import nn

    from wcatsim.analysis.plots.weights import plot_weight_histograms
    from wcatsim.train.quant import QuantConfig, quantize

    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Conv2d(1, 4, 3), nn.Flatten()]
    layers += [nn.Linear(4 * 6 * 6 if i == 0 else 16, 16) for i in range(11)]
    model = quantize(nn.Sequential(*layers), QuantConfig(method="wcat", bits=4))
    paths = plot_weight_histograms(model, tmp_path / "w.png", max_layers=5)
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    image = matplotlib.image.imread(paths[0])
    assert image.std() > 0.02, "the figure is blank"


def test_sweep_caption_says_what_the_presets_ber_counts() -> None:
    from wcatsim.analysis.report.writer import BER_LABELS, sweep_caption

    assert "share of faulty cells" in sweep_caption("faulty_cell")
    assert "faulty" not in sweep_caption("bit_error") and "reads wrong" in sweep_caption("bit_error")
    assert set(BER_LABELS) == {"faulty_cell", "bit_error"}, "a new meaning needs its caption wording too"


def test_defence_table_gives_detection_restored_accuracy_and_price() -> None:
    from wcatsim.analysis.report.writer import defence_table

    bfa = {"defence": "checksum", "detected_flips": [9, 10], "flips_to_break": [10, 10],
           "defended_acc": [90.0, 95.0], "defence_area": 0.0536, "defence_energy_overhead": 0.1016,
           "defence_time_overhead": 0.01}  # fmt: skip
    row = defence_table({"maxabs": bfa}).splitlines()[2]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["maxabs", "checksum", "19/20 (95.0%)", "92.5", "5.36", "10.2", "< 1"], cells


def test_buffer_section_says_which_memory_limits_and_splits_the_energy() -> None:
    from wcatsim.analysis.report.tables import buffer_section

    sweep = [
        {"voltage": "1.0", "acc_mean": "98.0", "ci_low": "97.9", "ci_high": "98.1", "energy_norm": "1.0"},
        {"voltage": "0.9", "acc_mean": "96.5", "ci_low": "96.0", "ci_high": "97.0", "energy_norm": "0.8"},
    ]
    act = [{"voltage": "0.9", "acc_mean": "97.5", "ci_low": "97.0", "ci_high": "98.0", "energy_norm": "0.9",
            "act_energy_norm": "0.18"}]
    summary = {"voltage_limited_by": "weights", "iso_acc_voltage_1pt": 1.0, "act_iso_acc_voltage_1pt": 0.9}
    lines = buffer_section({"maxabs": {"sweep": sweep, "act_sweep": act, "summary": summary}}, unit="Vmin")
    assert lines[2] == ("- **maxabs**: the weights limit the voltage (the weights' 1-point iso-accuracy "
                        "voltage 1.00 × Vmin, the buffer's 0.90 × Vmin).")
    # buffer share 0.18 / 0.9 = 0.200; E weights from the weights' sweep at the same voltage
    row = "| maxabs | 0.90 | 96.50 [96.00, 97.00] | 97.50 [97.00, 98.00] | 0.800 | 0.900 | 0.200 |"
    assert lines[4].splitlines()[2] == row
    assert buffer_section({"maxabs": {"sweep": sweep}}) == []


def test_the_limit_line_reads_the_plan_where_there_is_one() -> None:
    from wcatsim.analysis.report.tables import limit_line

    sweeps = {"voltage_limited_by": "weights", "iso_acc_voltage_1pt": 0.9, "act_iso_acc_voltage_1pt": 0.85}
    planned = {**sweeps, "plan_voltage_limited_by_1pt": "activations", "plan_weights_max_voltage_1pt": 0.85,
               "plan_act_voltage_1pt": 0.9}  # fmt: skip
    assert limit_line("wcat", planned, "Vmin") == (
        "- **wcat**: in the plan over both memories, the activation buffer limits the voltage (the weights' "
        "highest planned domain 0.85 × Vmin, the buffer 0.90 × Vmin); from the sweeps alone, the weights "
        "limit the voltage (the weights' 1-point iso-accuracy voltage 0.90 × Vmin, the buffer's 0.85 × Vmin)."
    )
    assert limit_line("wcat", sweeps, "Vmin") == (
        "- **wcat**: the weights limit the voltage (the weights' 1-point iso-accuracy voltage 0.90 × Vmin, "
        "the buffer's 0.85 × Vmin)."
    )
    assert limit_line("wcat", {}, "Vmin") == "- **wcat**: not known (a sweep is missing)."
