"""Every table and figure gives the 5th percentile and the collapsed share beside the mean (issue 17 §6)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from wcatsim.store.atomic import atomic_write_csv, read_csv

VOLTS = [1.0, 0.9, 0.8]
P05 = {1.0: 96.5, 0.9: 95.0, 0.8: 40.0}
SHARE = {1.0: 0.0, 0.9: 0.05, 0.8: 0.6}


def _rows(tails: bool = True) -> list[dict]:
    rows = []
    for v in VOLTS:
        drop = 60 * (1 - v) ** 2
        row = {"voltage": v, "ber": 1e-3 * (1.1 - v), "energy_norm": v * v, "acc_mean": 97.0 - drop,
               "ci_low": 96.0 - drop, "ci_high": 97.5, "clean_acc": 97.0}  # fmt: skip
        if tails:
            row |= {"acc_p05": P05[v], "collapsed_share": SHARE[v]}
        rows.append(row)
    return rows


def _capture(module, monkeypatch) -> dict:
    seen = {}

    def keep(fig, path, pdf=True):
        seen["fig"] = fig
        return [Path(path)]

    monkeypatch.setattr(module, "save_figure", keep)
    return seen


def _line_with(ax, ydata: list[float]) -> bool:
    lines = [np.asarray(line.get_ydata(), float) for line in ax.get_lines()]
    return any(y.shape == (len(ydata),) and np.allclose(y, ydata, equal_nan=True) for y in lines)


def test_the_voltage_and_ber_figures_draw_the_5th_percentile_and_a_collapsed_panel(monkeypatch) -> None:
    import wcatsim.analysis.plots.faults as faults

    seen = _capture(faults, monkeypatch)
    faults.plot_voltage_sweep({"wcat4": _rows()}, "v.png")
    acc_ax, share_ax = seen["fig"].axes[0], seen["fig"].axes[1]
    ascending = sorted(VOLTS)
    assert _line_with(acc_ax, [P05[v] for v in ascending])
    assert _line_with(share_ax, [100 * SHARE[v] for v in ascending])
    assert "10 points below clean" in share_ax.get_title() and "5th percentile" in acc_ax.get_title()
    keys = ("ber", "acc_mean", "ci_low", "ci_high", "clean_acc", "acc_p05", "collapsed_share")
    ber_rows = [{k: r[k] for k in keys} for r in _rows()]
    faults.plot_accuracy_vs_ber({"wcat4": ber_rows}, "b.png")
    by_ber = sorted(ber_rows, key=lambda r: r["ber"])
    acc_ax, share_ax = seen["fig"].axes[0], seen["fig"].axes[1]
    assert _line_with(acc_ax, [r["acc_p05"] for r in by_ber])
    assert _line_with(share_ax, [100 * r["collapsed_share"] for r in by_ber])


def test_the_pareto_figure_and_tables_carry_the_tail(tmp_path, monkeypatch) -> None:
    import wcatsim.analysis.plots.pareto as pareto_plots
    from wcatsim.analysis.pareto import iso_table, load_sweep, point_rows

    atomic_write_csv(tmp_path / "sweep_voltage.csv", list(_rows()[0]), _rows())
    sweep = load_sweep(tmp_path)
    assert sweep.tail_at(0.9) == (95.0, 0.05)
    # 1 point: 0.9 is within (96.4 >= 96), 0.8 is not: the iso point is 0.9, its tail beside it
    row = next(r for r in iso_table([sweep]) if r["budget"] == 1.0)
    assert (row["voltage"], row["acc_p05"], row["collapsed_share"]) == (0.9, 95.0, 0.05)
    points = {p["voltage"]: p for p in point_rows([sweep])}
    for v in VOLTS:
        assert (points[v]["acc_p05"], points[v]["collapsed_share"]) == (P05[v], SHARE[v])
    seen = _capture(pareto_plots, monkeypatch)
    pareto_plots.plot_pareto([sweep], tmp_path / "p.png")
    axes = seen["fig"].axes
    assert len(axes) == 3
    by_energy = sorted(VOLTS)  # energy = V^2 rises with V
    assert _line_with(axes[0], [P05[v] for v in by_energy])
    assert _line_with(axes[1], [P05[v] for v in by_energy])
    assert _line_with(axes[2], [100 * SHARE[v] for v in by_energy])
    # a table made before the tail columns: no third panel, empty cells
    atomic_write_csv(tmp_path / "old" / "sweep_voltage.csv", list(_rows(False)[0]), _rows(False))
    old = load_sweep(tmp_path / "old")
    assert old.tail_at(0.9) == (None, None)
    pareto_plots.plot_pareto([old], tmp_path / "q.png")
    assert len(seen["fig"].axes) == 2
    from wcatsim.analysis.pareto import write_points_csv

    write_points_csv(tmp_path / "pts.csv", [old])
    assert {r["acc_p05"] for r in read_csv(tmp_path / "pts.csv")} == {""}


def test_the_plan_table_gives_the_final_sets_tail() -> None:
    from wcatsim.analysis.report.tables import plan_section

    # 20 chips: 19 at 96.5, one at 80 (17 points below clean 97: collapsed).  5th percentile by numpy's
    # linear rule: rank 1 + 0.05 * 19 = 1.95 -> 80 + 0.95 * (96.5 - 80) = 95.675.
    accs = [80.0] + [96.5] * 19
    plan = {"energy_norm": 0.7, "verified_acc_mean": float(np.mean(accs)), "verified_ci_low": 94.5,
            "verified_within_budget": False, "domains": [{"name": "conv1", "voltage": 0.85}],
            "uniform_voltage": 0.9, "uniform_energy_norm": 0.81, "uniform_verified_acc_mean": 96.8,
            "uniform_verified_ci_low": 96.6, "saving_over_uniform": 0.11, "budget": 1.0, "clean_acc": 97.0,
            "final_set": {"accuracies": accs, "uniform_accuracies": [96.8] * 20}}  # fmt: skip
    assert math.isclose(np.percentile(accs, 5), 95.675)
    text = "\n".join(plan_section({"wcat": {"plan": plan}}, {}, Path("."), "Vmin"))
    line = next(x for x in text.splitlines() if x.startswith("| wcat |"))
    assert "(misses); p05 95.7; collapsed 5%" in line and "96.80 [96.60]; p05 96.8; collapsed 0%" in line
    assert "p05: the 5th percentile of the final set's chip accuracies" in text
    del plan["final_set"]  # a plan from before the final set: the table as it was
    text = "\n".join(plan_section({"wcat": {"plan": plan}}, {}, Path("."), "Vmin"))
    line = next(x for x in text.splitlines() if x.startswith("| wcat |"))
    assert "p05" not in line


@pytest.mark.parametrize("name", ["random_flip_table", "sweep_table"])
def test_the_report_tables_put_the_tail_beside_the_mean(name: str) -> None:
    import wcatsim.analysis.report.writer as writer

    rows = [r | {"realisations": 20} for r in _rows()]
    if name == "random_flip_table":
        rows = [r | {"ber": r["ber"]} for r in rows]
    text = getattr(writer, name)({"wcat": rows})
    assert "p05; collapsed" in text.splitlines()[0]
    assert "; p05 40.0; collapsed 60%" in text and "; p05 95.0; collapsed 5%" in text
