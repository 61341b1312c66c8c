"""``wcatsim savings``: the 1-point saving of every model on every preset, with its CI and band.

For each preset, every run's sweep table on it is found (:func:`wcatsim.analysis.savings.preset_table`);
a run without one is swept now through :func:`wcatsim.experiments.sweeps.sweep.voltage_sweep` into
``sweep_voltage_<preset>.csv`` with per-chip rows, on the same chips (count and fault seed) and voltages
as the preset's tables that exist, so every run sees the same faults (common random numbers) and the
bootstrap pairs them.  The table (:mod:`wcatsim.analysis.savings`) is printed and written, CSV and JSON,
atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sram_models.errors import InputError

# 26 voltages: the demo's grid on chandramoorthy14 (0.75..1.0 x Vmin in steps of 0.01), used on every
# preset's own range v_low..v_nominal where no stored table gives the grid.
DEFAULT_POINTS = 26


@dataclass
class SavingsResult:
    """What :func:`preset_savings_table` found and wrote."""

    presets: list[dict[str, Any]]  # wcatsim.analysis.savings.preset_savings of each preset
    rows: list[dict[str, Any]]  # every preset's rows (SAVINGS_COLUMNS)
    swept: list[Path]  # the tables swept now
    csv: Path | None
    json: Path | None


def _sweep_plan(
    tables: Sequence[Path], tech: Any, points: int, chips: int | None, seed: int | None,
    fallback: Sequence[Path],
) -> tuple[list[float], int, int]:  # fmt: skip
    """Voltages, chips and fault seed of the sweeps to run: those of the preset's stored tables, else
    the chips and seed of the runs' own sweeps (``fallback``), else ``chips``/``seed`` or the defaults."""
    from wcatsim.analysis.savings import table_settings, voltage_grid
    from wcatsim.config import SweepConfig
    from wcatsim.store.columns import read_table as read_csv  # old or new column names

    stored = [t for t in tables if t.is_file()]
    if stored:
        settings = table_settings(stored[0])
        volts = sorted({float(r["voltage"]) for r in read_csv(stored[0])})
        for flag, mine, theirs in (("--chips", chips, settings.get("chips")),
                                   ("--seed", seed, settings.get("seed"))):
            if mine is not None and theirs is not None and mine != theirs:
                raise InputError(
                    f"{flag} {mine}: the stored {tech.name} table {stored[0]} used {theirs}; the bootstrap "
                    f"pairs the same chips in every run: drop {flag}"
                )
        return volts, int(settings.get("chips") or chips or SweepConfig().chips), int(settings.get("seed", 0))
    own = [table_settings(f) for f in fallback if f.is_file()]
    own = [s for s in own if s.get("chips") is not None]
    default = SweepConfig()
    use_chips = chips if chips is not None else (own[0]["chips"] if own else default.chips)
    use_seed = seed if seed is not None else (own[0].get("seed", default.seed) if own else default.seed)
    return voltage_grid(tech, points), int(use_chips), int(use_seed)


def preset_savings_table(
    inputs: Iterable[str | Path],
    presets: Sequence[str],
    *,
    points: int = DEFAULT_POINTS,
    chips: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    device: str = "auto",
    progress: bool = False,
    say: Callable[[str], None] | None = None,
    budget: float = 1.0,
    resamples: int | None = None,
    allow_degenerate: bool = False,
) -> SavingsResult:
    """The 1-point saving of every quantizer on every preset, sweeping what the runs lack.

    Parameters
    ----------
    inputs : iterable of path
        Run directories, or folders of them (a demo's output directory).
    presets : sequence of str
        Technology presets (names or preset files).
    points : int
        Voltages of a sweep on a preset no run has a table of: ``points`` from its ``v_low`` to nominal.
    chips, seed : int, optional
        Chips and fault seed of such a sweep; default those of the runs' own ``sweep_voltage.csv``,
        else ``attack.sweep.chips`` / ``attack.sweep.seed``.  A value that differs from a stored table
        of the same preset is refused (the bootstrap pairs chips across runs).
    out : path, optional
        The CSV to write (``.json`` beside it); None writes nothing.
    device : str
        Torch device of the sweeps.
    progress : bool
        Show the sweeps' progress bars.
    say : callable, optional
        Receives one line per sweep run.
    budget : float
        Accuracy points below clean.
    resamples : int, optional
        Bootstrap resamples (default :data:`wcatsim.analysis.uncertainty.RESAMPLES`).
    allow_degenerate : bool
        Sweep a model at chance too (:func:`wcatsim.train.health.check_run`); refused otherwise.

    Returns
    -------
    SavingsResult
    """
    from sram_models import load_technology
    from wcatsim.analysis.savings import (
        SAVINGS_COLUMNS,
        SAVINGS_UNITS,
        find_runs,
        group_runs,
        preset_savings,
        preset_table,
    )
    from wcatsim.analysis.uncertainty import BOOTSTRAP_SEED, RESAMPLES, SWEEP_FILE
    from wcatsim.store.atomic import atomic_write_csv, atomic_write_json

    if not presets:
        raise InputError("no preset given: name one or more in `option.presets` (e.g. chandramoorthy14)")
    techs = [load_technology(p) for p in presets]  # an unknown name: one line listing the presets
    groups = group_runs(find_runs(inputs))
    say = say or (lambda text: None)
    resamples = RESAMPLES if resamples is None else resamples
    results, swept = [], []
    for preset, tech in zip(presets, techs, strict=True):
        tables = {q: [preset_table(d, tech.name) for d in dirs] for q, dirs in groups.items()}
        flat = [t for ts in tables.values() for t in ts]
        todo = [t for t in flat if not (t.is_file() and t.with_name(t.stem + "_realisations.csv").is_file())]
        if todo:
            runs = [d for dirs in groups.values() for d in dirs]
            voltages, n_chips, fault_seed = _sweep_plan(
                [t for t in flat if t not in todo], tech, points, chips, seed, [d / SWEEP_FILE for d in runs])
            from wcatsim.experiments.sweeps.sweep import voltage_sweep
            from wcatsim.train.health import check_run
            from wcatsim.train.runs import load_run

            for table in todo:
                say(f"sweeping {table.parent.name} on {tech.name}: {len(voltages)} voltages x {n_chips} "
                    f"chips (fault seed {fault_seed}) -> {table.name}")
                run = load_run(table.parent, device=device)
                check_run(run, allow_degenerate)
                voltage_sweep(run, preset, voltages, chips=n_chips, seed=fault_seed, out=table,
                              per_realisation=True, progress=progress, device=device, config=run.config)
                swept.append(table)
        results.append(preset_savings(groups, preset, tables, budget=budget, resamples=resamples,
                                      seed=BOOTSTRAP_SEED))  # fmt: skip
    rows = [r for res in results for r in res["rows"]]
    csv_path = json_path = None
    if out is not None:
        csv_path = Path(out)
        json_path = csv_path.with_suffix(".json")
        atomic_write_csv(csv_path, SAVINGS_COLUMNS, rows)
        atomic_write_json(json_path, {
            "budget": budget, "resamples": resamples, "bootstrap_seed": BOOTSTRAP_SEED,
            "confidence": 0.95, "units": SAVINGS_UNITS,
            "presets": {res["preset"]: {k: v for k, v in res.items() if k != "rows"} for res in results},
            "rows": rows,
        })  # fmt: skip
    return SavingsResult(results, rows, swept, csv_path, json_path)
