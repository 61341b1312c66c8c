"""The security–energy front on hand-made attack summaries: every number worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sram_models.errors import InputError
from wcatsim.analysis.report.tables import security_table
from wcatsim.analysis.report.writer import write_run_report
from wcatsim.analysis.security import (
    attack_summaries,
    fmt_flips,
    memory_energy_at,
    security_front,
    security_point,
    security_points,
    security_rows,
)
from wcatsim.store.atomic import atomic_write_csv, read_csv


def _summary(quant: str, flips: list[int], status: list[str], defence: str | None = None,
             overhead: float = 0.0, area: float = 0.0, defended_break: bool = True) -> dict:
    # only the keys an attack writes that the front reads; the median and its CI are left out, so that
    # they are computed from the per-trial counts (as for a summary from before those keys)
    s = {"quant_method": quant, "bits": [4], "model": "small_cnn", "flips_to_break": flips, "status": status,
         "broken": [x == "broken" for x in status], "run": f"/somewhere/{quant}4", "dataset": "digits"}
    if defence is not None:
        s.update(defence=defence, defence_energy_overhead=overhead, defence_area=area, detected_flips=flips)
        if defended_break:
            s["defended_break"] = True
    return s


# maxabs, the 3 trials of docs/defences.md's defended-break table
NONE = _summary("maxabs", [23, 21, 49], ["broken"] * 3)
CHECKSUM = _summary("maxabs", [500, 500, 500], ["budget"] * 3, "checksum", 0.102, 0.0536)
SECDED = _summary("maxabs", [42, 42, 68], ["broken"] * 3, "secded", 0.125, 0.125)
WCAT = _summary("wcat", [100, 120, 80], ["broken"] * 3)


def test_points_read_the_median_its_ci_and_add_the_priced_energy() -> None:
    # KM by hand: 21, 23, 49 all broken: S = 2/3, 1/3, 0 -> median 23.  Greenwood (linear, z = 1.96):
    # at 21 var = (2/3)^2 / (3*2) = 0.0741, S - 1.96 se = 0.13 <= 0.5 -> low 21; the upper edge is above
    # 0.5 until S = 0 at 49 -> high 49 (the docs' 23 [21, 49])
    p = security_point(NONE, memory_energy=0.7, voltage=0.7)
    assert (p.defence, p.median, p.lower_bound, p.ci_low, p.ci_high, p.censored, p.trials) == (
        "none", 23, None, 21, 49, 0, 3)
    assert p.energy == pytest.approx(0.7) and p.defence_energy == 0.0 and p.voltage == 0.7
    assert fmt_flips(p) == "23 [21, 49]"
    # two trials leave at 42 together (S = 1/3): median 42, CI [42, 68] (the docs' secded row)
    s = security_point(SECDED, memory_energy=0.7)
    assert (s.median, s.ci_low, s.ci_high) == (42, 42, 68)
    assert s.energy == pytest.approx(0.7 + 0.125)
    # every trial at the budget: no median, the largest count is its lower bound, no CI
    c = security_point(CHECKSUM)
    assert (c.median, c.lower_bound, c.ci_low, c.ci_high, c.censored, c.flips) == (
        None, 500, None, None, 3, 500)
    assert c.energy == pytest.approx(1.102) and c.defence_area == 0.0536
    assert fmt_flips(c) == "≥ 500"
    assert c.label == "maxabs 4-bit small_cnn"


def test_the_front_keeps_less_energy_or_more_flips() -> None:
    points = [security_point(s) for s in (NONE, CHECKSUM, SECDED, WCAT)]
    # (energy, flips): none (1, 23), checksum (1.102, 500), secded (1.125, 42), wcat none (1, 100).
    # wcat beats maxabs at the same energy; secded costs more than the checksum and survives fewer flips
    assert security_front(points).tolist() == [False, True, False, True]
    rows = security_rows(points)
    assert [r["on_front"] for r in rows] == [False, True, False, True]
    assert rows[1]["flips_median"] is None and rows[1]["flips_median_lower_bound"] == 500
    assert rows[2]["energy_norm"] == pytest.approx(1.125) and rows[2]["defence_area_frac"] == 0.125
    assert [rows[0][k] for k in ("run", "model", "quantizer", "bits", "dataset")] == [
        "maxabs4", "small_cnn", "maxabs", "4", "digits"]
    table = security_table(points)
    row = ("| maxabs 4-bit small_cnn | checksum | untargeted | ≥ 500 | 3/3 | nominal | 1.000 | 0.102 | "
           "1.102 | 5.36 | ◆ |")
    assert row in table
    assert [r["objective"] for r in rows] == ["untargeted"] * 4


TARGETED = {**_summary("maxabs", [23, 25, 24], ["broken"] * 3), "objective": "targeted", "target_class": 0,
            "source_class": None}
TARGETED_CHECKSUM = {**_summary("maxabs", [74, 75, 64], ["stalled"] * 3, "checksum", 0.102, 0.0536),
                     "objective": "targeted", "target_class": 0, "source_class": None}


def test_targeted_attacks_are_labelled_and_never_share_a_front_with_untargeted_ones(tmp_path) -> None:
    assert security_point(TARGETED).objective == "targeted -> 0"
    assert security_point({**TARGETED, "source_class": 3}).objective == "targeted 3 -> 0"
    # one objective: a front of its own (KM median of 23, 24, 25 is 24; the stalled checksum trials are
    # censored: >= 75, on the front)
    points = security_points([_run(tmp_path, "t", {"bfa_summary.json": TARGETED,
                                                   "bfa_checksum_summary.json": TARGETED_CHECKSUM})])
    assert [(p.objective, p.flips) for p in points] == [("targeted -> 0", 24), ("targeted -> 0", 75)]
    assert security_front(points).tolist() == [True, True]
    # an untargeted run beside a targeted one: one line naming both, no front drawn
    mixed = _run(tmp_path, "u", {"bfa_summary.json": NONE})
    with pytest.raises(InputError, match=r"objectives \(targeted -> 0: 2 attacks; untargeted: 1 attack\)"):
        security_points([tmp_path / "t", mixed])
    # the command says so in one line (exit 2), and --objective picks one
    from wcatsim.cli.main import cli

    # (one run directory holds both: each objective and defence has its own summary file)
    one = _run(tmp_path, "one", {"bfa_summary.json": NONE, "bfa_targeted_summary.json": TARGETED,
                                 "bfa_targeted_checksum_summary.json": TARGETED_CHECKSUM})
    out = tmp_path / "front.png"
    bad = CliRunner().invoke(cli, ["security", str(one), "--out", str(out)])
    assert bad.exit_code == 2 and "choose one with --objective" in bad.output and not out.exists(), bad.output
    for objective, expected in (("targeted", ["targeted -> 0"] * 2), ("untargeted", ["untargeted"])):
        good = CliRunner().invoke(cli, ["security", str(one), "--objective", objective, "--out", str(out)])
        assert good.exit_code == 0, good.output
        assert [r["objective"] for r in read_csv(tmp_path / "front.csv")] == expected
    # the run report draws one front per objective instead
    both = _run(tmp_path, "both", {"bfa_summary.json": NONE, "bfa_checksum_summary.json": TARGETED_CHECKSUM,
                                   "bfa_secded_summary.json": SECDED})
    (both / "sweep_voltage.csv").unlink()  # the front at nominal needs no sweep
    text = write_run_report(both, figures=[]).read_text(encoding="utf-8")
    assert text.count("## Security against energy") == 1  # untargeted: none + secded; targeted: one point
    assert "| untargeted |" in text and "| targeted -> 0 | ≥ 75" not in text
    # the defences table keeps both defended attacks apart
    assert "| both (secded) |" in text and "| both (checksum, targeted -> 0) |" in text


def test_a_defended_attack_must_have_broken_the_defended_model() -> None:
    undefended_break = _summary("maxabs", [23], ["broken"], "checksum", 0.1, 0.05, defended_break=False)
    with pytest.raises(InputError, match="--defended-break"):
        security_point(undefended_break)
    with pytest.raises(InputError, match="positive"):
        security_point(NONE, memory_energy=0.0)


def _run(tmp_path: Path, name: str, summaries: dict[str, dict]) -> Path:
    run = tmp_path / name
    run.mkdir()
    for file, s in summaries.items():
        (run / file).write_text(json.dumps(s), encoding="utf-8")
    rows = [{"voltage": v, "energy_norm": e, "acc_mean": 98.0, "ci_low": 97.0, "clean_acc": 98.0}
            for v, e in ((0.6, 0.45), (0.7, 0.62), (0.9, 1.0))]
    atomic_write_csv(run / "sweep_voltage.csv", list(rows[0]), rows)
    return run


def test_a_run_directory_gives_one_point_per_defence_at_the_swept_voltage(tmp_path) -> None:
    run = _run(tmp_path, "maxabs", {"bfa_summary.json": NONE, "bfa_checksum_summary.json": CHECKSUM,
                                    "bfa_secded_summary.json": SECDED})
    assert [s.get("defence", "none") for s in attack_summaries(run)] == ["none", "checksum", "secded"]
    assert memory_energy_at(run, None) == 1.0 and memory_energy_at(run, 0.7) == 0.62
    with pytest.raises(InputError, match=r"swept: 0.6, 0.7, 0.9"):
        memory_energy_at(run, 0.65)
    points = security_points([run], 0.7, defences=["none", "checksum"])
    assert [(p.defence, p.energy) for p in points] == [("none", 0.62), ("checksum", pytest.approx(0.722))]


def test_the_command_writes_the_table_figure_and_csv(tmp_path) -> None:
    from wcatsim.cli.main import cli

    a = _run(tmp_path, "maxabs", {"bfa_summary.json": NONE, "bfa_checksum_summary.json": CHECKSUM})
    b = _run(tmp_path, "wcat", {"bfa_summary.json": WCAT})
    out = tmp_path / "front.png"
    result = CliRunner().invoke(cli, ["security", str(a), str(b), "--voltage", "0.6", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "front.csv")
    assert [(r["defence"], float(r["energy_norm"]), r["on_front"]) for r in rows] == [
        ("none", 0.45, "False"), ("checksum", 0.552, "True"), ("none", 0.45, "True")]
    assert out.stat().st_size > 0 and (tmp_path / "front.pdf").exists()
    assert "## Security against energy" in (tmp_path / "front.md").read_text(encoding="utf-8")
    bad = CliRunner().invoke(cli, ["security", str(a), "--voltage", "0.65", "--out", str(out)])
    assert bad.exit_code == 2 and "--voltage 0.65 was not swept" in bad.output


def test_the_run_report_lists_every_defence_and_the_front(tmp_path) -> None:
    run = _run(tmp_path, "maxabs", {"bfa_summary.json": NONE, "bfa_checksum_summary.json": CHECKSUM})
    (run / "sweep_voltage.csv").unlink()  # the front at nominal needs no sweep
    text = write_run_report(run, figures=[]).read_text(encoding="utf-8")
    assert "## Security against energy" in text and "| maxabs (checksum) | checksum |" in text
