"""Bit-Flip Attack figures: test accuracy against bit flips, per trial, and two models overlaid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sram_models.errors import InputError
from wcatsim.analysis.plots.style import LEGEND_LINE_IN, PALETTE, color_for, new_figure, save_figure
from wcatsim.stats.censoring import fmt_count, fmt_median, statuses
from wcatsim.store.columns import read_table

FLIPS_FILE = "bfa_flips.csv"  # names as written by wcatsim.experiments.attacks.bfa
SUMMARY_FILE = "bfa_summary.json"
# one dash pattern per trial (all trials of a run share the quantizer's colour)
LINESTYLES = ["-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 3))]


def load_bfa_results(
    run_dir: str | Path, defence: str = "none", objective: str = "untargeted"
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """``bfa_summary.json`` and the rows of ``bfa_flips.csv`` of a run directory (of the attack with
    ``objective`` against ``defence``: ``bfa_checksum_summary.json``, ``bfa_targeted_summary.json``
    etc., :func:`wcatsim.store.files.bfa_family`)."""
    from wcatsim.store.files import OUTPUTS, bfa_family

    run_dir = Path(run_dir)
    flips_file, summary_file = OUTPUTS[bfa_family(defence, objective)][:2]
    path = run_dir / summary_file
    if not path.is_file():
        flag = ("" if objective == "untargeted" else f" --objective {objective}") + (
            "" if defence == "none" else f" --defence {defence}")
        raise InputError(
            f"{run_dir} holds no Bit-Flip Attack results ({summary_file}): "
            f"run `wcatsim bfa --run {run_dir}{flag}` first"
        )
    summary = json.loads(path.read_text(encoding="utf-8"))
    return summary, read_table(run_dir / flips_file)  # old or new column names


def trial_curves(summary: dict[str, Any], rows: list[dict[str, str]]) -> list[tuple[list[int], list[float]]]:
    """Per trial: flips after each iteration and the accuracy logged then, starting at (0, clean)."""
    start = float(summary.get("clean_acc_logged", summary["clean_acc"]))
    curves = []
    for trial in range(int(summary["trials"])):
        last: dict[int, tuple[int, float]] = {}
        for row in rows:
            if int(row["trial"]) == trial:
                last[int(row["iteration"])] = (int(row["flip"]), float(row["acc"]))
        points = [last[i] for i in sorted(last)]
        curves.append(([0] + [p[0] for p in points], [start] + [p[1] for p in points]))
    return curves


def _label(summary: dict[str, Any]) -> str:
    bits = summary.get("bits") or ["?"]
    width = "/".join(str(b) for b in bits)
    return f"{summary.get('quant_method', '?')} {width}-bit {summary.get('model', '')}".strip()


def _acc_axis_label(summary: dict[str, Any]) -> str:
    if int(summary.get("eval_subset", 0)) < int(summary.get("test_images", 0)):
        return f"test accuracy (%), {summary['eval_subset']}-image subset"
    return "test accuracy (%)"


def plot_bfa_trials(run_dir: str | Path, path: str | Path, defence: str = "none",
                    objective: str = "untargeted") -> list[Path]:
    """Accuracy against flips for every trial of one run (its attack with ``objective`` against
    ``defence``); the stop threshold dashed; PNG + PDF."""
    summary, rows = load_bfa_results(run_dir, defence, objective)
    fig, ax = new_figure(height=2.6 + LEGEND_LINE_IN * (int(summary["trials"]) + 1))  # + legend lines
    colour = color_for(str(summary.get("quant_method", "")))
    status = statuses(summary)
    for trial, (flips, acc) in enumerate(trial_curves(summary, rows)):
        what = {"broken": "broken", "stalled": "stalled, not broken"}.get(status[trial], "budget spent")
        count = fmt_count(summary["flips_to_break"][trial], status[trial] != "broken")
        ax.plot(flips, acc, color=colour, linestyle=LINESTYLES[trial % len(LINESTYLES)], alpha=0.85,
                label=f"trial {trial}: {count} flips ({what})")
    ax.axhline(summary["threshold"], color="0.4", linestyle="--", linewidth=0.8,
               label=f"stop at {summary['threshold']:.1f}%")
    original = summary.get("original_threshold")
    if original is not None and abs(float(original) - float(summary["threshold"])) > 1e-9:
        ax.axhline(float(original), color="0.6", linestyle=":", linewidth=0.8,
                   label=f"WCAT code's {float(original):.1f}%")
    ax.set_xlabel("bit flips")
    ax.set_ylabel(_acc_axis_label(summary))
    ax.set_ylim(0, 100)
    ax.set_title(f"Bit-Flip Attack: {_label(summary)}")
    fig.legend(loc="outside lower center", frameon=False)  # below the axes: never over a curve
    return save_figure(fig, path)


def plot_bfa_compare(run_a: str | Path, run_b: str | Path, path: str | Path) -> list[Path]:
    """Two runs' accuracy-against-flips curves overlaid (all trials, one colour per run); PNG + PDF."""
    loaded = [load_bfa_results(run_a), load_bfa_results(run_b)]
    colours = [color_for(str(summary.get("quant_method", "")), i) for i, (summary, _) in enumerate(loaded)]
    if colours[0] == colours[1]:
        # the same quantizer twice: tell the runs apart by colour as well as line style
        colours[1] = next(c for c in PALETTE if c != colours[0])
    fig, ax = new_figure(height=2.6 + 2 * LEGEND_LINE_IN)  # + the two legend lines below the axes
    for index, (summary, rows) in enumerate(loaded):
        censored = sum(1 for s in statuses(summary) if s != "broken")
        stats = f": median {fmt_median(summary)} flips" + (f" ({censored} censored)" if censored else "")
        for trial, (flips, acc) in enumerate(trial_curves(summary, rows)):
            ax.plot(flips, acc, color=colours[index], alpha=0.8, linestyle=LINESTYLES[index],
                    label=f"{_label(summary)}{stats}" if trial == 0 else None)
        ax.axhline(summary["threshold"], color="0.4", linestyle="--", linewidth=0.8)
    ax.set_xlabel("bit flips")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Bit-Flip Attack: accuracy against flips")
    fig.legend(loc="outside lower center", frameon=False)  # below the axes: never over a curve
    return save_figure(fig, path)
