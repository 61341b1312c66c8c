"""Demo report sections of issue 12: the per-layer voltage plans and the protection schemes' table.

Pure text from data already collected (``wcatsim.pipelines.demo.collect``): no torch, no plotting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wcatsim.analysis.report.format import figure, fmt_acc, markdown_table, voltage_label
from wcatsim.analysis.security import SecurityPoint, fmt_flips, security_front
from wcatsim.store.columns import column

PLAN_CAPTION = (
    "Per-layer voltage plan (`wcatsim plan-voltage`): one supply voltage per quantized layer, each "
    "layer's weights in SRAM arrays of their own. Searched on the planning chips (faults in one layer at "
    "a time, then a greedy descent lowering next the layer that saves the most energy per accuracy point "
    "lost, then a joint check with every layer faulty, backing off until the budget holds); the best "
    "uniform voltage is chosen on the same chips. Both are then checked on held-out chips (seeds "
    "disjoint from the planning chips); a plan or uniform voltage that misses there goes up and both are "
    "checked again on a fresh set (*sets*: held-out sets spent adjusting). Then both are frozen and "
    "evaluated once on a final set of chips used by nothing else. *verified*: mean accuracy over the "
    "final set's chips [lower end of its 95% CI], as found (it may miss the budget); p05: the 5th "
    "percentile of the final set's chip accuracies; collapsed: the share of them more than 10 points "
    "below clean. Energies are "
    "relative to the whole image unprotected at nominal "
    "voltage, from the same model as the sweeps (padding of each layer's last array leaks and counts), "
    "plus a level shifter for every bit read from a layer below the plan's highest voltage (0.5 × 20.43 "
    "fJ per bit, a simulated 7 nm figure; for presets without absolute energy over an assumed 259 fJ "
    "bit read at nominal); the uniform voltage, one rail, has none; regulators are not modelled. *saving "
    "over uniform*: the uniform voltage's energy minus the plan's, level shifters included, as a "
    "fraction of the nominal energy."
)

# appended to PLAN_CAPTION where a plan covers both memories (plan-voltage --target both)
PLAN_BOTH_CAPTION = (
    " **Both memories** (`--target both`, issue 20 §1): the activation buffer (8-bit stored activations, "
    "default buffer settings) is one more domain, *activations* in the voltage column, with its own "
    "sensitivity curve; clean accuracy is the model's with stored activations, and every energy (plan, "
    "uniform, saving) is over both memories unprotected at nominal, the uniform voltage putting both on "
    "one rail."
)

PROTECTION_CAPTION = (
    "Every protection scheme swept on the same chips and voltages as the unprotected memory. *saving*: "
    "the iso-accuracy energy saving at 1 point, 1 − the lowest energy per inference among the voltages "
    "(and every higher one) within 1 point of clean accuracy, relative to the unprotected image at "
    "nominal voltage, so a scheme's check cells cost it; *lowest V*: the lowest voltage reached, scanning "
    "down from nominal, with it and every higher one within 1 point; ≥: the lowest swept voltage "
    "qualifies and is the cheapest (the saving is a lower bound). *area*: the scheme's cells over the "
    "unprotected word's (sram_models.protection, sources in docs/sram.md); decoder and detector logic not "
    "modelled."
)


def _final_tail(plan: Mapping[str, Any], key: str) -> str:
    """``"; p05 95.1; collapsed 0%"``: the lower tail of the final set's chip accuracies (``key``:
    ``accuracies`` for the plan, ``uniform_accuracies`` for the uniform voltage) against clean
    (:func:`wcatsim.stats.tails.lower_tail`); empty for a plan written before the final set."""
    from wcatsim.stats.tails import lower_tail

    accuracies = (plan.get("final_set") or {}).get(key)
    if not accuracies or plan.get("clean_acc") is None:
        return ""
    tail = lower_tail([float(a) for a in accuracies], float(plan["clean_acc"]))
    return f"; p05 {fmt_acc(tail.acc_p05, 1)}; collapsed {100 * tail.collapsed_share:.0f}%"


def plan_section(
    models: Mapping[str, Mapping[str, Any]], figures: Mapping[str, Path], out_dir: Path, unit: str | None
) -> list[str]:
    """The report's lines for the voltage plans (empty when no model has one)."""
    plans = {name: m["plan"] for name, m in models.items() if m.get("plan")}
    if not plans:
        return []
    vunit = voltage_label(unit)
    rows = []
    for name, p in plans.items():
        low = p.get("verified_ci_low")
        low_text = fmt_acc(low)  # "—" when absent or NaN
        uni_low_text = fmt_acc(p.get("uniform_verified_ci_low"))
        miss = "" if p.get("verified_within_budget", True) else " (misses)"
        voltages = ", ".join(f"{d['name']} {float(d['voltage']):.2f}" for d in p["domains"])
        rows.append([
            name, f"{float(p['energy_norm']):.3f}",
            f"{fmt_acc(p['verified_acc_mean'])} [{low_text}]{miss}{_final_tail(p, 'accuracies')}",
            f"{float(p['uniform_voltage']):.2f} {vunit}", f"{float(p['uniform_energy_norm']):.3f}",
            f"{fmt_acc(p.get('uniform_verified_acc_mean'))} [{uni_low_text}]"
            + _final_tail(p, "uniform_accuracies"),
            f"{float(p['saving_over_uniform']):.3f}", str(p.get("verification_sets", "—")), voltages,
        ])  # fmt: skip
    budget = float(next(iter(plans.values())).get("budget", 1.0))
    lines = [f"## Per-layer voltage plan within {budget:g} point", ""]
    caption = PLAN_CAPTION
    if any(p.get("target") == "both" for p in plans.values()):  # issue 20 §1: the demo plans both memories
        caption += PLAN_BOTH_CAPTION
    lines += [
        markdown_table(
            ["quantizer", "plan E/E_nom", "verified acc % [CI low]; p05; collapsed", "uniform V",
             "uniform E/E_nom", "uniform verified acc % [CI low]; p05; collapsed", "saving over uniform",
             "sets", f"voltage per layer ({vunit})"],
            rows, align="lrrrrrrrl",
        ),  # fmt: skip
        "",
        caption,
        "",
    ]
    for name in plans:
        if f"plan_{name}" in figures:
            caption = f"{name}: supply voltage per layer (bar width = the layer's weights; dashed: uniform)"
            lines += [figure(figures[f"plan_{name}"], caption, out_dir), ""]
    return lines


def protection_section(
    models: Mapping[str, Mapping[str, Any]], bits: int, word_bits: int = 64, unit: str | None = "V",
    schemes: Sequence[str] | None = None,
) -> list[str]:  # fmt: skip
    """The report's protection table: per scheme, its area overhead and per model the iso-accuracy
    saving at 1 point and the lowest voltage reached (empty when no model has a protected sweep)."""
    from sram_models import WordLayout
    from sram_models.protection import SCHEME_NAMES, protection_cost

    names = list(models)
    swept = [set(models[n].get("protection") or {}) for n in names]
    present = [s for s in (schemes or SCHEME_NAMES) if any(s in found for found in swept)]
    if len(present) < 2:
        return []
    vunit = voltage_label(unit)
    rows = []
    for scheme in present:
        cost = protection_cost(WordLayout(bits=int(bits), word_bits=int(word_bits), protect=scheme))
        row = [scheme, str(cost.check_bits), f"{100 * cost.area_overhead:+.1f}%"]
        for n in names:
            iso = ((models[n].get("protection") or {}).get(scheme) or {}).get("iso_1pt")
            if not iso:
                row.append("—")
                continue
            bound = "≥ " if iso.get("bounded_by_sweep") else ""
            lowest = iso.get("lowest_voltage") or iso["voltage"]
            row.append(f"{bound}{100 * float(iso['saving']):.1f}%, {float(lowest):.2f} {vunit}")
        rows.append(row)
    lines = [f"## Protection schemes ({bits}-bit weights in {word_bits}-bit words)", ""]
    lines += [
        markdown_table(
            ["scheme", "check bits / word", "area", *(f"{n}: saving @1pt, lowest V" for n in names)],
            rows, align="lrr" + "r" * len(names),
        ),  # fmt: skip
        "",
        PROTECTION_CAPTION,
        "",
    ]
    return lines


SECURITY_CAPTION = (
    "The security–energy front (`wcatsim security`, issue 20): per model and defence, flips to break "
    "the defended model (`wcatsim bfa --defence NAME --defended-break`; the attacker unaware of the "
    "defence), the Kaplan–Meier median with its 95% CI (Brookmeyer–Crowley; ≥: half the trials or more "
    "unbroken, the largest count observed), against energy per inference: the weight memory's at the "
    "voltage (a sweep's energy_norm, 1 at nominal) plus the defence's priced overhead (Horowitz ISSCC "
    "2014 figures, over the weight reads at nominal, added unscaled), in units of the undefended weight "
    "memory at nominal. *area*: extra bits per stored weight bit. *front*: no other point has at most "
    "its energy and at least its flips."
)


def security_table(points: Sequence[SecurityPoint]) -> str:
    """The front's table: one row per :class:`wcatsim.analysis.security.SecurityPoint`."""
    front = security_front(points)
    rows = [
        [p.label, p.defence, p.objective, fmt_flips(p), f"{p.censored}/{p.trials}",
         "nominal" if p.voltage is None else f"{p.voltage:g}", f"{p.memory_energy:.3f}",
         f"{p.defence_energy:.3f}", f"{p.energy:.3f}", f"{100 * p.defence_area:.2f}", "◆" if on else ""]
        for p, on in zip(points, front, strict=True)
    ]  # fmt: skip
    return markdown_table(
        ["model", "defence", "attack", "flips to break, median [95% CI]", "unbroken", "voltage",
         "memory energy", "defence energy", "energy per inference", "area %", "front"],
        rows, align="lllrrrrrrrc",
    )  # fmt: skip


def security_section(points: Sequence[SecurityPoint], figure_path: str | Path | None = None,
                     relative_to: Path | None = None) -> list[str]:
    """The report's security–energy section: heading, table, caption and (if given) the figure."""
    parts = ["## Security against energy", "", security_table(points), "", SECURITY_CAPTION, ""]
    if figure_path is not None:
        parts += [figure(figure_path, "security against energy", relative_to or Path(".")), ""]
    return parts


BUFFER_CAPTION = (
    "The activation buffer's sweep (`wcatsim sweep-voltage --target activations`, issue 20 §1; "
    "docs/activations.md): the inputs of the quantized layers stored in 8 bits (ranges calibrated on 500 "
    "training images) in a global-buffer SRAM of the same preset, read through the same chips' fault "
    "model at each swept voltage, the weights fault-free at nominal. *weights* and *activations*: mean "
    "accuracy over the chips [95% CI] with faults in that memory alone; the buffer's clean accuracy is "
    "the model's with 8-bit stored activations. *E weights*: the weight memory's energy per inference "
    "over its own at nominal; *E both*: both memories' (the buffer at V, the weights at nominal) over "
    "both at nominal; *buffer share*: the buffer's part of *E both*. Every activation of an inference is "
    "written once and read once, a write costed as a read."
)


def _acc_ci(row: Mapping[str, Any] | None) -> str:
    if not row:
        return "—"
    low, high = column(row, "ci_low"), column(row, "ci_high")
    ci = f" [{fmt_acc(low)}, {fmt_acc(high)}]" if low is not None and high is not None else ""
    return fmt_acc(column(row, "acc_mean")) + ci


def limit_line(name: str, summary: Mapping[str, Any], unit: str | None = "V") -> str:
    """One line: which memory limits the voltage of model ``name``.

    From the plan over both memories where the demo summary has one (``plan_voltage_limited_by_1pt``,
    ``plan_weights_max_voltage_1pt``, ``plan_act_voltage_1pt``: the memory planned higher), the sweeps'
    verdict beside it; else from the sweeps alone (``voltage_limited_by``, ``iso_acc_voltage_1pt`` and
    ``act_iso_acc_voltage_1pt``: the memory with the higher 1-point iso-accuracy voltage).
    """
    vunit = voltage_label(unit)

    def verdict(who: str, detail: str) -> str:
        if who == "both":
            return f"both memories limit it alike ({detail})"
        limits = "weights limit" if who == "weights" else "activation buffer limits"
        return f"the {limits} the voltage ({detail})"

    swept = summary.get("voltage_limited_by")
    sweeps = None
    if swept is not None:
        weights, act = summary.get("iso_acc_voltage_1pt"), summary.get("act_iso_acc_voltage_1pt")
        sweeps = verdict(swept, f"the weights' 1-point iso-accuracy voltage {float(weights):.2f} {vunit}, "
                                f"the buffer's {float(act):.2f} {vunit}")  # fmt: skip
    planned = summary.get("plan_voltage_limited_by_1pt")
    if planned is not None:
        top, act = summary["plan_weights_max_voltage_1pt"], summary["plan_act_voltage_1pt"]
        line = (f"- **{name}**: in the plan over both memories, " + verdict(
            planned, f"the weights' highest planned domain {float(top):.2f} {vunit}, the buffer "
            f"{float(act):.2f} {vunit}"))  # fmt: skip
        return line + (f"; from the sweeps alone, {sweeps}." if sweeps else ".")
    if sweeps is None:
        return f"- **{name}**: not known (a sweep is missing)."
    return f"- **{name}**: {sweeps}."


def buffer_section(models: Mapping[str, Mapping[str, Any]], unit: str | None = "V") -> list[str]:
    """The report's activation-buffer section: per model and voltage, accuracy and energy of each memory,
    and which memory limits the voltage (empty when no model has a buffer sweep)."""
    names = [n for n, m in models.items() if m.get("act_sweep")]
    if not names:
        return []
    vunit = voltage_label(unit)
    rows = []
    for n in names:
        weights = {round(float(column(r, "voltage")), 9): r for r in models[n].get("sweep") or []}
        for r in sorted(models[n]["act_sweep"], key=lambda r: -float(column(r, "voltage"))):
            v = float(column(r, "voltage"))
            w = weights.get(round(v, 9))
            share, total = column(r, "act_energy_norm"), column(r, "energy_norm")
            rows.append([
                n, f"{v:.2f}", _acc_ci(w), _acc_ci(r),
                fmt_acc(column(w, "energy_norm"), 3) if w else "—", fmt_acc(total, 3),
                "—" if share is None or total is None else f"{float(share) / float(total):.3f}",
            ])  # fmt: skip
    lines = ["## Activation buffer: which memory limits the voltage", ""]
    lines += [limit_line(n, models[n].get("summary") or {}, unit) for n in names] + [""]
    lines += [
        markdown_table(
            ["model", f"V ({vunit})", "weights: acc %", "activations: acc %", "E weights", "E both",
             "buffer share"], rows, align="lrrrrrr",
        ),  # fmt: skip
        "",
        BUFFER_CAPTION,
        "",
    ]
    return lines


__all__ = [
    "BUFFER_CAPTION",
    "PLAN_BOTH_CAPTION",
    "PLAN_CAPTION",
    "PROTECTION_CAPTION",
    "SECURITY_CAPTION",
    "buffer_section",
    "limit_line",
    "plan_section",
    "protection_section",
    "security_section",
    "security_table",
]
