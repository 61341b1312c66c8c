"""Uncertainty of the demo's headline numbers: chips, training seeds and the technology (issue 17 §3).

For each quantizer, trained with ``seeds`` training seeds (seed s of every quantizer shares
``trainer.seed = s``) and swept on the same chips (common random numbers):

- the 1-point iso-accuracy saving: the mean over seeds, a paired two-level bootstrap CI over seeds and
  chips (:func:`wcatsim.analysis.pareto.bootstrap_iso_savings`), and the technology band (the saving
  recomputed over the preset's parameter uncertainty, :func:`wcatsim.analysis.pareto.band_parameters`);
- clean accuracy and flips-to-break: the mean over seeds with its Student-t CI (None with one seed);
- WCAT − maxabs of all three, paired by seed (the saving also by chip).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wcatsim.analysis.pareto import (
    band_parameters,
    bootstrap_iso_savings,
    iso_accuracy_saving,
    reinterpreted_rows,
    technology_band,
)
from wcatsim.store.atomic import read_json_object
from wcatsim.store.columns import read_table

SWEEP_FILE = "sweep_voltage.csv"
REALISATION_FILE = "sweep_voltage_realisations.csv"
BUDGET = 1.0  # the headline budget, accuracy points
# 2000 resamples (wcatsim.stats.bootstrap.DEFAULT_RESAMPLES); seed 0: the demo's tables are reproducible
RESAMPLES = 2000
BOOTSTRAP_SEED = 0


def flips_of(bfa: Mapping[str, Any]) -> tuple[float | None, bool]:
    """One seed's flips to break: the Kaplan-Meier median, else its lower bound (censored: True)."""
    from wcatsim.stats.censoring import median_or_bound

    if not bfa:
        return None, False
    median, bound = median_or_bound(bfa)
    if median is not None:
        return float(median), False
    return (None, False) if bound is None else (float(bound), True)


def mean_ci(values: Sequence[float]) -> tuple[float | None, list[float] | None]:
    """Mean and Student-t 95% CI over seeds; CI None with one value (no spread to estimate)."""
    from wcatsim.stats.bootstrap import t_interval

    if not values:
        return None, None
    ci = t_interval(values)
    return float(np.mean(values)), (None if ci is None else list(ci))


def seed_uncertainty(
    run_dirs: Mapping[str, Sequence[Path]],
    preset: str,
    budget: float = BUDGET,
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    sweep_paths: Mapping[str, Sequence[Path]] | None = None,
) -> dict[str, Any]:
    """The uncertainty keys of the demo's ``summary.json``.

    Parameters
    ----------
    run_dirs : mapping
        Quantizer -> its run directories, one per training seed in seed order; each holds
        ``sweep_voltage.csv`` with ``sweep_voltage_realisations.csv`` and ``bfa_summary.json``.
    preset : str
        The sweep's technology preset (its ``[fit]`` gives the band).
    budget : float
        Accuracy points below clean.
    resamples, seed : int
        Of the bootstrap.
    sweep_paths : mapping, optional
        Quantizer -> the sweep table (CSV) of each of its run directories, in the same order; its
        per-chip rows lie beside it (``NAME_realisations.csv``).  Default: each run directory's
        ``sweep_voltage.csv`` (``wcatsim savings`` passes the table of another preset).

    Returns
    -------
    dict
        ``{"per_model": {q: {...}}, "top": {...}}``: per quantizer ``saving_1pt`` (fraction),
        ``saving_1pt_ci`` and ``saving_1pt_band`` ([low, high] or None), ``seeds``, ``voltage_1pt`` and
        ``voltage_1pt_ci`` (the iso-accuracy voltage, seed mean, bootstrap CI), ``seed_values`` (per
        seed: clean accuracy %, saving, flips to break, censored), ``clean_acc_seeds_mean`` /
        ``_ci``, ``flips_to_break_seeds_mean`` / ``_ci`` / ``_censored``; at top level
        ``wcat_minus_maxabs_saving_1pt`` with ``_ci`` and the same for ``clean_acc`` and
        ``flips_to_break`` (where both quantizers ran).
    """
    from sram_models.technology.fit import load_fit
    from wcatsim.stats.bootstrap import percentile_interval

    pairs = band_parameters(load_fit(preset))
    if len(pairs) < 2:  # the fitted curve alone (no standard error, no alternative): no band, not a point
        pairs = []
    sweeps: dict[str, list[tuple[list, list]]] = {}
    per_model: dict[str, dict[str, Any]] = {}
    values: dict[str, dict[str, list]] = {}
    for q, dirs in run_dirs.items():
        tables = [Path(t) for t in sweep_paths[q]] if sweep_paths is not None else [
            Path(d) / SWEEP_FILE for d in dirs]  # fmt: skip
        rows = [(read_table(t), read_table(t.with_name(t.stem + "_realisations.csv"))) for t in tables]
        if not all(sweep and real for sweep, real in rows):
            continue  # a sweep without its per-chip rows: no CI for this model
        sweeps[q] = rows
        isos = [iso_accuracy_saving(sweep, budget) for sweep, _ in rows]
        saving = [iso.saving for iso in isos]
        clean = [float(sweep[0]["clean_acc"]) for sweep, _ in rows]
        flips = [flips_of(read_json_object(Path(d) / "bfa_summary.json")) for d in dirs]
        band = None
        if pairs:  # the seed-mean saving under each parameter pair: its lowest and highest
            per_pair = [np.mean([technology_band(sweep, [p], budget)[0] for sweep, _ in rows]) for p in pairs]
            band = [float(min(per_pair)), float(max(per_pair))]
        known = [f for f, _ in flips if f is not None]
        clean_mean, clean_ci = mean_ci(clean)
        flips_mean, flips_ci = mean_ci(known) if len(known) == len(flips) else (None, None)
        per_model[q] = {
            "saving_1pt": float(np.mean(saving)),
            "saving_1pt_band": band,
            "seeds": len(dirs),
            "voltage_1pt": float(np.mean([iso.voltage for iso in isos])),  # the preset's unit
            "seed_values": [{"clean_acc": c, "saving_1pt": s, "flips_to_break": f, "censored": cens}
                            for c, s, (f, cens) in zip(clean, saving, flips, strict=True)],  # fmt: skip
            "clean_acc_seeds_mean": clean_mean,
            "clean_acc_seeds_ci": clean_ci,
            "flips_to_break_seeds_mean": flips_mean,
            "flips_to_break_seeds_ci": flips_ci,
            # a censored seed's count is its lower bound: the mean and CI are then lower bounds too
            "flips_to_break_seeds_censored": any(cens for _, cens in flips),
        }
        values[q] = {"saving": saving, "clean": clean, "flips": [f for f, _ in flips]}
    top: dict[str, Any] = {}
    if sweeps:
        draws = bootstrap_iso_savings(sweeps, budget, resamples=resamples, seed=seed)
        volts = bootstrap_iso_savings(sweeps, budget, resamples=resamples, seed=seed, quantity="voltage")
        for q, d in draws.items():
            per_model[q]["saving_1pt_ci"] = list(percentile_interval(d))
            per_model[q]["voltage_1pt_ci"] = list(percentile_interval(volts[q]))
        if "wcat" in draws and "maxabs" in draws:
            wcat, maxabs = per_model["wcat"]["saving_1pt"], per_model["maxabs"]["saving_1pt"]
            top["wcat_minus_maxabs_saving_1pt"] = wcat - maxabs
            paired = draws["wcat"] - draws["maxabs"]  # the same seeds and chips in every resample
            top["wcat_minus_maxabs_saving_1pt_ci"] = list(percentile_interval(paired))
            for key in ("clean", "flips"):
                a, b = values["wcat"][key], values["maxabs"][key]
                name = "clean_acc" if key == "clean" else "flips_to_break"
                censored = key == "flips" and (per_model["wcat"]["flips_to_break_seeds_censored"]
                                               or per_model["maxabs"]["flips_to_break_seeds_censored"])
                # a difference of two lower bounds bounds nothing: none where a seed did not break
                if not censored and all(x is not None for x in a + b):
                    mean, ci = mean_ci([x - y for x, y in zip(a, b, strict=True)])
                    top[f"wcat_minus_maxabs_{name}"], top[f"wcat_minus_maxabs_{name}_ci"] = mean, ci
    # the order of the documented keys first
    ordered = {q: {"saving_1pt": e["saving_1pt"], "saving_1pt_ci": e.get("saving_1pt_ci"),
                   "saving_1pt_band": e["saving_1pt_band"], "seeds": e["seeds"],
                   **{k: v for k, v in e.items() if k not in ("saving_1pt", "saving_1pt_band", "seeds")}}
               for q, e in per_model.items()}  # fmt: skip
    return {"per_model": ordered, "top": top}


def band_curve(
    sweep_rows: Sequence[Mapping[str, Any]], pairs: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Energy and the lowest and highest mean accuracy at each voltage over the parameter pairs.

    Parameters
    ----------
    sweep_rows : sequence of mapping
        The sweep (see :func:`wcatsim.analysis.pareto.reinterpreted_rows`).
    pairs : sequence of (mu, sigma)
        The band's parameters; empty gives None.

    Returns
    -------
    tuple of ndarray or None
        ``(energy_norm, acc_low, acc_high)`` in ascending voltage: the Pareto figure's shaded band; NaN
        at a voltage where some pair's faulty-cell rate lies beyond the sweep's highest.
    """
    if not pairs:
        return None
    curves = [reinterpreted_rows(sweep_rows, mu, sigma) for mu, sigma in pairs]
    energy = np.array([r["energy_norm"] for r in curves[0]])
    # a rate beyond the sweep's highest has no accuracy to read: left out of the shade (NaN), not drawn at 0
    acc = np.array([[r["acc_mean"] if r["measured"] else np.nan for r in c] for c in curves])
    known = ~np.isnan(acc).any(axis=0)
    low = np.where(known, np.nanmin(np.where(np.isnan(acc), np.inf, acc), axis=0), np.nan)
    high = np.where(known, np.nanmax(np.where(np.isnan(acc), -np.inf, acc), axis=0), np.nan)
    return energy, low, high
