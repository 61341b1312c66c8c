"""Column names of every table the project writes, declared once: identity, units, the one-release aliases.

A table read by pandas, a spreadsheet or another group's script must say what it holds without the
sidecar beside it.  So every per-run table:

* **names its run** in columns (:data:`IDENTITY_COLUMNS`): ``run`` (the run directory's name),
  ``model`` (the architecture, ``model.name``), ``quantizer`` (``quant.method``), ``bits`` (weight bits;
  empty for ``float``) and ``dataset`` (``data.name``);
* **gives voltages in volts** in ``voltage_v``, and in multiples of the preset's lowest error-free
  voltage in ``voltage_norm`` (``v / v_min``, every preset states ``v_min``).  The old ``voltage`` column
  is in the preset's own unit: volts for most presets, x Vmin for ``chandramoorthy14`` (one name, two
  units); ``voltage_v`` is empty for a preset in x Vmin that gives no ``vmin_volts``;
* **says percent or fraction in the name**: ``_pct`` is percent (0..100), ``_frac`` a fraction (0..1),
  ``_pp`` percentage points (a difference of two percents).  ``ber`` (a probability), ``energy_norm``
  (x the energy at nominal voltage) and counts keep their names.

The old names (:data:`RENAMES`' keys, and ``voltage``) stay in the tables, after the new ones, for one
release, so that scripts reading them keep working; ``docs/columns.md`` lists the renames.  Readers in
this code accept either name (:func:`accept_both`, :func:`read_table`).

Adding the new columns changes no fingerprint: fingerprints hash the settings that make the numbers
(:func:`wcatsim.store.results.fingerprint`), never the columns.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from wcatsim.store.atomic import read_csv, read_json_object

# Who made the table: the same five in every per-run table, first.
IDENTITY_COLUMNS = ("run", "model", "quantizer", "bits", "dataset")
# The identity columns that hold text (a reader must not parse them as numbers).
TEXT_COLUMNS = ("run", "model", "quantizer", "dataset", "label", "model_name", "preset", "protect")
# Voltage in volts, and in multiples of the preset's v_min (replacing `voltage`, in the preset's unit).
VOLTAGE_COLUMNS = ("voltage_v", "voltage_norm")
LEGACY_VOLTAGE = "voltage"
# The activation buffer's supply (sweep-voltage --target both|activations), in its preset's unit: the same
# split (act_voltage_v, act_voltage_norm) with the buffer's technology.
LEGACY_ACT_VOLTAGE = "act_voltage"
_DIGITS = 12  # decimals kept of a converted voltage (far below any supply's precision)

# Old name -> new name (the unit in the name).  The old name is written too, for one release.
RENAMES: dict[str, str] = {
    # percent (accuracies over the test images, 0..100)
    "acc_mean": "acc_mean_pct",
    "acc_std": "acc_std_pct",
    "acc_min": "acc_min_pct",
    "acc_max": "acc_max_pct",
    "ci_low": "ci_low_pct",
    "ci_high": "ci_high_pct",
    "acc_p05": "acc_p05_pct",
    "acc_std_between": "acc_std_between_pct",
    "clean_acc": "clean_acc_pct",
    "accuracy": "accuracy_pct",
    "acc": "acc_pct",
    "asr": "asr_pct",  # the targeted attack's success rate
    "other_acc": "other_acc_pct",
    # fractions (0..1)
    "flip_rate": "flip_frac",
    "collapsed_share": "collapsed_frac",
    "leakage_share": "leakage_frac",
    "energy_share": "energy_frac",
    "saving": "saving_frac",
    # percentage points (an accuracy budget below the clean accuracy)
    "budget": "budget_pp",
}
_OLD_NAMES = {new: old for old, new in RENAMES.items()}


def standard_columns(columns: Sequence[str], *, identity: bool = True) -> tuple[str, ...]:
    """The header of a table whose columns were ``columns`` before this release.

    Parameters
    ----------
    columns : sequence of str
        The table's columns under their old names (as the code declares them).
    identity : bool
        Put :data:`IDENTITY_COLUMNS` first (a per-run table); False for a table over several runs.

    Returns
    -------
    tuple of str
        Identity columns, then ``columns`` with each renamed column under its new name and ``voltage`` as
        ``voltage_v, voltage_norm``, then the old names of what was renamed (kept one release).
    """
    head = list(IDENTITY_COLUMNS) if identity else []
    body: list[str] = []
    legacy: list[str] = []
    for name in columns:
        if name in head:
            continue
        if name in (LEGACY_VOLTAGE, LEGACY_ACT_VOLTAGE):
            body += [f"{name}_v", f"{name}_norm"]
            legacy.append(name)
        elif name in RENAMES:
            body.append(RENAMES[name])
            legacy.append(name)
        else:
            body.append(name)
    return tuple(head + body + legacy)


def run_identity(config: Any, run_dir: str | os.PathLike | None) -> dict[str, Any]:
    """The identity columns of a run: ``run``, ``model``, ``quantizer``, ``bits``, ``dataset``.

    Parameters
    ----------
    config : ExperimentConfig or None
        The run's resolved settings (``model.name``, ``quant.method``, ``quant.bits``, ``data.name``);
        None leaves those columns empty.
    run_dir : path-like or None
        The run directory; its name is ``run``.
    """

    def field(section: str, name: str) -> Any:
        return getattr(getattr(config, section, None), name, None)

    method = field("quant", "method")
    return {
        "run": Path(run_dir).name if run_dir is not None else None,
        "model": field("model", "name"),
        "quantizer": method,
        "bits": None if method in (None, "float") else field("quant", "bits"),  # float stores no bit width
        "dataset": field("data", "name"),
    }


def identity_of(run: Any, config: Any = None) -> dict[str, Any]:
    """:func:`run_identity` of a loaded run (``wcatsim.train.runs.LoadedRun``, read by its attributes).

    Parameters
    ----------
    run : LoadedRun
        Its ``config`` (unless ``config`` is given), ``dir`` (None for a model given in Python), and the
        names results record: ``model_name`` (the model's own name for a model given in Python) and
        ``data.name``.
    config : ExperimentConfig, optional
        The settings to name it by instead of ``run.config``.
    """
    # a run read from its directory but writing nowhere (dir None, source set) is still named by it
    where = getattr(run, "dir", None) or getattr(run, "source", None)
    out = run_identity(getattr(run, "config", None) if config is None else config, where)
    name, data = getattr(run, "model_name", None), getattr(getattr(run, "data", None), "name", None)
    return out | {k: v for k, v in (("model", name), ("dataset", data)) if v is not None}


def voltage_columns(technology: Any) -> Callable[[float], dict[str, float | None]]:
    """A function of a voltage in ``technology``'s unit returning ``voltage_v`` and ``voltage_norm``.

    Parameters
    ----------
    technology : Technology or mapping
        A :class:`sram_models.Technology` or its ``describe()`` dict: ``voltage_unit`` (``"V"`` or
        ``"Vmin"``), ``v_min`` (in that unit) and, for ``"Vmin"``, ``vmin_volts`` (volts per Vmin, may be
        absent: ``voltage_v`` is then empty).
    """
    unit, v_min, vmin_volts = _technology_fields(technology)

    def convert(v: float) -> dict[str, float | None]:
        v = float(v)
        if unit == "V":
            volts: float | None = v
        else:  # rounded to 1e-12 V: 0.9 x 0.8 reads 0.72, not 0.7200000000000001 (no voltage is that exact)
            volts = round(v * vmin_volts, _DIGITS) if vmin_volts is not None else None
        return {"voltage_v": volts, "voltage_norm": round(v / v_min, _DIGITS) if v_min else None}

    return convert


def _technology_fields(technology: Any) -> tuple[str, float | None, float | None]:
    def get(name: str) -> Any:
        if isinstance(technology, Mapping):
            return technology.get(name)
        return getattr(technology, name, None)

    unit = str(get("voltage_unit") or "V")
    v_min, vmin_volts = get("v_min"), get("vmin_volts")
    return unit, (float(v_min) if v_min else None), (float(vmin_volts) if vmin_volts else None)


def standard_row(
    row: Mapping[str, Any],
    identity: Mapping[str, Any] | None = None,
    voltage: Callable[[float], Mapping[str, Any]] | None = None,
    act_voltage: Callable[[float], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """``row`` with the identity, its renamed columns under both names and ``voltage`` in volts.

    Parameters
    ----------
    row : mapping
        A row under the old names (numbers, or the strings read back from a CSV).
    identity : mapping, optional
        :func:`run_identity`'s columns (a value already in ``row`` is kept).
    voltage : callable, optional
        :func:`voltage_columns` of the table's technology (``voltage_v`` and ``voltage_norm`` from
        ``voltage``, when the row has one).
    act_voltage : callable, optional
        The same for ``act_voltage`` (the activation buffer's supply) with the buffer's technology:
        ``act_voltage_v`` and ``act_voltage_norm``.
    """
    out = {**dict(identity or {}), **accept_both(row)}
    for name, convert in ((LEGACY_VOLTAGE, voltage), (LEGACY_ACT_VOLTAGE, act_voltage)):
        if convert is None or out.get(name) in (None, ""):
            continue
        for column_name, value in convert(float(out[name])).items():  # voltage_v -> act_voltage_v
            column_name = column_name.replace(LEGACY_VOLTAGE, name, 1)
            if out.get(column_name) in (None, ""):
                out[column_name] = value
    return out


def accept_both(row: Mapping[str, Any], technology: Any = None) -> dict[str, Any]:
    """``row`` with every renamed column under its old and its new name, whichever it was written with.

    A table written before this release has only the old names, one written by a later release only the
    new ones; code that reads a column reads it through here.  ``voltage`` (the preset's unit) is filled
    from ``voltage_v`` (a preset in volts) or ``voltage_norm`` x ``v_min`` (a preset in x Vmin) when
    ``technology`` (see :func:`voltage_columns`) is given.
    """
    out = dict(row)
    for old, new in RENAMES.items():
        has_old, has_new = out.get(old) not in (None, ""), out.get(new) not in (None, "")
        if has_old and not has_new:
            out[new] = out[old]
        elif has_new and not has_old:
            out[old] = out[new]
    if technology is not None and out.get(LEGACY_VOLTAGE) in (None, ""):
        unit, v_min, _ = _technology_fields(technology)
        if unit == "V" and out.get("voltage_v") not in (None, ""):
            out[LEGACY_VOLTAGE] = out["voltage_v"]
        elif out.get("voltage_norm") not in (None, "") and v_min:
            norm = float(out["voltage_norm"]) * v_min
            out[LEGACY_VOLTAGE] = round(norm, _DIGITS) if math.isfinite(norm) else norm
    return out


def read_table(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a result table with both the old and the new column names (:func:`accept_both`).

    The technology that ``voltage`` is derived with (for a table written without it) is read from the
    table's sidecar (``NAME.json``; for ``NAME_realisations.csv`` the sidecar of ``NAME.csv``).
    """
    path = Path(path)
    rows = read_csv(path)
    if not rows or all(row.get(LEGACY_VOLTAGE) not in (None, "") for row in rows):
        return [accept_both(row) for row in rows]
    technology = _sidecar_technology(path)
    return [accept_both(row, technology) for row in rows]


def _sidecar_technology(path: Path) -> Mapping[str, Any] | None:
    stem = path.stem.removesuffix("_realisations")
    for sidecar in (path.with_suffix(".json"), path.with_name(stem + ".json")):
        settings = read_json_object(sidecar).get("settings")
        if isinstance(settings, dict) and isinstance(settings.get("technology"), dict):
            return settings["technology"]
    return None


def column(row: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """The value of column ``name`` (old or new name) in ``row``, written under either name."""
    for candidate in (name, RENAMES.get(name), _OLD_NAMES.get(name)):
        if candidate is not None and row.get(candidate) not in (None, ""):
            return row[candidate]
    return default


def with_identity(rows: Iterable[Mapping[str, Any]], identity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``rows`` each under :func:`standard_row` with ``identity`` (no voltage conversion)."""
    return [standard_row(row, identity) for row in rows]


__all__ = [
    "IDENTITY_COLUMNS",
    "LEGACY_VOLTAGE",
    "RENAMES",
    "TEXT_COLUMNS",
    "VOLTAGE_COLUMNS",
    "accept_both",
    "column",
    "identity_of",
    "read_table",
    "run_identity",
    "standard_columns",
    "standard_row",
    "voltage_columns",
    "with_identity",
]
