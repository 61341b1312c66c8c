"""Run summaries in Markdown: the tables and the figures a researcher checks, in one file.

Two reports:

- :func:`write_run_report`: ``report.md`` in one run directory, from whatever results
  it holds (training summary, random-flip table, voltage sweep with its iso-accuracy
  saving, BFA summary) and the PNG figures beside them;
- :func:`write_demo_report`: the ``wcatsim demo`` report comparing quantizers, with
  the iso-accuracy savings and flips-to-break side by side.

Pure text from data already on disk or in memory: no torch, no plotting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wcatsim.analysis.pareto import SWEEP_FILE, iso_accuracy_saving
from wcatsim.analysis.report.format import figure, fmt_acc, fmt_ber, markdown_table, voltage_label
from wcatsim.analysis.report.tables import security_section
from wcatsim.analysis.security import attack_objective, attack_summaries, security_point
from wcatsim.store.atomic import atomic_write_text, read_json_object
from wcatsim.store.columns import read_table

REPORT_FILE = "report.md"
RANDOM_FLIP_FILE = "random_flip.csv"
BFA_SUMMARY_FILE = "bfa_summary.json"


# ------------------------------------------------------------------------------------------- pieces


def fmt_saving(iso: Mapping[str, Any] | None, unit: str | None = "V") -> str:
    """``"27.8% @ 0.850 V"`` with the bounded/nominal-miss flags written out."""
    if not iso:
        return "—"
    text = f"{100 * float(iso['saving']):.1f}% @ {float(iso['voltage']):.3f} {voltage_label(unit)}"
    if iso.get("bounded_by_sweep"):
        text += " (≥, bounded by the sweep)"
    elif iso.get("nominal_within_budget") is False:
        text += " (nominal already outside)"
    return text


def fmt_flips(bfa: Mapping[str, Any] | None) -> str:
    """``"40 [20, 50] (median, 95% CI; 3/3 broken, mean 41.3 ± 5.1)"``: the Kaplan–Meier median of flips
    to break ("≥ k" where it is censored) with its Brookmeyer–Crowley CI ("[20, ∞)": open above; left
    out where there is none), the broken share, the mean over broken trials, and stalled trials said so."""
    from wcatsim.stats.censoring import fmt_median, fmt_median_ci, statuses

    if not bfa:
        return "—"
    status = statuses(dict(bfa))
    if not status:
        return "—"
    broken = sum(1 for st in status if st == "broken")
    stalled = sum(1 for st in status if st == "stalled")
    ci = fmt_median_ci(bfa)
    text = f"{fmt_median(dict(bfa))}{' ' + ci if ci else ''} (median{', 95% CI' if ci else ''}; "
    text += f"{broken}/{len(status)} broken"
    mean, std = bfa.get("flips_to_break_mean"), bfa.get("flips_to_break_std")
    if broken and mean is not None:
        text += f", mean {float(mean):.1f}"
        if std is not None and broken > 1:
            text += f" ± {float(std):.1f}"
    if stalled:
        text += f", {stalled} stalled"
    return text + ")"


def _per_trial(bfa: Mapping[str, Any], key: str) -> str:
    """Per-trial counts, "≥ k" where the trial did not get there (k: the flips it committed)."""
    from wcatsim.stats.censoring import fmt_count, statuses

    if key not in bfa:
        return "—"
    counts = list(bfa.get(key) or [])
    if key == "flips_to_break":
        pairs = zip(counts, statuses(dict(bfa)), strict=False)
        return ", ".join(fmt_count(c, st != "broken") for c, st in pairs)
    attacked = list(bfa.get("flips_attacked") or bfa.get("flips_to_break") or [])
    pairs = zip(counts, attacked, strict=False)
    return ", ".join(fmt_count(c if c is not None else a, c is None) for c, a in pairs)


def iso_dict(sweep_rows: Sequence[Mapping[str, Any]], budget: float, metric: str = "mean") -> dict[str, Any]:
    """The iso-accuracy result of a sweep as a plain dict (for JSON and the report)."""
    iso = iso_accuracy_saving(sweep_rows, budget, metric=metric)
    return {
        "budget": iso.budget,
        "metric": iso.metric,
        "clean_acc": iso.clean_acc,
        "voltage": iso.voltage,
        "lowest_voltage": iso.lowest_voltage,
        "energy_norm": iso.energy_norm,
        "saving": iso.saving,
        "accuracy": iso.accuracy,
        "bounded_by_sweep": iso.bounded_by_sweep,
        "nominal_within_budget": iso.nominal_within_budget,
    }


def random_flip_table(per_model: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """BER down the side, one column per model: mean accuracy [95% CI] (realisations)."""
    bers = sorted({float(r["ber"]) for rows in per_model.values() for r in rows})
    cols = ["BER"] + [f"{name} acc % [95% CI]; p05; collapsed" for name in per_model]
    table = []
    for ber in bers:
        line = [fmt_ber(ber)]
        for rows in per_model.values():
            r = next((r for r in rows if float(r["ber"]) == ber), None)
            line.append(_mean_ci(r) if r else "—")
        table.append(line)
    return markdown_table(cols, table)


# What a sweep table's BER column counts, by the preset's ber_meaning.
BER_LABELS = {"faulty_cell": "BER (faulty cells)", "bit_error": "BER (bits read wrong)"}
# Captions that say which column is which (the README says the same).
RANDOM_FLIP_CAPTION = (
    "BER: the probability that a stored bit reads wrong, as set (for stuck-at models, 2 x BER of the "
    "cells are faulty); acc: mean test accuracy over the fault realisations, 95% CI over realisations "
    "(random_flip.json says which procedure: fixed count, or the adaptive two-stage rule); random_flip.csv "
    "also holds `flip_rate`: the share of the stored weight bits that did read wrong, measured. "
    "p05: the 5th percentile of the realisations' accuracies (percent); collapsed: the share of "
    "realisations more than 10 points below clean. Near the accuracy cliff the realisations mix fine and "
    "collapsed draws, and the CI of the mean then covers less than its nominal 95%."
)
# What the BER column of a sweep is, by the preset's ber_meaning.
_SWEEP_BER = {
    "faulty_cell": "the preset's curve at that voltage, the share of faulty cells (about half of them read "
                   "wrong on random data)",
    "bit_error": "the preset's curve at that voltage, the probability that a stored bit reads wrong",
}


def sweep_caption(ber_meaning: str | None) -> str:
    """The sweep table's caption: what its BER column counts (the preset's ``ber_meaning``) and the rest."""
    ber = _SWEEP_BER.get(str(ber_meaning), "the preset's curve at that voltage")
    return (
        f"BER: {ber}; flip rate: the share of the stored weight bits that did read wrong, measured "
        "(first model's); energy: dynamic reads plus leakage over the inference time, relative to the "
        "unprotected image at nominal; leakage share: of that energy; acc: mean over the realisations "
        "(chips, or transient draws), 95% CI over them (none for one measured chip). "
        "p05: the 5th percentile of the realisations' accuracies (percent); collapsed: the share of "
        "realisations more than 10 points below clean. Near the accuracy cliff the realisations mix fine and "
        "collapsed draws, and the CI of the mean then covers less than its nominal 95%."
    )


def _share(row: Mapping[str, Any]) -> str:
    value = row.get("leakage_share")
    try:
        return f"{100 * float(value):.0f}%"
    except (TypeError, ValueError):
        return "—"


def sweep_table(per_model: Mapping[str, Sequence[Mapping[str, Any]]], ber_meaning: str | None = None) -> str:
    """Voltage down the side (high to low): BER, flip rate, energy, leakage share, each model's accuracy."""
    volts = sorted({float(r["voltage"]) for rows in per_model.values() for r in rows}, reverse=True)
    first = next(iter(per_model.values()))
    cols = ["V (norm.)", BER_LABELS.get(str(ber_meaning), "BER (preset)"), "flip rate", "energy / nominal",
            "leakage share"] + [f"{n} acc % [95% CI]; p05; collapsed" for n in per_model]  # fmt: skip
    table = []
    for v in volts:
        ref = next((r for r in first if float(r["voltage"]) == v), None)
        flip = ref.get("flip_rate") if ref else None
        line = [
            f"{v:.3f}",
            f"{float(ref['ber']):.2e}" if ref else "—",
            f"{float(flip):.2e}" if flip not in (None, "") else "—",
            fmt_acc(ref["energy_norm"], 3) if ref else "—",
            _share(ref) if ref else "—",
        ]
        for rows in per_model.values():
            r = next((r for r in rows if float(r["voltage"]) == v), None)
            line.append(_mean_ci(r) if r else "—")
        table.append(line)
    return markdown_table(cols, table)


# ------------------------------------------------------------------------------------- run report


def write_run_report(run_dir: str | Path, figures: Sequence[str | Path] | None = None) -> Path:
    """Write ``report.md`` in ``run_dir`` from the results it holds; return its path.

    Sections appear only for results present: training (``summary.json``), random
    flips (``random_flip.csv``), voltage sweep (``sweep_voltage.csv``, with the
    iso-accuracy saving at 1 and 0.1 point), BFA (``bfa_summary.json``; attacks against defences,
    ``bfa_NAME_summary.json``, and their security–energy table at nominal voltage). Figures:
    ``figures`` if given, else every PNG in the run directory.
    """
    run_dir = Path(run_dir)
    summary = read_json_object(run_dir / "summary.json")
    title = run_dir.name
    parts = [f"# Run report: {title}", ""]
    if summary:
        parts += [
            "## Training",
            "",
            markdown_table(
                ["model", "dataset", "quantizer", "bits", "test accuracy %"],
                [
                    [
                        summary.get("model"),
                        summary.get("dataset"),
                        summary.get("quantizer"),
                        summary.get("bits"),
                        fmt_acc(summary.get("test_accuracy")),
                    ]
                ],
            ),
            "",
        ]
        layers = summary.get("layers") or {}
        if layers:
            parts += [
                "Per layer: the clipping range in use (for maxabs it is max|w|; for wcat the learned α; "
                "for lsq step·2^(N−1)), the largest weight, and the share of weights clipped to the range.",
                "",
                layer_table(layers),
                "",
            ]
    flips = read_table(run_dir / RANDOM_FLIP_FILE)  # old or new column names
    if flips:
        parts += ["## Random bit errors", "", random_flip_table({title: flips}), "", RANDOM_FLIP_CAPTION, ""]
    sweep = read_table(run_dir / SWEEP_FILE)
    if sweep:
        meaning = (read_json_object(run_dir / "sweep_voltage.json").get("settings") or {}).get("ber_meaning")
        parts += ["## Voltage sweep", "", sweep_table({title: sweep}, meaning), "", sweep_caption(meaning)]
        parts += [""]
        try:
            isos = [iso_dict(sweep, b) for b in (1.0, 0.1)]
        except Exception as exc:  # noqa: BLE001 - a malformed table is reported, not fatal for the report
            parts += [f"(iso-accuracy saving not computed: {exc})", ""]
        else:
            parts += [
                markdown_table(
                    ["budget", "iso-accuracy saving (mean accuracy)"],
                    [[f"{i['budget']:g} pt", fmt_saving(i)] for i in isos],
                ),
                "",
            ]
    bfa = read_json_object(run_dir / BFA_SUMMARY_FILE)
    if bfa:
        parts += ["## Bit-Flip Attack", "", bfa_table({title: bfa}), ""]
    # every attack against a defence keeps its own summary (bfa_checksum_summary.json, ...); an older
    # run may hold a defended attack in bfa_summary.json itself
    attacks = attack_summaries(run_dir)
    defended = {}
    for s in attacks:
        if "detected_flips" in s:  # one row per attack: its defence and, if not untargeted, its objective
            objective = attack_objective(s)
            defended[f"{title} ({s['defence']}{'' if objective == 'untargeted' else f', {objective}'})"] = s
    if defended:
        parts += [defence_table(defended), ""]
    # the front at nominal voltage (`wcatsim security --voltage V` reads a sweep for another voltage)
    usable = [s for s in attacks if s.get("defence", "none") == "none" or s.get("defended_break")]
    # one front per attack objective: flips to break count different events under each
    by_objective: dict[str, list[dict[str, Any]]] = {}
    for s in usable:
        by_objective.setdefault(attack_objective(s), []).append(s)
    for group in by_objective.values():
        if len(group) > 1:
            parts += security_section([security_point(s) for s in group])
    figs = [Path(f) for f in figures] if figures is not None else sorted(run_dir.glob("*.png"))
    if figs:
        parts += ["## Figures", ""]
        for f in figs:
            parts += [figure(f, f.stem.replace("_", " "), run_dir), ""]
    path = run_dir / REPORT_FILE
    atomic_write_text(path, "\n".join(parts).rstrip() + "\n")
    return path


def layer_table(layers: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for name, st in layers.items():
        rows.append(
            [
                name,
                f"{float(st.get('range', float('nan'))):.4g}",
                f"{float(st.get('max_abs_weight', float('nan'))):.4g}",
                f"{100 * float(st.get('clipped_fraction', 0.0)):.1f}",
            ]
        )
    return markdown_table(["layer", "range", "max abs weight", "clipped %"], rows)


def defence_table(per_model: Mapping[str, Mapping[str, Any]]) -> str:
    """The defence's detection, restored accuracy and price per model (attacks run with ``--defence``)."""
    rows = []
    for name, bfa in per_model.items():
        detected, flips = sum(bfa["detected_flips"]), sum(bfa["flips_to_break"])
        restored = list(bfa.get("defended_acc") or [])
        rows.append([
            name,
            str(bfa.get("defence")),
            f"{detected}/{flips} ({100 * detected / flips:.1f}%)" if flips else "-",
            fmt_acc(sum(restored) / len(restored), 1) if restored else "-",
            f"{100 * bfa['defence_area']:.2f}" if "defence_area" in bfa else "-",
            f"{100 * bfa['defence_energy_overhead']:.1f}" if "defence_energy_overhead" in bfa else "-",
            f"< {100 * bfa['defence_time_overhead']:g}" if bfa.get("defence_time_overhead") is not None
            else "not modelled" if "defence_time_overhead" in bfa else "-",
        ])
    return markdown_table(
        ["model", "defence", "flips detected (all trials)", "acc after repair % (mean)",
         "area: extra bits per weight bit %", "energy: % of weight reads per inference",
         "time % (source's report)"],
        rows,
    ) + ("\n\nDefence prices: signature or check bits over stored weight bits; energy = one add per weight "
         "(checksums) and one read per signature or check bit per inference over the weight bits' read "
         "energy (Horowitz, ISSCC 2014: 0.03 pJ per 8-bit add, 10 pJ per 64-bit SRAM read; an ECC "
         "decoder's logic not counted); time as RADAR reports it (Li et al., DATE 2021), not measured "
         "here. The attacker is unaware of the defence.")


def bfa_table(per_model: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for name, bfa in per_model.items():
        base = bfa.get("random_baseline_acc") or []
        rows.append(
            [
                name,
                fmt_acc(bfa.get("clean_acc")),
                fmt_acc(bfa.get("threshold")),
                fmt_flips(bfa),
                _per_trial(bfa, "flips_to_break"),
                _per_trial(bfa, "flips_to_original_threshold"),
                ", ".join(fmt_acc(x, 1) for x in bfa.get("final_acc") or []),
                ", ".join(fmt_acc(x, 1) for x in base),
            ]
        )
    return markdown_table(
        [
            "model",
            "clean %",
            "stop at %",
            "flips to break",
            "per trial",
            "per trial to 100/C + 1/C % (WCAT code)",
            "final acc %",
            "same # random flips: acc %",
        ],
        rows,
    )


# ------------------------------------------------------------------------------------ demo report


def uncertainty_section(models: Mapping[str, Mapping[str, Any]], top: Mapping[str, Any]) -> list[str]:
    """The report's lines on the headline's uncertainty (issue 17 §3); empty where none was computed.

    Parameters
    ----------
    models : mapping
        As :func:`write_demo_report`'s; each ``summary`` may hold ``saving_1pt``, ``saving_1pt_ci``,
        ``saving_1pt_band``, ``seeds`` and the seed statistics
        (:func:`wcatsim.analysis.uncertainty.seed_uncertainty`).
    top : mapping
        The ``wcat_minus_maxabs_*`` keys of ``summary.json``.
    """

    def pct(value: Any) -> str:
        return "—" if value is None else f"{100 * float(value):.1f}%"

    def interval(ci: Any, scale: float = 100.0, unit: str = "%", digits: int = 1) -> str:
        return "—" if not ci else f"[{scale * ci[0]:.{digits}f}, {scale * ci[1]:.{digits}f}]{unit}"

    rows = []
    for name, m in models.items():
        s = m.get("summary", {})
        if s.get("saving_1pt") is None:
            continue
        flips = s.get("flips_to_break_seeds_mean")
        censored = "≥ " if s.get("flips_to_break_seeds_censored") else ""  # a seed's count is a bound
        rows.append([
            name, str(s.get("seeds")), pct(s.get("saving_1pt")), interval(s.get("saving_1pt_ci")),
            interval(s.get("saving_1pt_band")),
            ("—" if s.get("voltage_1pt") is None else f"{s['voltage_1pt']:.3f} ")
            + interval(s.get("voltage_1pt_ci"), 1.0, "", 3),
            fmt_acc(s.get("clean_acc_seeds_mean")) + " " + interval(s.get("clean_acc_seeds_ci"), 1.0, "", 2),
            ("—" if flips is None else censored + f"{flips:.1f}")
            + " " + interval(s.get("flips_to_break_seeds_ci"), 1.0, "", 1),
        ])  # fmt: skip
    if not rows:
        return []
    lines = [
        "### How sure: chips, training seeds, technology",
        "",
        markdown_table(["quantizer", "seeds", "saving within 1 pt (seed mean)", "95% CI (chips, seeds)",
                        "technology band", "voltage within 1 pt (95% CI)", "clean acc % (seeds, 95% CI)",
                        "flips to break (seeds, 95% CI)"],
                       rows),  # fmt: skip
        "",
        "The CI is a paired percentile bootstrap (2000 resamples, seed 0): training seeds, then the chips "
        "of each drawn seed, the same indices for every quantizer (chip c has the same faults in every "
        "model). The technology band is the saving recomputed, from the same sweep, on the preset's BER "
        "curve moved by ±1 standard error of its fitted mu and sigma (and, for `chandramoorthy14`, on the "
        "other second-point assumption of its `[fit]`): the accuracy is read at the faulty-cell rate the "
        "other curve gives each voltage; — where the preset's fit allows none (a table preset, or a curve "
        "through exactly two points with no stated alternative). Clean accuracy and flips to break: "
        "Student-t CIs over seeds "
        "(none with one seed); a censored seed counts with its lower bound (≥).",
        "",
    ]
    if top.get("wcat_minus_maxabs_saving_1pt") is not None:
        diff = top["wcat_minus_maxabs_saving_1pt"]
        lines += [f"WCAT − maxabs, saving within 1 pt, paired: {100 * diff:+.1f} points, 95% CI "
                  f"{interval(top.get('wcat_minus_maxabs_saving_1pt_ci'), 100.0, ' points')}."]  # fmt: skip
        for key, label in (("clean_acc", "clean accuracy"), ("flips_to_break", "flips to break")):
            if top.get(f"wcat_minus_maxabs_{key}") is not None:
                lines[-1] += (f" {label}: {top[f'wcat_minus_maxabs_{key}']:+.2f}, 95% CI "
                              f"{interval(top.get(f'wcat_minus_maxabs_{key}_ci'), 1.0, '', 2)}.")  # fmt: skip
        lines += [""]
    return lines


def write_demo_report(
    out_dir: str | Path,
    models: Mapping[str, Mapping[str, Any]],
    settings: Mapping[str, Any],
    figures: Mapping[str, Path],
    technology: Mapping[str, Any] | None = None,
    missing: Sequence[str] = (),
) -> Path:
    """Write ``out_dir/report.md`` for ``wcatsim demo``; return its path.

    ``models[name]`` holds ``summary`` (the model's entry of ``summary.json``, with
    the iso-accuracy results under ``iso_1pt`` / ``iso_0.1pt``), ``train`` (its
    training ``summary.json``), ``random_flip`` and ``sweep`` (CSV rows), ``bfa``
    (``bfa_summary.json``) and ``run_dir``. ``figures`` maps a figure key to its PNG.
    ``missing`` lists the stages that could not run (said at the top of the report).
    """
    out_dir = Path(out_dir)
    tech = dict(technology or {})
    parts = ["# wcatsim demo: how far can the weight SRAM's voltage go down?", ""]
    parts += [_settings_paragraph(settings, tech), ""]
    if missing:
        parts += ["**Incomplete run.** These stages did not run: " + "; ".join(missing) + ".", ""]

    parts += ["## Headline: iso-accuracy energy saving and flips-to-break", ""]
    head_rows = []
    for name, m in models.items():
        s = m.get("summary", {})
        head_rows.append(
            [
                name,
                fmt_acc(s.get("clean_acc")),
                fmt_saving(s.get("iso_1pt"), tech.get("voltage_unit")),
                fmt_saving(s.get("iso_0.1pt"), tech.get("voltage_unit")),
                fmt_flips(m.get("bfa")),
                _random_baseline(m.get("bfa")),
            ]
        )
    parts += [
        markdown_table(
            [
                "quantizer",
                "clean acc %",
                "energy saving within 1 pt",
                "within 0.1 pt",
                "BFA flips to break",
                "acc % after as many random flips",
            ],
            head_rows,
        ),
        "",
        _meaning_paragraph(models, settings, tech),
        "",
    ]
    parts += uncertainty_section(models, settings.get("uncertainty_top") or {})
    if "pareto" in figures:
        parts += [
            figure(
                figures["pareto"],
                "Accuracy vs energy per inference: points and Pareto fronts "
                "(★ iso-accuracy point at 1 pt; hollow ★: bounded by the sweep)",
                out_dir,
            ),
            "",
        ]

    parts += ["## Random bit errors (transient, every stored bit flips with probability BER)", ""]
    flips = {n: m["random_flip"] for n, m in models.items() if m.get("random_flip")}
    if flips:
        parts += [random_flip_table(flips), "", RANDOM_FLIP_CAPTION, ""]
    if "accuracy_vs_ber" in figures:
        parts += [
            figure(figures["accuracy_vs_ber"], "Accuracy vs bit error rate, mean and 95% CI band", out_dir),
            "",
        ]

    parts += [
        f"## Voltage scaling on `{tech.get('name', settings.get('preset', '?'))}` "
        "(persistent per-chip fault maps, nested across voltages)",
        "",
    ]
    sweeps = {n: m["sweep"] for n, m in models.items() if m.get("sweep")}
    if sweeps:
        meaning = tech.get("ber_meaning")
        parts += [sweep_table(sweeps, meaning), "", sweep_caption(meaning), ""]
    for key in sorted(k for k in figures if k.startswith("accuracy_energy_vs_voltage")):
        label = key.removeprefix("accuracy_energy_vs_voltage").strip("_") or "all models"
        parts += [
            figure(figures[key], f"Accuracy (mean, 95% CI) and energy vs supply voltage: {label}", out_dir),
            "",
        ]

    from wcatsim.analysis.report.tables import buffer_section, plan_section, protection_section

    parts += protection_section(models, int(settings.get("bits", 4)), unit=tech.get("voltage_unit"))
    parts += buffer_section(models, tech.get("voltage_unit"))
    parts += plan_section(models, figures, out_dir, tech.get("voltage_unit"))

    parts += ["## Bit-Flip Attack (progressive bit search, Rakin et al. ICCV 2019)", ""]
    bfas = {n: m["bfa"] for n, m in models.items() if m.get("bfa")}
    if bfas:
        parts += [bfa_table(bfas), ""]
        defended = {n: b for n, b in bfas.items() if "detected_flips" in b}
        if defended:
            parts += [defence_table(defended), ""]
    for name in models:
        if f"bfa_{name}" in figures:
            caption = f"{name}: test accuracy vs number of flipped bits, every trial (dashed: stop threshold)"
            parts += [figure(figures[f"bfa_{name}"], caption, out_dir), ""]

    parts += ["## Weights and learned ranges", ""]
    for name, m in models.items():
        layers = (m.get("train") or {}).get("layers") or {}
        if layers:
            parts += [f"**{name}**", "", layer_table(layers), ""]
        key = f"weights_{name}"
        if key in figures:
            parts += [
                figure(
                    figures[key],
                    f"{name}: per-layer weights with the range in use, and integer codes",
                    out_dir,
                ),
                "",
            ]

    parts += ["## Where the numbers come from", "", _sources_paragraph(settings, tech), ""]
    stages = settings.get("stage_seconds") or {}
    if stages:
        parts += [
            "## Run time",
            "",
            "Per stage and model, when it last ran (a reused stage keeps the time of the run that made it). "
            "CPU time is this process's, all threads; wall time above CPU time means the cores were shared.",
            "",
            markdown_table(
                ["stage", "wall s", "CPU s"],
                [
                    [key, *(fmt_acc(x, 1) for x in (list(v) if isinstance(v, (list, tuple)) else [v, None]))]
                    for key, v in stages.items()
                ],
            ),  # fmt: skip
            "",
        ]
    parts += ["## Files", ""]
    for name, m in models.items():
        if m.get("run_dir"):
            rel = os.path.relpath(Path(m["run_dir"]), out_dir).replace(os.sep, "/")
            parts.append(
                f"- `{rel}/`: {name} run (config.toml, checkpoint.pt, random_flip.csv, "
                "sweep_voltage.csv and sweep_voltage_SCHEME.csv per protection scheme, "
                "plan_voltage.json/.csv, bfa_flips.csv, bfa_summary.json)"
            )
    parts += [
        "- `pareto.csv`: every sweep point with `on_front` (mean accuracy vs normalised energy)",
        "- `summary.json`: the headline numbers per quantizer; `demo.json`: settings and stage timings",
        "",
    ]
    path = out_dir / REPORT_FILE
    atomic_write_text(path, "\n".join(parts).rstrip() + "\n")
    return path


def _settings_paragraph(settings: Mapping[str, Any], tech: Mapping[str, Any]) -> str:
    mode = "quick (reduced) run" if settings.get("quick") else "full run"
    bers = ", ".join(fmt_ber(b) for b in settings.get("bers", []))
    volts = settings.get("voltages") or []
    unit = voltage_label(tech.get("voltage_unit"))
    vtext = f"{min(volts):.2f}–{max(volts):.2f} {unit} ({len(volts)} voltages)" if volts else "—"
    lines = [
        f"A {mode} of `wcatsim demo`"
        + _wall_text(settings)
        + f": {settings.get('bits', 4)}-bit `{settings.get('model', '?')}` models on "
        f"`{settings.get('dataset', '?')}` ({settings.get('test_images', '?')} test images), "
        f"trained for {settings.get('epochs', '?')} epochs with "
        f"each quantizer ({', '.join(settings.get('quantizers', []))}), otherwise identical"
        + _seeds_text(settings) + ".",
        f"Random flips: BER ∈ {{{bers}}}, {settings.get('samples', '?')} realisations each. "
        f"Voltage sweep: `{tech.get('name', settings.get('preset', '?'))}`, {vtext}, "
        f"{settings.get('chips', '?')} simulated chips. "
        f"BFA: {settings.get('bfa_trials', '?')} trial(s), k_top {settings.get('bfa_k_top', '?')}, "
        f"budget {settings.get('bfa_max_flips', '?')} flips. All accuracies in percent.",
    ]
    return "\n".join(lines)


def _seeds_text(settings: Mapping[str, Any]) -> str:
    seeds = int(settings.get("seeds") or 1)
    if seeds <= 1:
        return ""
    return (f", with {seeds} training seeds each (trainer.seed 0..{seeds - 1}; seeds beyond 0 run only the "
            "voltage sweep and BFA: random flips, protection sweeps and the plan are seed 0's)")  # fmt: skip


def _meaning_paragraph(
    models: Mapping[str, Mapping[str, Any]], settings: Mapping[str, Any], tech: Mapping[str, Any]
) -> str:
    text = (
        "**What this means.** The *iso-accuracy energy saving* is how much energy per inference the "
        "weight SRAM saves at the cheapest supply voltage among those where the model's mean accuracy over "
        "simulated chips (and its accuracy at every higher swept voltage) stays within 1 (or 0.1) point of "
        "its clean accuracy, against operating at nominal voltage (with leakage over a slower clock, the "
        "cheapest need not be the lowest). A larger saving means the model tolerates more of the bit "
        "errors that low voltage causes. “Bounded by the sweep” means the lowest voltage swept still "
        "qualifies: the true saving is at least that. *Flips to break* is how many adversarially chosen bit "
        "flips the Bit-Flip Attack needs to bring test accuracy down to the stop threshold (always answering "
        "the most frequent class, plus 1/C): the median over trials, by Kaplan–Meier with the trials that "
        "did not break counted as surviving at least their flips (“≥ k” wherever a count is such a lower "
        "bound); the last column shows that the same number of random flips "
        "barely matters, so the attack is not luck. WCAT's claim (Chitsaz et al., TMLR 2023) is that "
        "learned, small quantization ranges make both numbers larger than max-abs quantization at the same "
        "bit width."
    )
    saves = {n: m.get("summary", {}).get("iso_1pt") for n, m in models.items()}
    if all(saves.values()) and len(saves) > 1:
        values = {n: round(100 * float(v["saving"]), 1) for n, v in saves.items()}
        text += (
            f" In this run the largest 1-point saving ({max(values.values()):.1f}%) is {_leaders(values)}."
        )
    medians = {n: _median_or_bound(m.get("bfa")) for n, m in models.items()}
    if all(v is not None for v in medians.values()) and len(medians) > 1:
        values = {n: v[0] for n, v in medians.items() if v is not None}
        top = max(values.values())
        bounded = any(medians[n][1] for n, v in values.items() if v == top)  # type: ignore[index]
        text += f" The most flips to break (median {'≥ ' if bounded else ''}{top}): {_leaders(values, False)}"
        if bounded:
            text += (" — a lower bound, since half the trials or more spent their budget or stalled without "
                     "breaking the model")  # fmt: skip
        text += "."
    if settings.get("quick"):
        text += (
            " This is a quick run (few epochs, realisations, chips and one short attack): its numbers "
            "show the pipeline works, not the paper's effect sizes; run `wcatsim demo` without `--quick`."
        )
    return text


def _sources_paragraph(settings: Mapping[str, Any], tech: Mapping[str, Any]) -> str:
    lines = []
    if tech:
        lines.append(
            f"- **SRAM technology `{tech.get('name')}`** ({tech.get('node', '?')}): "
            f"{str(tech.get('source', '?')).rstrip('.')}. "
            f"Nominal voltage {tech.get('v_nominal', '?')}; the BER at each swept voltage is the preset's "
            + ("faulty-cell probability (a faulty cell is stuck at 0 or 1: about half of them change a read)"
               if tech.get("ber_meaning", "faulty_cell") == "faulty_cell"
               else "probability that a bit of random data reads wrong (twice as many cells are faulty)")
            + "; `flip_rate` in the sweep table is the share of weight bits that did change. Energy is the "
            "total per inference (dynamic reads plus leakage over the inference time, the clock following "
            "the access time at each voltage, NVDLA nv_small's 32-bank weight buffer unless set) relative "
            "to the same image at nominal voltage; the iso-accuracy saving is 1 − the lowest energy among "
            "the qualifying voltages"
            + (
                "."
                if tech.get("has_absolute_energy")
                else "; this preset publishes no absolute energy, so only the normalised energy is reported."
            )
        )
    lines += [
        "- **BER list**: the WCAT paper's random-flip list (0 … 1e-2) extended with 2e-2, 3e-2 and 5e-2, "
        "since small models differ mostly above 1e-2.",
        "- **Quantizers**: maxabs (the original code's “normal”: step = max|w|/2^(N−1)), LSQ (Esser et al., "
        "ICLR 2020), WCAT (learned range α with its own weight decay; Chitsaz et al., TMLR 2023).",
        "- **BFA**: progressive bit search (Rakin et al., ICCV 2019) on the integer weight image, k_top and "
        "attack batch as in the original WCAT configuration; trials differ in their attack batch.",
        "- **Confidence intervals**: 95% Student-t intervals of the mean over realisations (random flips) "
        "or chips (voltage sweep).",
    ]
    return "\n".join(lines)


def _wall_text(settings: Mapping[str, Any]) -> str:
    """ ", 12.3 min wall time", or, when stages were reused, their own total and this invocation's time."""
    wall = settings.get("wall_time_s")
    if not wall:
        return ""
    if not settings.get("reused_stages"):
        return f", {wall / 60:.1f} min wall time"
    walls = [
        v[0] if isinstance(v, (list, tuple)) else v for v in (settings.get("stage_seconds") or {}).values()
    ]
    total = sum(float(w) for w in walls if w is not None)
    return (
        f", {total / 60:.1f} min of stage wall time when the stages ran "
        f"(this invocation: {wall / 60:.1f} min, reusing {settings['reused_stages']} finished stages; "
        "see Run time)"
    )


def _leaders(values: Mapping[str, float], possessive: bool = True) -> str:
    """The names sharing the largest value: "wcat's", or "maxabs and wcat (tied)"."""
    top = max(values.values())
    names = [n for n, v in values.items() if v == top]
    if len(names) == 1:
        return names[0] + ("'s" if possessive else "")
    return " and ".join(names) + " (tied)"


def _median_or_bound(bfa: Mapping[str, Any] | None) -> tuple[int, bool] | None:
    """The Kaplan–Meier median of flips to break and whether it is only a lower bound."""
    from wcatsim.stats.censoring import median_or_bound

    if not bfa or not bfa.get("flips_to_break"):
        return None
    median, bound = median_or_bound(bfa)
    if median is not None:
        return median, False
    return (bound, True) if bound is not None else None


def _random_baseline(bfa: Mapping[str, Any] | None) -> str:
    if not bfa or not bfa.get("random_baseline_acc"):
        return "—"
    vals = [float(x) for x in bfa["random_baseline_acc"]]
    return f"{sum(vals) / len(vals):.1f}"


def _mean_ci(r: Mapping[str, Any]) -> str:
    mean = fmt_acc(r.get("acc_mean"))
    lo, hi = r.get("ci_low"), r.get("ci_high")
    text = mean
    if lo not in (None, "") and hi not in (None, ""):
        text += f" [{fmt_acc(lo, 1)}, {fmt_acc(hi, 1)}]"
    if r.get("realisations") not in (None, ""):
        text += f" (n={r['realisations']})"
    # the lower tail beside the mean (issue 17 §6; wcatsim.stats.tails): absent in tables made before it
    p05, share = r.get("acc_p05"), r.get("collapsed_share")
    if p05 not in (None, ""):
        text += f"; p05 {fmt_acc(p05, 1)}"
    if share not in (None, ""):
        text += f"; collapsed {100 * float(share):.0f}%"
    return text


