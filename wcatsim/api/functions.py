"""The experiments on a model given in Python, each returning a ``pandas.DataFrame``.

Every function builds the bundle once (:func:`wcatsim.api.bundle.model_run`) and calls the experiment's
own function with it: :func:`~wcatsim.experiments.sweeps.sweep.random_flip_sweep`,
:func:`~wcatsim.experiments.sweeps.sweep.voltage_sweep`, :func:`~wcatsim.experiments.attacks.bfa.run_bfa`
and :func:`~wcatsim.experiments.plan.planner.plan_voltage`, so the numbers are the command line's (same
seeds, same common random numbers).  Without ``path`` nothing is written (the result store holds the
table in memory); with it, the files the command writes go there (a table, or a folder for the attack
and the plan), resumed and kept aside as the command's are.

Units: accuracies (``acc_*``, ``ci_*``, ``clean_acc``, ``accuracy``) are percent of test images;
``ber``, ``flip_rate``, ``energy_norm``, ``leakage_share`` and ``collapsed_share`` are fractions; ``voltage``
is in the preset's unit (``attrs["settings"]["technology"]``); energies are in pJ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wcatsim.api.bundle import model_run
from wcatsim.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from wcatsim.train.runs import LoadedRun

# Per-trial values of a BFA summary that are not one value per trial, or repeat another column.
_NOT_PER_TRIAL = ("bits", "widening_log", "random_baseline_flips")


@contextmanager
def _bundle(model: Any, data: Any, **options: Any) -> Iterator[tuple[LoadedRun, Path | None]]:
    """Yield the run of ``model`` (:func:`model_run`) without a directory, and the run directory it came from.

    A run directory is read, never written into: files go only where ``path`` says.  An ``nn.Module``
    goes back to its training mode afterwards.
    """
    import dataclasses

    training = getattr(model, "training", None) if not isinstance(model, (str, Path)) else None
    try:
        run = model_run(model, data, **options)
        yield dataclasses.replace(run, dir=None, source=run.dir), run.dir
    finally:
        if isinstance(training, bool):  # an nn.Module: model_run put it in eval mode
            model.train(training)


def _identity(run: LoadedRun, source: Path | None) -> dict[str, Any]:
    """Return what a frame's ``attrs`` say of the model and data (never the default config's names)."""
    return {
        "model": run.model_name,
        "dataset": run.data.name,
        "quant_method": run.config.quant.method,
        "bits": run.config.quant.bits,
        "run_dir": None if source is None else str(source),  # the run directory it was read from
    }


def frame(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Return ``rows`` as a DataFrame, columns in table order; a numeric column with gaps is float (NaN).

    Parameters
    ----------
    rows : sequence of dict
        One dict per row (a sweep's rows: empty cells are None).
    columns : sequence of str, optional
        The column order (default: the first row's keys).

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    columns = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    df = pd.DataFrame.from_records([dict(r) for r in rows], columns=columns)
    for name in df.columns:
        values = df[name].tolist()
        numeric = all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values)
        if df[name].dtype == object and values and numeric:
            df[name] = df[name].astype("float64")  # a CI of one chip, an energy without absolute figures
    return df


def _config(run: LoadedRun, source: Path | None) -> Any:
    """Return the config a written sidecar records: a run directory's own; none for a model (defaults)."""
    return run.config if source is not None else None


def _sweep_frame(rows: Any, run: LoadedRun, source: Path | None, per_realisation: bool) -> pd.DataFrame:
    df = frame(rows.realisations) if per_realisation else frame(rows)
    df.attrs = {
        "kind": rows.settings.get("kind"),
        **_identity(run, source),
        "fingerprint": rows.fingerprint,
        "settings": rows.settings,
        "test_data": rows.meta.get("test_data"),
        "path": None if rows.path is None else str(rows.path),
        "rows": "realisations" if per_realisation else "points",
    }
    return df


def random_flip(
    model: Any,
    data: Any = None,
    bers: Sequence[float] | None = None,
    *,
    samples: int = 50,
    seed: int = 0,
    fault: str = "transient",
    name: str | None = None,
    data_name: str | None = None,
    path: str | Path | None = None,
    per_realisation: bool = False,
    calibration_data: Any = None,
    device: str | None = None,
    progress: bool = True,
    on_row: Callable[[dict[str, Any], bool], None] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Measure accuracy under random bit errors at each BER: ``wcatsim random-flip`` in Python.

    Parameters
    ----------
    model : nn.Module, LoadedRun, str or Path
        A model quantized by :func:`wcatsim.quantize`, or a run (:func:`model_run`).
    data : DataLoader, Dataset or (x, y), optional
        The test set (not with a run).
    bers : sequence of float, optional
        Bit error rates (default: the paper's list, ``attack.random_flip.bers``).
    samples : int
        Realisations per BER (the paper's 50).
    seed : int
        Base seed: realisation i at BER p draws from (seed, p, i), so two models with one seed see the
        same faults (common random numbers).
    fault : str
        A fault model of ``sram_models.FAULT_MODELS``.
    name : str, optional
        The model's name in ``attrs`` and in a written sidecar (default: its class name).
    data_name : str, optional
        The data's name there (default: the loader's dataset class name, or ``"tensors"``).
    path : str or Path, optional
        Write the table there (``random_flip.csv``-style, with its sidecar); default: nothing written.
    per_realisation : bool
        Return one row per realisation (``ber, realisation, seed, accuracy, bits_changed, ...``)
        instead of one per BER.
    calibration_data : DataLoader, Dataset or (x, y), optional
        With ``activations=`` an :class:`~wcatsim.config.ActivationSpec` that stores the activations
        (target ``activations`` or ``both``): the images its ranges are calibrated on, never the test set
        (:func:`~wcatsim.api.model_run`).  A run directory brings its own training split.
    device : str, optional
        Where the model runs (default: where it is).
    progress : bool
        A progress bar (``tqdm.auto``) on a terminal or in a notebook; none in a log.
    on_row : callable, optional
        ``on_row(row, resumed)`` as each BER ends.
    **options
        Any other keyword of :func:`~wcatsim.experiments.sweeps.sweep.random_flip_sweep`
        (``ci_half_width``, ``protect``, ``word_bits``, ``layers``, ``images``, ``eval_images``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per BER (``ber, flip_rate, realisations, acc_mean, acc_std, ..., ci_low, ci_high,
        clean_acc``); ``attrs``: kind, model, dataset, quant_method, bits, fingerprint, settings,
        test_data, path.
    """
    from wcatsim.config.schema import RandomFlipConfig
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep

    bers = RandomFlipConfig().bers if bers is None else bers
    with _bundle(model, data, name=name, data_name=data_name, device=device,
                 calibration_data=calibration_data) as (run, source):
        rows = random_flip_sweep(
            run, bers, samples=samples, seed=seed, fault=fault, out=path, per_realisation=per_realisation,
            progress=progress, on_row=on_row, device=str(run.device),
            config=_config(run, source), **options,
        )  # fmt: skip
        return _sweep_frame(rows, run, source, per_realisation)


def sweep_voltage(
    model: Any,
    data: Any = None,
    technology: Any = None,
    voltages: Sequence[float] | None = None,
    *,
    chips: int = 20,
    seed: int = 0,
    fault: str = "chip",
    name: str | None = None,
    data_name: str | None = None,
    path: str | Path | None = None,
    per_realisation: bool = False,
    calibration_data: Any = None,
    device: str | None = None,
    progress: bool = True,
    on_row: Callable[[dict[str, Any], bool], None] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Measure accuracy and energy per inference at each supply voltage: ``sweep-voltage`` in Python.

    Parameters
    ----------
    model, data, name, data_name, path, device, progress, on_row
        As in :func:`random_flip`.
    technology : str, Path or sram_models.Technology, optional
        An SRAM technology preset, preset file or object (default: ``attack.sweep.preset``,
        chandramoorthy14).
    voltages : sequence of float, optional
        Supply voltages in the preset's unit (default: the preset's grid,
        :func:`wcatsim.experiments.plan.planner.default_grid`: 0.75..1.0 step 0.01 on chandramoorthy14).
    chips : int
        Simulated chips, each swept across every voltage (nested fault maps).
    seed : int
        Base seed of the chips.
    fault : str
        ``"chip"`` (persistent, nested) or another fault model of ``sram_models.FAULT_MODELS``.
    per_realisation : bool
        One row per chip and voltage instead of one per voltage.
    calibration_data : DataLoader, Dataset or (x, y), optional
        As in :func:`random_flip` (with ``activations=``).
    **options
        Any other keyword of :func:`~wcatsim.experiments.sweeps.sweep.voltage_sweep` (``protect``,
        ``word_bits``, ``banks``, ``fault_map``, ``images``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per voltage, highest first (``voltage, ber, flip_rate, energy_per_inference_pj,
        energy_norm, ..., acc_mean, ci_low, ci_high, clean_acc``); ``attrs`` as in :func:`random_flip`.
    """
    from sram_models import Technology, load_technology
    from wcatsim.config.schema import SweepConfig
    from wcatsim.experiments.plan.planner import default_grid
    from wcatsim.experiments.sweeps.sweep import voltage_sweep

    technology = SweepConfig().preset if technology is None else technology
    if voltages is None and options.get("fault_map") is None:
        tech = technology if isinstance(technology, Technology) else load_technology(str(technology))
        voltages = default_grid(tech)
    with _bundle(model, data, name=name, data_name=data_name, device=device,
                 calibration_data=calibration_data) as (run, source):
        rows = voltage_sweep(
            run, technology, voltages, chips=chips, seed=seed, fault=fault, out=path,
            per_realisation=per_realisation, progress=progress, on_row=on_row, device=str(run.device),
            config=_config(run, source),
            **options,
        )  # fmt: skip
        return _sweep_frame(rows, run, source, per_realisation)


def bit_flip_attack(
    model: Any,
    data: Any = None,
    attack_data: Any = None,
    *,
    trials: int | None = None,
    seed: int | None = None,
    name: str | None = None,
    data_name: str | None = None,
    path: str | Path | None = None,
    per_flip: bool = False,
    device: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Attack the model with the Bit-Flip Attack, trial by trial: ``wcatsim bfa`` in Python.

    Parameters
    ----------
    model, data, name, data_name, device, progress
        As in :func:`random_flip`.
    attack_data : DataLoader, Dataset or (x, y)
        Images each trial draws its attack batch from, never the test set (e.g. the training set);
        needed with a model (a run uses its validation split).
    trials : int, optional
        Attack trials (default: ``attack.bfa.trials``).
    seed : int, optional
        Seed of the attack batches and the random baseline (default: ``attack.bfa.seed``).
    path : str or Path, optional
        A folder to write ``bfa_flips.csv`` and ``bfa_summary.json`` into; default: nothing written.
    per_flip : bool
        Return one row per committed flip (``trial, iteration, flip, layer, index, bit, code_before,
        code_after, loss, acc, ...``) instead of one per trial.
    log : callable, optional
        Receives the attack's progress lines.
    **options
        Any other keyword of :func:`~wcatsim.experiments.attacks.bfa.run_bfa` (``k_top``, ``max_flips``,
        ``max_iterations``, ``attack_batch``, ``threshold``, ``eval_images``, ``objective``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per trial (``trial, flips_to_break, status, broken, ..., final_acc,
        random_baseline_acc``); ``attrs``: the identity, ``summary`` (what ``bfa_summary.json`` holds
        but the per-trial lists: the median flips to break, the clean accuracy, every setting) and
        ``path``.
    """
    from wcatsim.experiments.attacks.bfa import FLIP_COLUMNS, run_bfa

    is_run = isinstance(model, (str, Path)) or not hasattr(model, "parameters")
    if attack_data is None and not is_run:
        raise InputError("the attack draws its batches from attack_data= (e.g. the training set), never from "
                         "the test set: give attack_data")
    with _bundle(model, data, attack_data=attack_data, name=name, data_name=data_name,
                 device=device) as (run, source):
        result = run_bfa(run, trials=trials, seed=seed, out_dir=path, write=path is not None,
                         progress=progress, log=log, **options)  # fmt: skip
    summary = result.summary
    n = summary["trials"]
    per_trial = [key for key, value in summary.items()
                 if isinstance(value, list) and len(value) == n and key not in _NOT_PER_TRIAL]  # fmt: skip
    if per_flip:
        rows = [row for trial in result.trials for row in trial.rows]
        extra = [key for key in (rows[0] if rows else {}) if key not in FLIP_COLUMNS]
        df = frame(rows, FLIP_COLUMNS + extra)
    else:
        df = frame([{"trial": i, **{key: summary[key][i] for key in per_trial}} for i in range(n)])
    df.attrs = {
        "kind": "bfa",
        **_identity(run, source),
        "summary": {key: value for key, value in summary.items() if key not in per_trial},
        "path": None if result.summary_path is None else str(result.summary_path.parent),
        "rows": "flips" if per_flip else "trials",
    }
    return df


def voltage_plan(
    model: Any,
    data: Any = None,
    technology: Any = None,
    voltages: Sequence[float] | None = None,
    *,
    domains: str | Path = "layer",
    name: str | None = None,
    data_name: str | None = None,
    path: str | Path | None = None,
    sensitivity: bool = False,
    activations: Any = None,
    calibration_data: Any = None,
    device: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    **settings: Any,
) -> pd.DataFrame:
    """Plan one supply voltage per domain of layers, least energy within a budget: ``plan-voltage``.

    Parameters
    ----------
    model, data, name, data_name, device, progress
        As in :func:`random_flip`.
    technology : str, Path or sram_models.Technology, optional
        The SRAM technology (default: ``attack.sweep.preset``, chandramoorthy14).
    voltages : sequence of float, optional
        The allowed grid (default: the preset's, :func:`~wcatsim.experiments.plan.planner.default_grid`).
    domains : str or Path
        ``"layer"`` (one domain per layer) or a domains TOML file.
    path : str or Path, optional
        A folder for ``plan_voltage.json``, ``plan_voltage.csv`` and the sensitivity table; default:
        nothing written.
    sensitivity : bool
        Return the sensitivity curves (one row per domain and voltage: ``domain, voltage, chips,
        acc_mean, ci_low, ci_high, loss, energy_norm, acc_std_between, images_per_realisation``) instead
        of the plan.
    activations : wcatsim.config.ActivationSpec, optional
        The activation buffer (``plan-voltage --target``): target ``both`` adds it as a domain of its own
        (``activations``), target ``activations`` plans it alone with the weights fault-free at nominal;
        None (or target weights) plans the weights' domains alone.
    calibration_data : DataLoader, Dataset or (x, y), optional
        As in :func:`random_flip` (with ``activations=``).
    log : callable, optional
        Receives the planner's progress lines.
    **settings
        Fields of :class:`~wcatsim.experiments.plan.planner.PlanSettings` (``budget`` in accuracy
        points, ``metric``, ``planning_chips``, ``verification_chips``, ``protect``, ``seed``, ``images``:
        the sensitivity curves' images per planning chip, ...).

    Returns
    -------
    pandas.DataFrame
        One row per domain (``name, weights, voltage, energy_share, energy_norm, layers``); ``attrs``: the
        identity, ``plan`` (what ``plan_voltage.json`` holds: verified accuracy, the uniform baseline,
        ``saving_over_uniform``, every setting) and ``path``.
    """
    from wcatsim.config.schema import SweepConfig
    from wcatsim.experiments.plan.planner import (
        PLAN_CSV_COLUMNS,
        SENSITIVITY_COLUMNS,
        PlanSettings,
        plan_voltage,
    )

    technology = SweepConfig().preset if technology is None else technology
    plan_settings = PlanSettings(**settings)
    with _bundle(model, data, name=name, data_name=data_name, device=device,
                 calibration_data=calibration_data) as (run, source):
        plan = plan_voltage(run, technology, voltages, domains=domains, settings=plan_settings, out_dir=path,
                            progress=progress, log=log, device=str(run.device),
                            activations=activations)  # fmt: skip
    if sensitivity:
        df = frame(plan.sensitivity, SENSITIVITY_COLUMNS)
    else:
        df = frame(plan.domain_rows(), PLAN_CSV_COLUMNS)
    df.attrs = {
        "kind": "plan_voltage",
        **_identity(run, source),
        "plan": plan.to_json(),
        "path": None if path is None else str(path),
        "rows": "sensitivity" if sensitivity else "domains",
    }
    return df


__all__ = ["bit_flip_attack", "frame", "random_flip", "sweep_voltage", "voltage_plan"]
