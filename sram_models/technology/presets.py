"""Technology preset files: the shipped ones in ``data/sram/`` and a user's own.

Schema (TOML; see ``data/sram/generic.toml``, the template to copy)::

    name = "my_sram"            # preset name
    kind = "gaussian"           # gaussian | table | macro (a weight-buffer macro: [gaussian] + [macro])
    node = "28 nm"
    source = "paper, table N"   # where the numbers come from
    voltage_unit = "V"          # V | Vmin
    v_nominal = 0.9             # normalised energies are relative to it
    v_min = 0.7                 # lowest error-free voltage
    v_low = 0.5                 # valid range of the model (queries outside -> error)
    v_high = 1.0
    access_bits = 64            # bits per access the read energy refers to
    leakage_bits = 32768        # cells of the array the leakage refers to
    cycle_time_ns = 1.0         # access time (= clock period) at v_nominal; needed with absolute energies
    leakage_share_nominal = 0.0 # only for presets without absolute energies (see Technology)
    ber_meaning = "faulty_cell" # faulty_cell | bit_error: what the ber column counts (default faulty_cell)
    cell_voltage_share = 1.0    # share of an access's energy and delay in the array at the cell supply
    delay_vth = 0.469           # EKV delay model: threshold voltage (volts) ...
    delay_n = 1.44              # ... and subthreshold slope factor; both or neither
    vmin_volts = 0.8            # only for voltage_unit = "Vmin": the Vmin in volts for the delay model
    [gaussian]                  # kind = gaussian
    mu = 0.3                    # mean cell failure voltage
    sigma = 0.1
    read_energy_pj = 3.0        # optional (with leakage_mw): per access at v_nominal
    leakage_mw = 10.0
    leakage_exponent = 2.0
    [macro]                     # kind = macro, with [gaussian] (sram_models.technology.macro)
    periphery_share = 0.0       # periphery's share of the access energy at nominal
    periphery_volts = 1.0       # optional: the periphery's fixed supply (absent: on the scaled rail)
    leakage_v0 = 0.181          # volts per e-fold of leakage, fitted to measured ratios
    alpha = 1.3                 # alpha-power law: exponent and threshold (volts)
    alpha_vth = 0.35
    [table]                     # kind = table
    columns = ["voltage", "ber", "read_energy_pj", "leakage_mw"]   # the last two optional;
    # a fifth, "leakage_full_mw", gives the full-array leakage where leakage_mw is a gated cache's
    rows = [[1.0, 1e-10, 26.07, 157.6], ...]

A CSV preset is a table: ``# key = value`` lines with the top-level keys above,
then a header ``voltage,ber[,read_energy_pj,leakage_mw]`` and one row per voltage.
Every error names the file, the line and the field.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sram_models.errors import InputError
from sram_models.registry import Registry
from sram_models.technology.base import BER_MEANINGS, Technology
from sram_models.technology.gaussian import GaussianCellModel
from sram_models.technology.tabulated import TabulatedTechnology

PRESET_SUFFIXES = (".toml", ".csv")
_TOP_FLOATS = ("v_nominal", "v_min", "v_low", "v_high")
_TOP_OPTIONAL_FLOATS = (
    "cycle_time_ns", "leakage_share_nominal", "cell_voltage_share", "delay_vth", "delay_n", "vmin_volts",
)  # fmt: skip
_TOP_INTS = ("access_bits", "leakage_bits")
_TOP_STRINGS = ("name", "node", "source")
TABLE_COLUMNS = ("voltage", "ber", "read_energy_pj", "leakage_mw", "leakage_full_mw")


@dataclass(frozen=True)
class PresetInfo:
    """One line of ``wcatsim sram list``."""

    name: str
    node: str
    v_low: float
    v_high: float
    source: str
    path: Path
    voltage_unit: str = "V"


def presets_dir() -> Path:
    from sram_models.paths import data_dir

    return data_dir() / "sram"


def _preset_files() -> dict[str, Path]:
    folder = presets_dir()
    files = sorted(p for p in folder.iterdir() if p.suffix in PRESET_SUFFIXES) if folder.is_dir() else []
    return {p.stem: p for p in files}


TECHNOLOGIES: Registry[Path] = Registry("SRAM preset")
"""The shipped presets by name (their files under ``data/sram``); ``load_technology`` reads them."""
for _name, _path in _preset_files().items():
    TECHNOLOGIES.register(_name, _path, doc=_name)


def list_presets() -> list[PresetInfo]:
    """The shipped presets, by name."""
    out = []
    for _, path in TECHNOLOGIES.items():
        tech = load_technology(path)
        out.append(
            PresetInfo(tech.name, tech.node, tech.v_low, tech.v_high, tech.source, path, tech.voltage_unit)
        )
    return out


def load_technology(name_or_path: str | Path) -> Technology:
    """A shipped preset by name, or a user's ``.toml``/``.csv`` preset file."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in PRESET_SUFFIXES or path.exists():
        if not path.is_file():
            raise InputError(f"preset file {path} does not exist")
    else:
        if text not in TECHNOLOGIES:
            raise InputError(
                f"unknown SRAM preset {text!r}: use one of {', '.join(TECHNOLOGIES) or '(none shipped)'} "
                "or a path to a .toml/.csv preset file"
            )
        path = TECHNOLOGIES.get(text)
    if path.suffix == ".csv":
        return _load_csv(path)
    if path.suffix == ".toml":
        return _load_toml(path)
    raise InputError(f"preset file {path}: use a .toml or .csv file")


# ---------------------------------------------------------------- TOML


def _line_of(lines: list[str], key: str, start: int = 0) -> int:
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i in range(start, len(lines)):
        if pattern.match(lines[i]):
            return i + 1
    return 0


def _where(path: Path, line: int) -> str:
    return f"{path} line {line}" if line else f"{path}"


def _load_toml(path: Path) -> Technology:
    from sram_models.tomlio import parse_toml

    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    data = parse_toml(text, f"preset file {path}")

    def fail(key: str, message: str, section_start: int = 0) -> InputError:
        return InputError(f"{_where(path, _line_of(lines, key, section_start))}: field {key!r} {message}")

    common = _common_fields(data, path, fail)
    kind = data.get("kind", "gaussian")
    if kind == "gaussian":
        section = data.get("gaussian")
        if not isinstance(section, dict):
            raise InputError(f"{path}: a gaussian preset needs a [gaussian] section with mu and sigma")
        start = _section_line(lines, "gaussian")
        params: dict[str, Any] = {}
        for key in ("mu", "sigma"):
            if key not in section:
                raise InputError(f"{_where(path, start)}: [gaussian] is missing field {key!r}")
            params[key] = _number(section[key], key, fail, start)
        for key in ("read_energy_pj", "leakage_mw", "leakage_exponent"):
            if key in section:
                params[key] = _number(section[key], key, fail, start)
        unknown = set(section) - {"mu", "sigma", "read_energy_pj", "leakage_mw", "leakage_exponent"}
        if unknown:
            raise fail(
                sorted(unknown)[0],
                "is not a [gaussian] field (mu, sigma, read_energy_pj, leakage_mw, leakage_exponent)",
                start,
            )
        return _build(GaussianCellModel, path, common, params)
    if kind == "table":
        section = data.get("table")
        if not isinstance(section, dict) or "rows" not in section:
            raise InputError(f"{path}: a table preset needs a [table] section with columns and rows")
        start = _section_line(lines, "table")
        columns = section.get("columns", list(TABLE_COLUMNS[:2]))
        rows_line = _line_of(lines, "rows", start)
        row_lines = [i + 1 for i in range(rows_line, len(lines)) if lines[i].lstrip().startswith("[")]
        rows = section["rows"]
        if not isinstance(rows, list):
            raise fail("rows", "must be a list of rows", start)
        table = []
        for r, row in enumerate(rows):
            line = row_lines[r] if r < len(row_lines) else rows_line
            if not isinstance(row, list) or len(row) != len(columns):
                raise InputError(
                    f"{_where(path, line)}: table row {r + 1} must have {len(columns)} values "
                    f"({', '.join(columns)})"
                )
            table.append((line, [str(x) for x in row]))
        return _table(path, common, columns, table, start)
    if kind == "macro":
        return _load_macro(path, data, lines, common, fail)
    raise fail("kind", f"is {kind!r}: use gaussian, table or macro")


_MACRO_KEYS = ("periphery_share", "periphery_volts", "leakage_v0", "alpha", "alpha_vth")


def _load_macro(
    path: Path, data: dict[str, Any], lines: list[str], common: dict[str, Any], fail: Any
) -> Technology:
    """kind = "macro": a [gaussian] section (the BER curve and the nominal energies) and a [macro]
    section (periphery, leakage e-fold voltage, alpha-power delay); see sram_models.technology.macro."""
    from sram_models.technology.macro import WeightMacroModel

    params: dict[str, Any] = {}
    for name, keys, required in (
        ("gaussian", ("mu", "sigma", "read_energy_pj", "leakage_mw"), ("mu", "sigma")),
        ("macro", _MACRO_KEYS, ("leakage_v0", "alpha", "alpha_vth")),
    ):
        section = data.get(name)
        if not isinstance(section, dict):
            raise InputError(f"{path}: a macro preset needs a [{name}] section")
        start = _section_line(lines, name)
        for key in required:
            if key not in section:
                raise InputError(f"{_where(path, start)}: [{name}] is missing field {key!r}")
        unknown = set(section) - set(keys)
        if unknown:
            raise fail(sorted(unknown)[0], f"is not a [{name}] field ({', '.join(keys)})", start)
        for key in keys:
            if key in section:
                params[key] = _number(section[key], key, fail, start)
    return _build(WeightMacroModel, path, common, params)


def _section_line(lines: list[str], section: str) -> int:
    for i, line in enumerate(lines):
        if line.strip() == f"[{section}]":
            return i
    return 0


def _number(value: Any, key: str, fail: Any, start: int = 0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(key, f"must be a number, got {value!r}", start)
    return float(value)


def _common_fields(data: dict[str, Any], path: Path, fail: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _TOP_STRINGS:
        if key not in data:
            raise InputError(f"{path}: missing field {key!r}")
        if not isinstance(data[key], str) or not data[key].strip():
            raise fail(key, "must be a non-empty string")
        out[key] = data[key]
    for key in _TOP_FLOATS:
        if key not in data:
            raise InputError(f"{path}: missing field {key!r}")
        out[key] = _number(data[key], key, fail)
    for key in _TOP_OPTIONAL_FLOATS:
        if key in data:
            out[key] = _number(data[key], key, fail)
    for key in _TOP_INTS:
        if key in data:
            if isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] < 1:
                raise fail(key, f"must be a positive integer, got {data[key]!r}")
            out[key] = data[key]
    unit = data.get("voltage_unit", "V")
    if unit not in ("V", "Vmin"):
        raise fail("voltage_unit", f"is {unit!r}: use V or Vmin")
    out["voltage_unit"] = unit
    meaning = data.get("ber_meaning", "faulty_cell")
    if meaning not in BER_MEANINGS:
        raise fail(
            "ber_meaning",
            f"is {meaning!r}: use faulty_cell (share of cells that fail at V) or bit_error "
            "(share of bits of random data read wrong)",
        )
    out["ber_meaning"] = meaning
    out["notes"] = str(data.get("notes", ""))
    return out


def _build(cls: type, path: Path, common: dict[str, Any], params: dict[str, Any]) -> Technology:
    try:
        return cls(**common, **params)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def _table(
    path: Path,
    common: dict[str, Any],
    columns: list[str],
    rows: list[tuple[int, list[str]]],
    header_line: int,
) -> Technology:
    columns = [c.strip() for c in columns]
    for c in columns:
        if c not in TABLE_COLUMNS:
            raise InputError(
                f"{_where(path, header_line)}: unknown column {c!r} (use {', '.join(TABLE_COLUMNS)})"
            )
    for c in ("voltage", "ber"):
        if c not in columns:
            raise InputError(f"{_where(path, header_line)}: the table needs a column {c!r}")
    values: dict[str, list[float]] = {c: [] for c in columns}
    for line, row in rows:
        for c, cell in zip(columns, row, strict=True):
            try:
                x = float(cell)
            except ValueError:
                raise InputError(f"{_where(path, line)}: column {c!r}: {cell!r} is not a number") from None
            if c == "ber" and not 0 < x <= 1:
                raise InputError(f"{_where(path, line)}: column 'ber': {x} must be in (0, 1]")
            if c != "ber" and not x > 0:
                raise InputError(f"{_where(path, line)}: column {c!r}: {x} must be positive")
            values[c].append(x)
    order = sorted(range(len(rows)), key=lambda i: values["voltage"][i])
    volts = [values["voltage"][i] for i in order]
    for a, b in zip(order, order[1:], strict=False):
        if values["voltage"][a] == values["voltage"][b]:
            raise InputError(
                f"{_where(path, rows[b][0])}: column 'voltage': {values['voltage'][b]} appears twice"
            )
        if values["ber"][b] > values["ber"][a]:
            raise InputError(
                f"{_where(path, rows[b][0])}: column 'ber': {values['ber'][b]} at {values['voltage'][b]} "
                "is above "
                f"{values['ber'][a]} at the lower voltage {values['voltage'][a]}: BER must fall as V rises"
            )

    def col(name: str) -> tuple[float, ...] | None:
        return tuple(values[name][i] for i in order) if name in values else None

    params = {
        "voltages": tuple(volts),
        "bers": col("ber"),
        "read_energies_pj": col("read_energy_pj"),
        "leakages_mw": col("leakage_mw"),
        "full_leakages_mw": col("leakage_full_mw"),
    }
    return _build(TabulatedTechnology, path, common, params)


# ---------------------------------------------------------------- CSV


def _load_csv(path: Path) -> Technology:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    meta: dict[str, Any] = {}
    meta_lines: dict[str, int] = {}
    body_start = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            body = stripped.lstrip("#").strip()
            if "=" in body:
                key, _, value = body.partition("=")
                key, value = key.strip(), value.strip().strip('"')
                try:
                    meta[key] = (
                        int(value)
                        if key in _TOP_INTS
                        else float(value)
                        if key in (_TOP_FLOATS + _TOP_OPTIONAL_FLOATS)
                        else value
                    )
                except ValueError:
                    raise InputError(
                        f"{path} line {i + 1}: field {key!r}: {value!r} is not a number"
                    ) from None
                meta_lines[key] = i + 1
            continue
        body_start = i
        break
    if body_start is None:
        raise InputError(f"{path}: no table (a header line voltage,ber,... and rows)")

    def fail(key: str, message: str, section_start: int = 0) -> InputError:
        return InputError(f"{_where(path, meta_lines.get(key, 0))}: field {key!r} {message}")

    common = _common_fields(meta, path, fail)
    reader = csv.reader(lines[body_start:])
    header = next(reader)
    rows = []
    for offset, row in enumerate(reader, start=1):
        if not row or all(not c.strip() for c in row):
            continue
        line = body_start + offset + 1
        if len(row) != len(header):
            raise InputError(f"{path} line {line}: {len(row)} values, the header has {len(header)}")
        rows.append((line, row))
    return _table(path, common, header, rows, body_start + 1)
