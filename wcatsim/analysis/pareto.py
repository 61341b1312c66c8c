"""Accuracy-versus-energy Pareto fronts and the iso-accuracy energy saving of voltage sweeps.

A voltage sweep (``sweep_voltage.csv``, written by :func:`wcatsim.experiments.sweeps.voltage_sweep`)
gives one operating point per supply voltage: total energy per inference normalised
to the nominal voltage, and accuracy over simulated chips (mean and the lower end of
its 95% confidence interval, in percent). This module answers the two questions a
hardware designer asks of it:

- which operating points are worth having at all (the Pareto front: lower energy
  and higher accuracy are better), and
- how low can the voltage go while the model stays within 1 (or 0.1) accuracy
  point of its clean accuracy, and what does that save (the iso-accuracy saving,
  the headline number of a sweep): 1 − (the lowest energy among the voltages that
  qualify) / nominal.  Once leakage over a longer access time counts, energy per
  inference need not fall monotonically with the voltage, so the best qualifying
  voltage is not always the lowest one.

Plain NumPy and the standard library: no torch, so the ``pareto`` command stays light.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sram_models.errors import InputError
from wcatsim.store.atomic import atomic_write_csv, read_json_object, read_toml_file
from wcatsim.store.columns import (
    IDENTITY_COLUMNS,
    read_table,
    standard_columns,
    standard_row,
    voltage_columns,
)

SWEEP_FILE = "sweep_voltage.csv"
# Accuracy budgets of the headline table, in accuracy points below clean accuracy:
# 1 point is the usual "no visible loss" criterion of the voltage-scaling literature
# (Chandramoorthy et al. 2019, Stutz et al. 2021); 0.1 point is a near-lossless one.
BUDGETS = (1.0, 0.1)
METRICS = ("mean", "ci_low")
# What each row of the two tables below is, in fields (the legend string `label` split up): the run
# directory's name, the architecture (`model_name`: `model` holds the legend for one more release, see
# docs/columns.md), quantizer, weight bits, dataset, SRAM preset, protection scheme and training seed.
PARETO_FIELDS = (
    "label", "run", "model_name", "quantizer", "bits", "dataset", "preset", "protect", "train_seed",
)  # fmt: skip
# Columns of the points table (``pareto.csv`` of the demo, FILE.csv of ``wcatsim pareto``); the old names
# (``model``: the legend, ``voltage`` in the preset's unit, ``acc_mean``, ``ci_low``, ...) last, for one
# release.  acc_p05 (percent) and collapsed_share (fraction of chips more than 10 points below clean): the
# lower tail beside the mean (issue 17 section 6, wcatsim.stats.tails); empty for a sweep made before them.
POINT_COLUMNS = (
    *PARETO_FIELDS,
    *standard_columns(("voltage", "energy_norm", "acc_mean", "ci_low", "acc_p05", "collapsed_share",
                       "on_front"), identity=False),
    "model",
)  # fmt: skip
# Columns of the iso-accuracy table (old names last, as above); acc_p05 and collapsed_share at the
# iso-accuracy voltage (empty where the sweep has no such column).
ISO_COLUMNS = (
    *PARETO_FIELDS,
    *standard_columns(
        ("clean_acc", "budget", "metric", "voltage", "energy_norm", "saving", "accuracy", "acc_p05",
         "collapsed_share", "bounded_by_sweep", "nominal_within_budget"),
        identity=False,
    ),
    "model",
)  # fmt: skip
# Accuracies are percentages read back from CSV text: a value exactly on the budget
# line must count as within it despite decimal round-off.
_TOLERANCE = 1e-9


def pareto_front(points: Any) -> np.ndarray:
    """Boolean mask of the points on the accuracy-versus-energy Pareto front.

    ``points`` is an ``(n, 2)`` array of ``(energy, accuracy)``; lower energy and
    higher accuracy are better. A point is on the front when no other point has
    lower-or-equal energy and higher-or-equal accuracy with at least one of the two
    strictly better. Identical points do not dominate each other, so duplicates on
    the front are all kept. O(n log n).
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise InputError(
            f"pareto_front: points must have shape (n, 2) of (energy, accuracy), got {pts.shape}"
        )
    if not np.all(np.isfinite(pts)):
        raise InputError("pareto_front: points contain NaN or infinity; drop unfinished sweep points first")
    n = len(pts)
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    energy, acc = pts[:, 0], pts[:, 1]
    # Walk energies upwards. Within one energy, only the best accuracy can survive
    # (a lower one is beaten at equal energy); that best survives unless a strictly
    # cheaper point is at least as accurate.
    order = np.lexsort((-acc, energy))
    best_cheaper = -math.inf  # best accuracy among strictly cheaper points
    i = 0
    while i < n:
        j = i
        while j < n and energy[order[j]] == energy[order[i]]:
            j += 1
        group = order[i:j]
        top = acc[group[0]]  # sorted by accuracy descending within the group
        if top > best_cheaper:
            mask[group[acc[group] == top]] = True
        best_cheaper = max(best_cheaper, top)
        i = j
    return mask


@dataclass(frozen=True)
class IsoAccuracy:
    """The lowest-energy voltage that keeps accuracy within ``budget`` points of clean.

    Scanning down from the nominal voltage, the qualifying voltages are those down to
    the lowest swept voltage at which the metric and the metric at every higher swept
    voltage (up to nominal) stay at or above ``clean_acc - budget`` (``lowest_voltage``);
    ``voltage`` is the one of them with the lowest energy (ties: the higher voltage),
    nominal included. When no lowered voltage qualifies, ``voltage`` is the nominal one
    and ``saving`` is 1 − its energy (0 unprotected, negative where check cells cost).
    """

    budget: float  # accuracy points below clean accuracy that are tolerated
    metric: str  # "mean" (acc_mean) or "ci_low" (lower end of the 95% CI of the mean)
    clean_acc: float  # fault-free accuracy of the model, percent
    nominal_voltage: float  # where the scan starts (energy_norm is relative to it)
    voltage: float  # the iso-accuracy voltage (nominal when nothing lower qualifies)
    energy_norm: float  # total energy per inference there, relative to nominal
    accuracy: float  # the metric at that voltage, percent
    nominal_within_budget: bool  # False: even the nominal point misses the budget
    bounded_by_sweep: bool  # True: the lowest swept voltage qualifies and has the lowest energy
    lowest_voltage: float | None = None  # the lowest qualifying voltage (None: as ``voltage``)

    @property
    def saving(self) -> float:
        """1 − (lowest energy among the qualifying voltages) / nominal (0.25 = 25% less energy).

        Negative when that point costs more than the unprotected image at nominal (a protection
        scheme's check cells, or 8T cells, can cost more than the voltage they allow saves): the
        true number, not clipped to 0 (issue 17 §5).  With ``nominal_within_budget`` False nothing
        qualifies and this is the nominal point's, for reference only.
        """
        return 1.0 - self.energy_norm


@dataclass
class Sweep:
    """One voltage sweep, sorted by voltage, with what it is (for legends and tables)."""

    label: str  # legend text: quantizer, bits, preset, ECC
    voltage: np.ndarray
    energy_norm: np.ndarray
    acc_mean: np.ndarray
    ci_low: np.ndarray
    clean_acc: float
    source: Path | None = None  # the CSV it was read from
    info: dict[str, Any] = field(default_factory=dict)  # quantizer, bits, preset, ecc, model, dataset
    # the lower tail per voltage (wcatsim.stats.tails): 5th percentile (percent) and collapsed share
    # (fraction); None, or NaN at a voltage, where the table has no such column
    acc_p05: np.ndarray | None = None
    collapsed_share: np.ndarray | None = None

    def tail_at(self, voltage: float) -> tuple[float | None, float | None]:
        """(acc_p05, collapsed_share) at a swept voltage; None where unknown."""
        hit = np.flatnonzero(np.abs(self.voltage - voltage) <= 1e-12)
        out = []
        for values in (self.acc_p05, self.collapsed_share):
            value = float(values[hit[0]]) if values is not None and len(hit) else math.nan
            out.append(None if math.isnan(value) else value)
        return out[0], out[1]

    def metric_values(self, metric: str) -> np.ndarray:
        _check_metric(metric)
        return self.acc_mean if metric == "mean" else self.ci_low

    def front(self, metric: str = "mean") -> np.ndarray:
        """Mask of this sweep's Pareto-optimal points (energy_norm vs the metric)."""
        return pareto_front(np.column_stack([self.energy_norm, self.metric_values(metric)]))

    def iso(self, budget: float, metric: str = "mean", v_nominal: float | None = None) -> IsoAccuracy:
        """The iso-accuracy point; nominal defaults to the technology's, when the sweep recorded it."""
        nominal = v_nominal if v_nominal is not None else self.info.get("v_nominal")
        return iso_accuracy_saving(self.rows(), budget, metric=metric, v_nominal=nominal)

    def rows(self) -> list[dict[str, float]]:
        return [
            {
                "voltage": float(v),
                "energy_norm": float(e),
                "acc_mean": float(a),
                "ci_low": float(c),
                "clean_acc": self.clean_acc,
            }
            for v, e, a, c in zip(self.voltage, self.energy_norm, self.acc_mean, self.ci_low, strict=True)
        ]


def iso_accuracy_saving(
    rows: Iterable[Mapping[str, Any]],
    budget: float,
    metric: str = "mean",
    v_nominal: float | None = None,
) -> IsoAccuracy:
    """The iso-accuracy operating point of one voltage sweep.

    ``rows`` are ``sweep_voltage.csv`` rows (strings or numbers) with at least
    ``voltage``, ``energy_norm``, ``acc_mean``, ``ci_low`` and ``clean_acc``.
    ``budget`` is in accuracy points (1.0 = one percentage point). ``metric`` is
    ``"mean"`` (the mean accuracy over chips) or ``"ci_low"`` (the lower end of its
    95% CI: a conservative reading that also charges for too few chips).
    ``v_nominal`` defaults to the swept voltage whose ``energy_norm`` is 1 (the
    sweep's normalisation point), else the highest swept voltage. Voltages above
    nominal are not lowered voltages and are ignored. When the nominal voltage is
    given but not swept, the highest swept voltage below it counts as lowered (its
    energy is already relative to nominal); if nothing qualifies, ``accuracy`` is
    the metric at the highest swept voltage.

    The result is the qualifying voltage with the lowest ``energy_norm`` (the nominal
    point counts, at energy 1 when it was not swept): saving = 1 − that energy.

    Edge cases: no lowered voltage within budget -> the nominal point (saving 1 − its swept
    energy: 0 unprotected, negative for a scheme whose cells cost; 0 when nominal was not swept);
    the nominal point itself outside the budget -> also the nominal point, with
    ``nominal_within_budget`` False; the lowest swept voltage within budget and the cheapest ->
    ``bounded_by_sweep``
    (a lower voltage might qualify and save more; extend the sweep). A dip below budget at some voltage
    ends the scan there even if a lower voltage recovers (every higher voltage must
    stay within budget: a chip is not operated at a voltage whose neighbour above is
    worse).
    """
    _check_metric(metric)
    if not (isinstance(budget, (int, float)) and math.isfinite(budget) and budget >= 0):
        raise InputError(f"iso_accuracy_saving: budget must be >= 0 accuracy points, got {budget!r}")
    table = _rows_to_arrays(list(rows), "iso_accuracy_saving")
    voltage, energy = table["voltage"], table["energy_norm"]
    values = table["acc_mean"] if metric == "mean" else table["ci_low"]
    clean = table["clean_acc"]

    if v_nominal is None:
        at_one = np.flatnonzero(np.abs(energy - 1.0) <= 1e-6)
        v_nominal = float(voltage[at_one[-1]]) if len(at_one) else float(voltage[-1])
    candidates = np.flatnonzero(voltage <= v_nominal + 1e-12)
    if len(candidates) == 0:
        raise InputError(
            f"iso_accuracy_saving: no swept voltage is at or below nominal {v_nominal} V; "
            "sweep down from the nominal voltage"
        )
    threshold = clean - budget - _TOLERANCE
    chosen = None  # index of the lowest voltage reached by the scan
    for idx in candidates[::-1]:  # from nominal downwards
        if values[idx] >= threshold:
            chosen = idx
        else:
            break
    lowest = int(candidates[0])
    nominal_idx = int(candidates[-1])
    nominal_ok = chosen is not None
    if chosen is None or voltage[chosen] >= v_nominal - 1e-12:
        # Nothing lowered qualifies: stay at nominal (its swept energy; 1 when not swept).
        at_nominal = abs(voltage[nominal_idx] - v_nominal) <= 1e-12
        return IsoAccuracy(
            budget=float(budget),
            metric=metric,
            clean_acc=clean,
            nominal_voltage=float(v_nominal),
            voltage=float(v_nominal),
            energy_norm=float(energy[nominal_idx]) if at_nominal else 1.0,
            accuracy=float(values[nominal_idx]),
            nominal_within_budget=nominal_ok,
            bounded_by_sweep=bool(nominal_ok and nominal_idx == lowest),
        )
    # Among the qualifying voltages (chosen .. nominal), the cheapest; the nominal point at energy 1
    # when it was not swept. Ties go to the higher voltage (same energy, more margin).
    qualifying = [int(i) for i in candidates if voltage[i] >= voltage[chosen] - 1e-12]
    best = min(qualifying[::-1], key=lambda i: energy[i])
    if abs(voltage[nominal_idx] - v_nominal) > 1e-12 and energy[best] > 1.0:
        return IsoAccuracy(
            budget=float(budget), metric=metric, clean_acc=clean, nominal_voltage=float(v_nominal),
            voltage=float(v_nominal), energy_norm=1.0, accuracy=float(values[nominal_idx]),
            nominal_within_budget=True, bounded_by_sweep=False, lowest_voltage=float(voltage[chosen]),
        )  # fmt: skip
    return IsoAccuracy(
        budget=float(budget),
        metric=metric,
        clean_acc=clean,
        nominal_voltage=float(v_nominal),
        voltage=float(voltage[best]),
        energy_norm=float(energy[best]),
        accuracy=float(values[best]),
        nominal_within_budget=True,
        bounded_by_sweep=bool(chosen == lowest and best == lowest),
        lowest_voltage=float(voltage[chosen]),
    )


def load_sweep(path: str | Path, label: str | None = None) -> Sweep:
    """Read a voltage sweep from a run directory (its ``sweep_voltage.csv``) or a CSV path."""
    path = Path(path)
    csv_path = path / SWEEP_FILE if path.is_dir() else path
    if not csv_path.exists():
        where = f"run directory {path}" if path.is_dir() else str(path)
        raise InputError(
            f"no voltage sweep in {where}: run `wcatsim sweep-voltage --run {path}` first "
            f"(it writes {SWEEP_FILE})"
        )
    rows = read_table(csv_path)  # old or new column names
    if not rows:
        raise InputError(f"{csv_path} has no rows: rerun `wcatsim sweep-voltage` to finish the sweep")
    table = _rows_to_arrays(rows, str(csv_path))
    info = describe_run(csv_path.parent, csv_path)
    own = {k: rows[0][k] for k in IDENTITY_COLUMNS if rows[0].get(k) not in (None, "")}
    if own:  # the table names its run (wcatsim.store.columns): that beats the folder it lies in
        info.update(own, **({"bits": int(own["bits"])} if "bits" in own else {}))
        info["label"] = run_label(info, fallback=csv_path.parent.name)
    return Sweep(
        label=label or info["label"],
        voltage=table["voltage"],
        energy_norm=table["energy_norm"],
        acc_mean=table["acc_mean"],
        ci_low=table["ci_low"],
        clean_acc=table["clean_acc"],
        source=csv_path,
        info=info,
        acc_p05=table["acc_p05"],
        collapsed_share=table["collapsed_share"],
    )


def describe_run(run_dir: Path, sweep_csv: Path | None = None) -> dict[str, Any]:
    """What a sweep is, for its legend: quantizer, bits, preset, ECC (best effort, never fails).

    The quantizer and bit width come from the run's ``summary.json`` (written by
    ``wcatsim train``); the preset and ECC from the sweep's own metadata beside its
    CSV when the sweep wrote one, else from the run's resolved ``config.toml``.
    """
    info: dict[str, Any] = {"quantizer": None, "bits": None, "preset": None, "ecc": None, "model": None,
                            "protect": None}  # fmt: skip
    summary = read_json_object(run_dir / "summary.json")
    for key in ("quantizer", "bits", "model", "dataset"):
        if summary.get(key) is not None:
            info[key] = summary[key]
    config = read_toml_file(run_dir / "config.toml")
    quant = config.get("quant", {}) if isinstance(config.get("quant"), dict) else {}
    info["quantizer"] = info["quantizer"] or quant.get("method")
    info["bits"] = info["bits"] or quant.get("bits")
    for key, section, name in (("model", "model", "name"), ("dataset", "data", "name"),
                               ("train_seed", "trainer", "seed")):  # fmt: skip
        if info.get(key) is None and isinstance(config.get(section), dict):
            info[key] = config[section].get(name)
    info["run"] = run_dir.name
    sweep_cfg = config.get("attack", {}).get("sweep", {}) if isinstance(config.get("attack"), dict) else {}
    meta = _sweep_metadata(sweep_csv) if sweep_csv is not None else {}
    info["preset"] = meta.get("preset") or sweep_cfg.get("preset")
    info["ecc"] = meta.get("ecc") or sweep_cfg.get("ecc")
    info["protect"] = meta.get("protect") or sweep_cfg.get("protect")  # h7: the protection scheme
    info["fault_map_chip"] = meta.get("fault_map_chip")  # h7: a measured chip's sweep
    info["v_nominal"] = meta.get("v_nominal")  # the technology's nominal voltage, as the sweep recorded it
    info["technology"] = meta.get("technology")  # its unit and v_min: the tables' voltage_v, voltage_norm
    info["label"] = run_label(info, fallback=run_dir.name)
    return info


def run_label(info: Mapping[str, Any], fallback: str = "run") -> str:
    """``"wcat 4-bit, chandramoorthy14, ECC off"`` from what is known of a run."""
    parts = []
    if info.get("quantizer"):
        bits = info.get("bits")
        parts.append(f"{info['quantizer']} {bits}-bit" if bits else str(info["quantizer"]))
    if info.get("preset"):
        parts.append(str(info["preset"]))
    ecc, protect = info.get("ecc"), info.get("protect")
    if protect is not None and str(protect).lower() not in ("none", "", "secded"):
        parts.append(str(protect))  # h7: the protection scheme by name (--protect)
    elif ecc is not None or protect is not None:
        code = ecc if ecc is not None else protect
        parts.append("ECC off" if str(code).lower() in ("none", "off", "false", "") else f"ECC {code}")
    if info.get("fault_map_chip"):
        parts.append(f"measured chip {info['fault_map_chip']}")
    return ", ".join(parts) if parts else fallback


def unique_labels(sweeps: Sequence[Sweep]) -> None:
    """Make legend labels distinct (same quantizer and preset in two run dirs): append the source."""
    seen: dict[str, int] = {}
    for s in sweeps:
        seen[s.label] = seen.get(s.label, 0) + 1
    for s in sweeps:
        if seen[s.label] > 1 and s.source is not None:
            s.label = f"{s.label} [{s.source.parent.name}/{s.source.name}]"


def iso_table(
    sweeps: Sequence[Sweep], metric: str = "mean", budgets: Sequence[float] = BUDGETS
) -> list[dict]:
    """One row per sweep and budget: the iso-accuracy voltage, energy and saving."""
    rows = []
    for s in sweeps:
        fields = sweep_fields(s)
        convert = _voltage_converter(s)
        for b in budgets:
            iso = s.iso(b, metric)
            rows.append(
                {
                    **fields,
                    "model": s.label,
                    "clean_acc": round(s.clean_acc, 4),
                    "budget": b,
                    "metric": metric,
                    "voltage": iso.voltage,
                    "energy_norm": round(iso.energy_norm, 6),
                    "saving": round(iso.saving, 6),
                    "accuracy": round(iso.accuracy, 4),
                    **dict(zip(("acc_p05", "collapsed_share"), s.tail_at(iso.voltage), strict=True)),
                    "bounded_by_sweep": iso.bounded_by_sweep,
                    "nominal_within_budget": iso.nominal_within_budget,
                }
            )
            rows[-1] = standard_row(rows[-1], voltage=convert)  # under the new names too
    return rows


def point_rows(
    sweeps: Sequence[Sweep], metric: str = "mean", names: Sequence[str] | None = None
) -> list[dict]:
    """Every operating point with its front membership (``POINT_COLUMNS``)."""
    rows = []
    for k, s in enumerate(sweeps):
        on_front = s.front(metric)
        name = names[k] if names is not None else s.label
        fields = {**sweep_fields(s), "label": name}
        convert = _voltage_converter(s)
        for i in range(len(s.voltage)):
            rows.append(
                {
                    **fields,
                    "model": name,
                    "voltage": float(s.voltage[i]),
                    "energy_norm": float(s.energy_norm[i]),
                    "acc_mean": float(s.acc_mean[i]),
                    "ci_low": float(s.ci_low[i]),
                    **dict(zip(("acc_p05", "collapsed_share"), s.tail_at(float(s.voltage[i])), strict=True)),
                    "on_front": bool(on_front[i]),
                }
            )
            rows[-1] = standard_row(rows[-1], voltage=convert)  # under the new names too
    return rows


def sweep_fields(sweep: Sweep) -> dict[str, Any]:
    """The fields of a sweep's legend as columns (:data:`PARETO_FIELDS`): run, model_name, quantizer, ...

    Parameters
    ----------
    sweep : Sweep
        A sweep read by :func:`load_sweep` (its ``info`` holds what :func:`describe_run` found).
    """
    info = sweep.info
    protect = info.get("protect")
    if protect is None and info.get("ecc") is not None:
        protect = info["ecc"]
    return {
        "label": sweep.label, "run": info.get("run"), "model_name": info.get("model"),
        "quantizer": info.get("quantizer"), "bits": info.get("bits"), "dataset": info.get("dataset"),
        "preset": info.get("preset"), "protect": protect, "train_seed": info.get("train_seed"),
    }  # fmt: skip


def _voltage_converter(sweep: Sweep) -> Any:
    tech = sweep.info.get("technology")
    if not (isinstance(tech, Mapping) and tech.get("v_min")) and sweep.info.get("preset"):
        # a sweep without its sidecar: the preset it names gives the unit and v_min (best effort)
        from sram_models import load_technology

        try:
            tech = load_technology(str(sweep.info["preset"])).describe()
        except (InputError, OSError):
            return None
    return voltage_columns(tech) if isinstance(tech, Mapping) and tech.get("v_min") else None


def write_points_csv(
    path: str | Path, sweeps: Sequence[Sweep], metric: str = "mean", names: Sequence[str] | None = None
) -> Path:
    path = Path(path)
    atomic_write_csv(path, POINT_COLUMNS, point_rows(sweeps, metric, names))
    return path


def format_iso_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The iso-accuracy table as aligned text, one line per model (both budgets side by side)."""
    by_model: dict[str, dict[float, Mapping[str, Any]]] = {}
    clean: dict[str, float] = {}
    for r in rows:
        by_model.setdefault(r["model"], {})[float(r["budget"])] = r
        clean[r["model"]] = float(r["clean_acc"])
    budgets = sorted({float(r["budget"]) for r in rows}, reverse=True)
    head = ["model", "clean acc %"]
    for b in budgets:
        tag = f"{b:g}pt"
        head += [f"V @{tag}", f"E/E_nom @{tag}", f"saving @{tag}"]
    lines = [head]
    notes = []
    for model, per in by_model.items():
        line = [model, f"{clean[model]:.2f}"]
        for b in budgets:
            r = per.get(b)
            if r is None:
                line += ["", "", ""]
                continue
            flag = ""
            if r["bounded_by_sweep"]:
                flag = " (bounded)"
                notes.append(
                    f"{model} @{b:g}pt: the lowest swept voltage qualifies; the saving is a lower bound"
                )
            elif not r["nominal_within_budget"]:
                flag = " (nominal misses)"
            line += [
                f"{float(r['voltage']):.3f}",
                f"{float(r['energy_norm']):.3f}",
                f"{100 * float(r['saving']):.1f}%{flag}",
            ]
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in lines]
    return "\n".join(out + notes)


# ---------------------------------------------------------------------------------------- helpers


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise InputError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")


def _rows_to_arrays(rows: list[Mapping[str, Any]], where: str) -> dict[str, Any]:
    if not rows:
        raise InputError(f"{where}: the sweep has no rows")
    cols: dict[str, list[float]] = {
        k: [] for k in ("voltage", "energy_norm", "acc_mean", "ci_low", "clean_acc")
    }
    for n, row in enumerate(rows, start=1):
        for key, values in cols.items():
            raw = row.get(key)
            if key == "ci_low" and (raw is None or raw == ""):
                raw = row.get("acc_mean")  # one realisation has no CI: the mean is all there is
            try:
                value = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise InputError(
                    f"{where}: row {n} has no number in column {key!r} (got {raw!r}); "
                    "it needs the sweep-voltage columns voltage, energy_norm, acc_mean, ci_low, clean_acc"
                ) from None
            if not math.isfinite(value):
                raise InputError(
                    f"{where}: row {n} column {key!r} is {raw!r}; rerun the sweep for that voltage"
                )
            if key in ("acc_mean", "ci_low", "clean_acc") and not 0.0 <= value <= 100.0:
                raise InputError(
                    f"{where}: row {n} {key} = {raw} is not a percentage in 0..100; the table is not a "
                    "sweep-voltage table or was edited: rerun `wcatsim sweep-voltage`"
                )
            if key == "energy_norm" and value <= 0.0:
                raise InputError(
                    f"{where}: row {n} energy_norm = {raw} is not positive (energy per inference relative "
                    "to nominal); the table was edited or damaged: rerun `wcatsim sweep-voltage`"
                )
            values.append(value)
    voltage = np.asarray(cols["voltage"])
    order = np.argsort(voltage, kind="stable")
    voltage = voltage[order]
    dup = np.flatnonzero(np.diff(voltage) == 0)
    if len(dup):
        raise InputError(f"{where}: voltage {voltage[dup[0]]} appears twice; keep one row per voltage")
    clean = np.asarray(cols["clean_acc"])
    if np.ptp(clean) > 1e-6:
        raise InputError(
            f"{where}: clean_acc differs between rows ({clean.min()} .. {clean.max()}); "
            "the rows come from different models: one sweep per file"
        )
    tails = {}
    for key in ("acc_p05", "collapsed_share"):  # optional: NaN where absent or empty
        tails[key] = np.asarray([_as_float(row.get(key)) if _as_float(row.get(key)) is not None else math.nan
                                 for row in rows])[order]  # fmt: skip
    return {
        **tails,
        "voltage": voltage,
        "energy_norm": np.asarray(cols["energy_norm"])[order],
        "acc_mean": np.asarray(cols["acc_mean"])[order],
        "ci_low": np.asarray(cols["ci_low"])[order],
        "clean_acc": float(clean[0]),
    }


def _sweep_metadata(sweep_csv: Path) -> dict[str, Any]:
    """Preset and ECC of a sweep, from the metadata the sweep wrote beside its CSV (if any)."""
    for candidate in (sweep_csv.with_suffix(".json"), sweep_csv.with_name(sweep_csv.stem + "_meta.json")):
        data = read_json_object(candidate)
        if data:
            flat = dict(data)
            for key in ("settings", "args", "sweep", "parameters"):
                if isinstance(data.get(key), dict):
                    flat.update(data[key])
            tech = flat.get("technology") if isinstance(flat.get("technology"), dict) else {}
            preset = flat.get("preset") or tech.get("name") or flat.get("technology")
            return {
                "preset": preset, "ecc": flat.get("ecc"), "v_nominal": _as_float(tech.get("v_nominal")),
                "protect": flat.get("protect"), "fault_map_chip": flat.get("fault_map_chip"),
                "technology": tech or None,
            }  # fmt: skip
    return {}


def _as_float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


# ------------------------------------------------------------- uncertainty of the iso-accuracy saving


def chip_accuracies(
    realisation_rows: Sequence[Mapping[str, Any]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-chip accuracies of a voltage sweep, from its ``<table>_realisations.csv`` rows.

    Parameters
    ----------
    realisation_rows : sequence of mapping
        Rows with ``voltage``, ``realisation`` (the chip), ``seed`` (its fault seed) and ``accuracy``
        (percent), as :func:`wcatsim.experiments.sweeps.sweep.voltage_sweep` writes them with
        ``per_realisation=True``.

    Returns
    -------
    voltages : ndarray
        The swept voltages, ascending.
    chip_seeds : ndarray
        Each chip's fault seed (the chip's identity: equal seeds, equal faults), ``(chips,)``.
    accuracy : ndarray
        ``(chips, voltages)`` accuracies in percent.
    """
    if not realisation_rows:
        raise InputError("no per-chip rows: run the sweep with per_realisation=True")
    table: dict[float, dict[int, tuple[int, float]]] = {}
    for row in realisation_rows:
        table.setdefault(float(row["voltage"]), {})[int(row["realisation"])] = (
            int(row["seed"]), float(row["accuracy"]))  # fmt: skip
    voltages = np.array(sorted(table))
    chips = sorted(table[voltages[0]])
    if any(sorted(table[v]) != chips for v in voltages):
        raise InputError("the per-chip rows do not hold the same chips at every voltage; rerun the sweep")
    seeds = np.array([table[voltages[0]][c][0] for c in chips])
    acc = np.array([[table[v][c][1] for v in voltages] for c in chips])
    return voltages, seeds, acc


def iso_from_chips(
    sweep_rows: Sequence[Mapping[str, Any]], voltages: np.ndarray, accuracy: np.ndarray, budget: float,
    v_nominal: float | None = None,
) -> IsoAccuracy:  # fmt: skip
    """The iso-accuracy point (metric ``mean``) of a sweep whose mean accuracy is ``accuracy``'s chip mean.

    Parameters
    ----------
    sweep_rows : sequence of mapping
        The sweep's rows (``voltage``, ``energy_norm``, ``clean_acc``): the energy of each voltage.
    voltages : ndarray
        The voltages of ``accuracy``'s columns (ascending, as :func:`chip_accuracies` returns them).
    accuracy : ndarray
        ``(chips, voltages)`` accuracies of the chips to average (a bootstrap resample, say).
    budget : float
        Accuracy points below clean.
    v_nominal : float, optional
        As in :func:`iso_accuracy_saving`.
    """
    energy = {float(r["voltage"]): float(r["energy_norm"]) for r in sweep_rows}
    clean = float(sweep_rows[0]["clean_acc"])
    mean = np.asarray(accuracy, np.float64).mean(axis=0)
    rows = [{"voltage": float(v), "energy_norm": energy[float(v)], "acc_mean": float(a), "ci_low": float(a),
             "clean_acc": clean} for v, a in zip(voltages, mean, strict=True)]  # fmt: skip
    return iso_accuracy_saving(rows, budget, metric="mean", v_nominal=v_nominal)


def bootstrap_iso_savings(
    runs: Mapping[str, Sequence[tuple[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]]],
    budget: float = 1.0,
    resamples: int = 2000,
    seed: int = 0,
    quantity: str = "saving",
) -> dict[str, np.ndarray]:
    """Bootstrap draws of each model's iso-accuracy saving (or voltage) over chips and seeds, paired.

    Parameters
    ----------
    runs : mapping
        Per model, per training seed, ``(sweep rows, realisation rows)`` of its voltage sweep.  Every
        model has the same number of seeds and every sweep the same chips (same fault seeds: checked)
        and voltages.
    budget : float
        Accuracy points below clean (1.0: the headline budget).
    resamples : int
        Bootstrap resamples (:data:`wcatsim.stats.bootstrap.DEFAULT_RESAMPLES` by default's rationale).
    seed : int
        Seed of the resampling.
    quantity : str
        ``"saving"`` (fraction) or ``"voltage"`` (the iso-accuracy voltage); the same seed draws the
        same indices for both.

    Returns
    -------
    dict
        Model -> ``(resamples,)`` draws of the seed-mean quantity.  The same seed and chip
        indices serve every model (:func:`wcatsim.stats.bootstrap.hierarchical_bootstrap`), so
        ``draws[a] - draws[b]`` are draws of the paired difference.
    """
    from wcatsim.stats.bootstrap import hierarchical_bootstrap

    if quantity not in ("saving", "voltage"):
        raise InputError(f"bootstrap_iso_savings: quantity must be saving or voltage, got {quantity!r}")
    names = list(runs)
    samples, sweeps, grids = [], [], []
    reference = None
    for name in names:
        per_seed, per_sweep = [], []
        for sweep_rows, realisation_rows in runs[name]:
            voltages, chip_seeds, acc = chip_accuracies(realisation_rows)
            if reference is None:
                reference = (voltages, chip_seeds)
            elif not (np.array_equal(voltages, reference[0]) and np.array_equal(chip_seeds, reference[1])):
                raise InputError(
                    f"{name}: its sweep's chips or voltages differ from the first model's; a paired "
                    "bootstrap needs the same fault seed and voltages for every sweep"
                )
            per_seed.append(acc)
            per_sweep.append(list(sweep_rows))
        samples.append(per_seed)
        sweeps.append(per_sweep)
        grids.append(voltages)
    # the statistic sees the resampled chips only; which seed's energies it needs is fixed per model
    # (the energy of a voltage does not depend on the seed: the same image size and technology)
    draws = hierarchical_bootstrap(
        samples, lambda m, chips: getattr(iso_from_chips(sweeps[m][0], grids[m], chips, budget), quantity),
        resamples=resamples, seed=seed,
    )  # fmt: skip
    return {name: draws[m] for m, name in enumerate(names)}


_ALTERNATIVE = re.compile(r"sigma\s*=\s*([0-9]*\.[0-9]+)\s*,\s*mu\s*=\s*([0-9]*\.[0-9]+)")


def band_parameters(fit: Any) -> list[tuple[float, float]]:
    """The ``(mu, sigma)`` pairs of a Gaussian preset's technology band, the fitted pair first.

    Parameters
    ----------
    fit : sram_models.technology.fit.CurveFit or None
        The preset's ``[fit]`` section.

    Returns
    -------
    list of (float, float)
        The fitted pair; where the fit has standard errors, the 8 neighbours at ±1 standard error of
        mu and of sigma (each alone and the four corners); and every alternative pair its
        ``uncertainty`` text states as ``sigma = S, mu = M`` (``chandramoorthy14``'s other
        second-point assumption).  Empty for a fit without Gaussian parameters (a table preset).
    """
    if fit is None or fit.model != "gaussian" or not {"mu", "sigma"} <= set(fit.parameters):
        return []
    mu, sigma = fit.parameters["mu"], fit.parameters["sigma"]
    pairs = [(mu, sigma)]
    if fit.stderr:
        dm, ds = fit.stderr.get("mu", 0.0), fit.stderr.get("sigma", 0.0)
        pairs += [(mu + i * dm, sigma + j * ds) for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)]
    pairs += [(float(m), float(s)) for s, m in _ALTERNATIVE.findall(fit.uncertainty)]
    return pairs


def reinterpreted_rows(
    sweep_rows: Sequence[Mapping[str, Any]], mu: float, sigma: float
) -> list[dict[str, float]]:
    """The sweep's rows as they would read on a technology whose faulty-cell rate is ``Phi((mu - V)/sigma)``.

    Parameters
    ----------
    sweep_rows : sequence of mapping
        ``sweep_voltage.csv`` rows with ``voltage``, ``ber`` (the preset's faulty-cell rate there),
        ``energy_norm``, ``acc_mean`` and ``clean_acc``.
    mu, sigma : float
        The other curve's parameters (in the preset's voltage unit).

    Returns
    -------
    list of dict
        The same voltages and energies; ``acc_mean`` (and ``ci_low``) the sweep's accuracy interpolated,
        linear in log10(rate), at the other curve's rate there.  A rate below the sweep's lowest takes
        the accuracy there (the nominal point's); a rate above its highest has no measurement and is
        given accuracy 0, so it never qualifies (the band's end is then conservative), and
        ``measured`` False (True where the rate lies within the swept rates or below them).

    Notes
    -----
    Chip faults depend on the voltage only through the faulty-cell rate (nested sets of that many
    cells), so the accuracy at a rate measured at one voltage is, in distribution, the accuracy at any
    voltage with that rate; the interpolation between swept rates is the approximation.  The energy of
    a voltage does not depend on the BER curve.
    """
    table = _rows_to_arrays(list(sweep_rows), "reinterpreted_rows")
    ber = {float(r["voltage"]): float(r["ber"]) for r in sweep_rows}
    log_rate = np.log10([max(ber[float(v)], 1e-300) for v in table["voltage"]])
    order = np.argsort(log_rate, kind="stable")
    xs, ys = log_rate[order], table["acc_mean"][order]
    rows = []
    for v, e in zip(table["voltage"], table["energy_norm"], strict=True):
        rate = 0.5 * math.erfc((float(v) - mu) / (sigma * math.sqrt(2.0)))  # Phi((mu - V) / sigma)
        acc = float(np.interp(math.log10(max(rate, 1e-300)), xs, ys, left=ys[0], right=0.0))
        rows.append({"voltage": float(v), "energy_norm": float(e), "acc_mean": acc, "ci_low": acc,
                     "clean_acc": table["clean_acc"],
                     "measured": bool(math.log10(max(rate, 1e-300)) <= xs[-1])})  # fmt: skip
    return rows


def technology_band(
    sweep_rows: Sequence[Mapping[str, Any]], pairs: Sequence[tuple[float, float]], budget: float = 1.0,
    v_nominal: float | None = None,
) -> tuple[float, float] | None:  # fmt: skip
    """The lowest and highest iso-accuracy saving over a technology's parameter pairs.

    Parameters
    ----------
    sweep_rows : sequence of mapping
        The sweep (see :func:`reinterpreted_rows`).
    pairs : sequence of (mu, sigma)
        From :func:`band_parameters`; empty gives None (no band).
    budget : float
        Accuracy points below clean.
    v_nominal : float, optional
        As in :func:`iso_accuracy_saving`.
    """
    if not pairs:
        return None
    savings = [
        iso_accuracy_saving(reinterpreted_rows(sweep_rows, mu, sigma), budget, v_nominal=v_nominal).saving
        for mu, sigma in pairs
    ]
    return float(min(savings)), float(max(savings))
