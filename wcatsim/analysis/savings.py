"""The 1-point iso-accuracy saving of each model on each technology preset, with its CI and band.

Issue 17 asks, for each preset, "the saving of the demo's three models at 1 point with CI and band".
This module reads it from stored voltage sweeps; :mod:`wcatsim.pipelines.savings` runs the sweeps a run
lacks and writes the table.  Per preset and quantizer (its training seeds grouped, seed s of every
quantizer with ``trainer.seed = s``, as the demo groups them):

- ``saving_1pt``: the 1-point iso-accuracy saving, mean over seeds (a fraction: 0.25 = 25% less energy
  per inference than at nominal);
- ``saving_1pt_ci``: its 95% percentile bootstrap CI over seeds and chips, paired across quantizers
  (:func:`wcatsim.analysis.uncertainty.seed_uncertainty`, the demo's own computation);
- ``saving_1pt_band``: the technology band, the saving recomputed over the preset's parameter
  uncertainty (:func:`wcatsim.analysis.pareto.band_parameters`), or none, with the reason
  (:func:`band_basis`): a table preset has no fitted parameter, and a curve exactly determined by
  two points without a stated alternative has no spread to recompute over.

Which table holds a preset's sweep of a run (:func:`preset_table`): the run's ``sweep_voltage.csv``
where its sidecar says it is that preset's unprotected sweep with per-chip rows, else
``sweep_voltage_<preset>.csv`` beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sram_models.errors import InputError
from wcatsim.analysis.pareto import band_parameters, iso_accuracy_saving
from wcatsim.analysis.uncertainty import BOOTSTRAP_SEED, BUDGET, RESAMPLES, SWEEP_FILE, seed_uncertainty
from wcatsim.store.atomic import read_json_object, read_toml_file
from wcatsim.store.columns import read_table as read_csv  # result tables under old or new column names

# Columns of savings.csv, with their units (also in savings.json's "units").
SAVINGS_UNITS: dict[str, str] = {
    "preset": "technology preset",
    "quantizer": "quantization method (its training seeds grouped)",
    "seeds": "training seeds (runs) averaged",
    "chips": "simulated chips per voltage (the same fault seeds in every run)",
    "budget": "accuracy points below clean",
    "clean_acc": "percent, mean over seeds",
    "voltage_1pt": "the preset's voltage unit (voltage_unit), mean over seeds",
    "voltage_1pt_ci_low": "as voltage_1pt, 95% bootstrap CI over seeds and chips",
    "voltage_1pt_ci_high": "as voltage_1pt_ci_low",
    "voltage_unit": "V or Vmin",
    "saving_1pt": "fraction of the energy per inference at nominal, mean over seeds",
    "saving_1pt_ci_low": "fraction, 95% paired bootstrap CI over seeds and chips",
    "saving_1pt_ci_high": "fraction, as saving_1pt_ci_low",
    "saving_1pt_band_low": "fraction, technology band (empty: none, see band_basis)",
    "saving_1pt_band_high": "fraction, as saving_1pt_band_low",
    "band_basis": "what the band is recomputed over, or 'none: ' and why",
    "bounded_seeds": "seeds whose lowest swept voltage qualifies (their saving is a lower bound)",
}
SAVINGS_COLUMNS = tuple(SAVINGS_UNITS)


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """The trained run directories named by ``paths``.

    Parameters
    ----------
    paths : iterable of path
        Each a run directory (it holds ``config.toml``), or a folder of them: a demo's output directory
        (its runs are under ``runs/``) or a ``runs/`` folder itself.

    Returns
    -------
    list of Path
        Every run directory once, in the order given (a folder's runs sorted by name).
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if (path / "config.toml").is_file():
            runs = [path]
        else:
            runs = sorted(p.parent for folder in (path, path / "runs") if folder.is_dir()
                          for p in folder.glob("*/config.toml"))  # fmt: skip
            if not runs:
                raise InputError(
                    f"{path}: no run directory there (a run holds config.toml; a demo's runs are under "
                    "runs/): give run directories or a demo's output directory"
                )
        found += [r for r in runs if r not in found]
    return found


def _identity(run_dir: Path) -> tuple[str, str, str, Any, int]:
    """(model, dataset, quantizer, bits, training seed) of a run, from its resolved ``config.toml``."""
    cfg = read_toml_file(run_dir / "config.toml")
    quant, trainer = cfg.get("quant", {}), cfg.get("trainer", {})
    model, data = cfg.get("model", {}), cfg.get("data", {})
    if not quant.get("method"):
        raise InputError(f"{run_dir}/config.toml names no quant.method: is it a wcatsim run directory?")
    return (str(model.get("name")), str(data.get("name")), str(quant["method"]), quant.get("bits"),
            int(trainer.get("seed", 0)))  # fmt: skip


def group_runs(run_dirs: Sequence[Path]) -> dict[str, list[Path]]:
    """Runs grouped by quantizer, each group in training-seed order, as the demo groups them.

    Parameters
    ----------
    run_dirs : sequence of Path
        Trained run directories (:func:`find_runs`).

    Returns
    -------
    dict
        Group name -> its run directories by ``trainer.seed``.  The name is the quantization method
        (``wcat``) when every run has the same model, dataset and bit width, else
        ``model-dataset-method<bits>``.

    Raises
    ------
    InputError
        Two runs of one group with the same training seed (which one to use is ambiguous), or groups
        with different sets of seeds (the bootstrap pairs seed s of every quantizer).
    """
    ids = {d: _identity(d) for d in run_dirs}
    same = len({(m, ds, b) for m, ds, _, b, _ in ids.values()}) <= 1
    groups: dict[str, dict[int, Path]] = {}
    for d, (model, dataset, method, bits, seed) in ids.items():
        name = method if same else f"{model}-{dataset}-{method}{bits}"
        seen = groups.setdefault(name, {})
        if seed in seen:
            raise InputError(
                f"{seen[seed]} and {d} are both {name} with trainer.seed = {seed}: name the run "
                "directories to compare one by one"
            )
        seen[seed] = d
    seed_sets = {name: sorted(by_seed) for name, by_seed in groups.items()}
    if len({tuple(s) for s in seed_sets.values()}) > 1:
        listed = "; ".join(f"{n}: {s}" for n, s in seed_sets.items())
        raise InputError(
            f"the quantizers have different training seeds ({listed}); the paired bootstrap needs seed s "
            "of every quantizer: give the same seeds of each"
        )
    return {name: [by_seed[s] for s in sorted(by_seed)] for name, by_seed in groups.items()}


def preset_table(run_dir: Path, preset: str) -> Path:
    """The sweep table of ``run_dir`` on ``preset`` (which may not exist yet).

    Parameters
    ----------
    run_dir : Path
        A run directory.
    preset : str
        The technology's name.

    Returns
    -------
    Path
        ``sweep_voltage.csv`` where its sidecar says it is an unprotected sweep on ``preset`` with its
        per-chip rows beside it; else ``sweep_voltage_<preset>.csv`` (where ``wcatsim savings`` writes
        the sweep it runs, so the run's own table is never replaced).
    """
    main = run_dir / SWEEP_FILE
    settings = read_json_object(main.with_suffix(".json")).get("settings", {})
    realisations = main.with_name(main.stem + "_realisations.csv")
    if (main.is_file() and realisations.is_file() and settings.get("preset") == preset
            and settings.get("protect", "none") in ("none", None)):  # fmt: skip
        return main
    return run_dir / f"sweep_voltage_{preset}.csv"


def table_settings(table: Path) -> dict[str, Any]:
    """The settings a sweep table was made with (its sidecar's ``settings``; empty when absent)."""
    return dict(read_json_object(table.with_suffix(".json")).get("settings", {}))


def band_basis(fit: Any) -> str:
    """What a preset's technology band is recomputed over, or ``"none: "`` and why.

    Parameters
    ----------
    fit : sram_models.technology.fit.CurveFit or None
        The preset's ``[fit]`` section.

    Returns
    -------
    str
        ``"the fitted curve and mu and sigma at ±1 standard error (...)"``, ``"the fitted curve and the
        alternative its [fit] states (mu = ..., sigma = ...)"`` (``chandramoorthy14``'s other
        second-point assumption), or ``"none: "`` followed by the fit's own uncertainty text (a table
        preset, or a curve through exactly two points without a stated alternative).
    """
    if fit is None:
        return "none: the preset has no [fit] section"
    pairs = band_parameters(fit)
    if len(pairs) < 2:
        return "none: " + (fit.uncertainty or f"a {fit.model} fit without stated uncertainty")
    parts = ["the fitted curve"]
    if fit.stderr:
        parts.append("mu and sigma at ±1 standard error (the fit's covariance)")
    alternatives = pairs[9 if fit.stderr else 1:]
    if alternatives:
        parts.append("the alternative its [fit] states ("
                     + "; ".join(f"mu = {m:g}, sigma = {s:g}" for m, s in alternatives) + ")")  # fmt: skip
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def preset_savings(
    groups: Mapping[str, Sequence[Path]],
    preset: str,
    tables: Mapping[str, Sequence[Path]],
    budget: float = BUDGET,
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """The saving of every quantizer on one preset, with its CI over seeds and chips and its band.

    Parameters
    ----------
    groups : mapping
        Quantizer -> its run directories in seed order (:func:`group_runs`).
    preset : str
        The technology preset (name or file) the tables were swept on.
    tables : mapping
        Quantizer -> the sweep table of each of its runs on ``preset`` (:func:`preset_table`), each with
        its per-chip rows; every table has the same voltages and chips (checked by the bootstrap).
    budget : float
        Accuracy points below clean.
    resamples, seed : int
        Of the bootstrap.

    Returns
    -------
    dict
        ``rows`` (one per quantizer, :data:`SAVINGS_COLUMNS`), ``per_model`` (the full
        :func:`wcatsim.analysis.uncertainty.seed_uncertainty` entry of each, with ``runs`` and
        ``tables``), ``band_basis``, ``voltage_unit``, ``voltages``, ``chips``, ``fault_seed``, and where
        both ran, ``wcat_minus_maxabs_saving_1pt`` with ``_ci`` (paired by seed and chip).
    """
    from sram_models import load_technology
    from sram_models.technology.fit import load_fit

    tech = load_technology(preset)
    missing = [str(t) for ts in tables.values() for t in ts if not (t.is_file() and t.with_name(
        t.stem + "_realisations.csv").is_file())]  # fmt: skip
    if missing:
        raise InputError(f"no sweep table with per-chip rows on {tech.name} at {missing[0]}: run "
                         "`wcatsim savings` to sweep it")  # fmt: skip
    found = seed_uncertainty(groups, preset, budget=budget, resamples=resamples, seed=seed,
                             sweep_paths=tables)  # fmt: skip
    basis = band_basis(load_fit(preset))
    first = next(iter(tables.values()))[0]
    settings = table_settings(first)
    voltages = sorted({float(r["voltage"]) for r in read_csv(first)})
    rows = []

    def num(value: Any, digits: int = 6) -> float | None:  # 1e-6 of a saving: below any reading of it
        return None if value is None else round(float(value), digits)

    for q, entry in found["per_model"].items():
        isos = [iso_accuracy_saving(read_csv(t), budget) for t in tables[q]]
        ci, vci, band = entry.get("saving_1pt_ci"), entry.get("voltage_1pt_ci"), entry.get("saving_1pt_band")
        rows.append({
            "preset": tech.name, "quantizer": q, "seeds": entry["seeds"], "chips": settings.get("chips"),
            "budget": budget, "clean_acc": num(entry["clean_acc_seeds_mean"], 4),
            "voltage_1pt": num(entry["voltage_1pt"]),
            "voltage_1pt_ci_low": num(vci[0]) if vci else None,
            "voltage_1pt_ci_high": num(vci[1]) if vci else None,
            "voltage_unit": tech.voltage_unit, "saving_1pt": num(entry["saving_1pt"]),
            "saving_1pt_ci_low": num(ci[0]) if ci else None, "saving_1pt_ci_high": num(ci[1]) if ci else None,
            "saving_1pt_band_low": num(band[0]) if band else None,
            "saving_1pt_band_high": num(band[1]) if band else None,
            "band_basis": basis, "bounded_seeds": sum(1 for iso in isos if iso.bounded_by_sweep),
        })  # fmt: skip
        entry["runs"] = [str(d) for d in groups[q]]
        entry["tables"] = [str(t) for t in tables[q]]
        # the energy saving only: the attack's numbers (from bfa_summary.json) belong to the demo
        for key in [k for k in entry if k.startswith("flips_to_break")]:
            del entry[key]
        entry["seed_values"] = [{k: v for k, v in s.items() if k in ("clean_acc", "saving_1pt")}
                                for s in entry["seed_values"]]  # fmt: skip
    return {
        "preset": tech.name, "voltage_unit": tech.voltage_unit, "band_basis": basis, "voltages": voltages,
        "chips": settings.get("chips"), "fault_seed": settings.get("seed"), "rows": rows,
        "per_model": found["per_model"],
        **{k: v for k, v in found["top"].items() if k.startswith("wcat_minus_maxabs_saving_1pt")},
    }  # fmt: skip


def format_savings(results: Sequence[Mapping[str, Any]]) -> str:
    """The per-preset table as aligned text, with the paired WCAT − maxabs difference under each preset.

    Parameters
    ----------
    results : sequence of mapping
        :func:`preset_savings` of each preset.
    """
    head = ["preset", "quantizer", "seeds", "chips", "V @1pt", "saving @1pt: mean [95% CI]",
            "technology band"]  # fmt: skip
    lines, notes = [head], []

    def pct(v: Any) -> str:
        return f"{100 * float(v):.1f}"

    for res in results:
        for r in res["rows"]:
            ci = (f" [{pct(r['saving_1pt_ci_low'])}, {pct(r['saving_1pt_ci_high'])}]"
                  if r["saving_1pt_ci_low"] is not None else "")  # fmt: skip
            bound = " (≥)" if r["bounded_seeds"] else ""
            band = (f"{pct(r['saving_1pt_band_low'])}..{pct(r['saving_1pt_band_high'])}%"
                    if r["saving_1pt_band_low"] is not None else "none")  # fmt: skip
            lines.append([r["preset"], r["quantizer"], str(r["seeds"]), str(r["chips"]),
                          f"{float(r['voltage_1pt']):.3f} {r['voltage_unit']}",
                          f"{pct(r['saving_1pt'])}%{ci}{bound}", band])  # fmt: skip
        diff = res.get("wcat_minus_maxabs_saving_1pt")
        if diff is not None:
            ci = res.get("wcat_minus_maxabs_saving_1pt_ci")
            notes.append(f"{res['preset']}: wcat − maxabs, saving @1pt (paired over chips and seeds): "
                         f"{pct(diff)}" + (f" [{pct(ci[0])}, {pct(ci[1])}]" if ci else "") + " points")
        basis = res["band_basis"]
        what = basis if basis.startswith("none") else f"over {basis}"
        notes.append(f"{res['preset']}: technology band {what}")
    if any(r["bounded_seeds"] for res in results for r in res["rows"]):
        notes.append("(≥): the lowest swept voltage qualifies for some seed: that saving is a lower bound")
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    text = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in lines]
    return "\n".join(text + notes)


def voltage_grid(tech: Any, points: int) -> list[float]:
    """``points`` voltages from the preset's lowest valid voltage up to nominal, both included.

    Parameters
    ----------
    tech : sram_models.Technology
        The preset.
    points : int
        How many (at least 2).  26 on ``chandramoorthy14`` (0.75..1.0 Vmin) is the demo's own grid.
    """
    if points < 2:
        raise InputError(f"`option.points` must be at least 2 (nominal and one below), got {points}")
    top = min(float(tech.v_nominal), float(tech.v_high))
    return [round(float(v), 6) for v in np.linspace(float(tech.v_low), top, points)]
