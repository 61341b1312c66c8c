"""Measured fault maps: one real chip's stuck cells per supply voltage, read as stuck.

File format (``.npz``, written by :meth:`ChipMeasurement.save`, ``numpy.load`` reads it):

========================  =====================================================================
key                       value
========================  =====================================================================
``format``                the string ``"wcatsim-fault-map/1"``
``rows``, ``cols``,       array geometry: ``banks`` arrays of ``rows`` x ``cols`` cells (int)
``banks``
``voltages``              float64, one entry per measured voltage (any order; unit below)
``voltage_unit``          ``"V"`` (volts) or ``"Vmin"``: must match the preset whose energy applies
``sa0_<i>``, ``sa1_<i>``  int64, sorted, unique: the cells stuck at 0 (read 0 whatever is stored) and
                          stuck at 1 at ``voltages[i]``, as linear indices
                          ``bank * rows * cols + row * cols + col``; a cell may not be in both
``chip``, ``source``      free text: which chip, where and how it was measured
========================  =====================================================================

Nothing is assumed about nesting across voltages (a cell faulty at 0.8 V need not be faulty at
0.7 V); :meth:`ChipMeasurement.nested` reports it.

Mapping (:class:`MeasuredFaultMap`): the image's physical cells are laid onto the measured
cells row-major.  An image row (``interleave`` words, ``phys_bits x interleave`` columns, cell
``(word // interleave, bit * interleave + word % interleave)``, as
:meth:`~sram_models.layout.MemoryImage.physical_location` places it) is linear cell
``L = row * phys_bits * interleave + column``; with ``interleave = 1`` that is the cell index
``word * phys_bits + bit`` itself.  ``N = banks x rows x cols`` measured cells hold image cells
``0 .. N-1``; a larger image tiles the chip: image cell ``L`` is in tile ``t = L // N`` and reads
measured cell ``(L mod N + t x tile_offset) mod N``.  With the default ``tile_offset = 0`` every
tile sees the chip exactly as the first (as NeuralFuse's ``torch.tile`` does); a non-zero offset
shifts each tile's faults by that many cells.

Importers: :func:`import_listing` reads a directory of the files the NeuralFuse code
(IBM/NeuralFuse, ``faultmodels/randomfault.py``, ``ReadBitErrorMap``) reads,
``fmap_sa0_v_<V>.txt`` and ``fmap_sa1_v_<V>.txt`` per voltage ``V``: dense comma-separated 0/1
bitmaps, one array row per line (``numpy.genfromtxt(delimiter=",")``), of which NeuralFuse keeps
the top-left 8192 x 128; and address lists ``faults_v_<V>.txt``, one faulty cell per line:
``row,col,stuck`` or ``bank,row,col,stuck`` (commas or blanks; ``stuck`` 0 or 1; ``#`` starts a
comment).  ``fmap_sa0`` is read as the cells stuck at 0, as its name says.  NeuralFuse's own
injection (``faultinjection_ops/zs_faultinjection_ops.py``, ``genFaultMap``) ORs the map it
receives first (the sa0 one) into the weights, i.e. applies it as 0 -> 1; pass
``swap_polarity=True`` to read the files that way.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sram_models.atomicio import atomic_file
from sram_models.errors import InputError
from sram_models.faults.base import FaultModel, FaultResult, _check_fraction
from sram_models.layout import MemoryImage

FORMAT = "wcatsim-fault-map/1"
VOLTAGE_UNITS = ("V", "Vmin")
_TOLERANCE = 1e-9  # voltages match when they differ by less (they are read back from text)
_DENSE = re.compile(r"^fmap_sa([01])_v_(.+)\.txt$")
_LIST = re.compile(r"^faults_v_(.+)\.txt$")


def _voltage_from(text: str, path: Path) -> float:
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"{path.name}: {text!r} is not a voltage (file names end _v_<V>.txt)") from None
    if not np.isfinite(v) or v <= 0:
        raise InputError(f"{path.name}: voltage {text!r} must be a positive number")
    return v


@dataclass(frozen=True, eq=False)
class ChipMeasurement:
    """One measured chip: geometry and, per voltage, the cells stuck at 0 and at 1 (linear indices)."""

    rows: int
    cols: int
    banks: int
    voltages: tuple[float, ...]
    stuck0: tuple[np.ndarray, ...] = field(repr=False)
    stuck1: tuple[np.ndarray, ...] = field(repr=False)
    voltage_unit: str = "V"
    chip: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "banks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"fault map: {name}={value!r} must be a positive integer")
        if self.voltage_unit not in VOLTAGE_UNITS:
            raise InputError(f"fault map: voltage_unit {self.voltage_unit!r}: use V or Vmin")
        if not self.voltages:
            raise InputError("fault map: no voltages (each needs its stuck-at-0 and stuck-at-1 cells)")
        if not (len(self.voltages) == len(self.stuck0) == len(self.stuck1)):
            raise InputError("fault map: one stuck-at-0 and one stuck-at-1 list per voltage")
        vs = np.asarray(self.voltages, float)
        if np.unique(vs).size != vs.size:
            raise InputError(f"fault map: a voltage appears twice in {list(self.voltages)}")
        n = self.n_cells
        cleaned0, cleaned1 = [], []
        for v, a, b in zip(self.voltages, self.stuck0, self.stuck1, strict=True):
            a = np.unique(np.asarray(a, np.int64))
            b = np.unique(np.asarray(b, np.int64))
            for what, arr in (("stuck-at-0", a), ("stuck-at-1", b)):
                if arr.size and (arr[0] < 0 or arr[-1] >= n):
                    raise InputError(
                        f"fault map at {v:g} {self.voltage_unit}: a {what} cell index lies outside "
                        f"0..{n - 1} (banks x rows x cols = {self.banks} x {self.rows} x {self.cols})"
                    )
            both = np.intersect1d(a, b)
            if both.size:
                raise InputError(
                    f"fault map at {v:g} {self.voltage_unit}: {both.size} cells are stuck at 0 and at 1 "
                    f"(first: cell {int(both[0])}): a cell reads one value; fix the listing"
                )
            cleaned0.append(a)
            cleaned1.append(b)
        object.__setattr__(self, "stuck0", tuple(cleaned0))
        object.__setattr__(self, "stuck1", tuple(cleaned1))
        object.__setattr__(self, "voltages", tuple(float(v) for v in self.voltages))

    # ------------------------------------------------------------ what it holds

    @property
    def n_cells(self) -> int:
        return int(self.banks) * int(self.rows) * int(self.cols)

    def index(self, voltage: float) -> int:
        """Position of ``voltage`` in :attr:`voltages`; InputError listing them when it is not there."""
        for i, v in enumerate(self.voltages):
            if abs(v - float(voltage)) <= _TOLERANCE * max(1.0, abs(v)):
                return i
        held = ", ".join(f"{v:g}" for v in sorted(self.voltages, reverse=True))
        raise InputError(
            f"the fault map holds no measurement at {float(voltage):g} {self.voltage_unit}; it holds {held}"
        )

    def faulty(self, voltage: float) -> np.ndarray:
        """Cells faulty at ``voltage`` (stuck at either value), sorted."""
        i = self.index(voltage)
        return np.union1d(self.stuck0[i], self.stuck1[i])

    def faulty_rate(self, voltage: float) -> float:
        """Faulty cells / all measured cells at ``voltage`` (the map's faulty-cell rate)."""
        i = self.index(voltage)
        return (self.stuck0[i].size + self.stuck1[i].size) / self.n_cells

    def share_stuck0(self, voltage: float) -> float | None:
        """Stuck-at-0 cells / faulty cells at ``voltage`` (None without faulty cells)."""
        i = self.index(voltage)
        total = self.stuck0[i].size + self.stuck1[i].size
        return None if total == 0 else self.stuck0[i].size / total

    def nested(self) -> list[tuple[float, float, bool]]:
        """For each pair of neighbouring voltages (higher, lower): is every cell faulty at the higher
        voltage faulty at the lower one too?"""
        order = sorted(self.voltages, reverse=True)
        return [
            (hi, lo, bool(np.isin(self.faulty(hi), self.faulty(lo)).all()))
            for hi, lo in zip(order, order[1:], strict=False)
        ]

    def summary(self) -> list[dict[str, Any]]:
        """One row per voltage, highest first: faulty cells, faulty-cell rate, share stuck at 0, and
        whether the faulty set contains the one at the next higher voltage."""
        order = sorted(self.voltages, reverse=True)
        nested_with_higher = {lo: ok for _, lo, ok in self.nested()}
        rows = []
        for v in order:
            i = self.index(v)
            rows.append(
                {
                    "voltage": v,
                    "faulty_cells": int(self.stuck0[i].size + self.stuck1[i].size),
                    "faulty_rate": self.faulty_rate(v),
                    "stuck0_share": self.share_stuck0(v),
                    "contains_higher": nested_with_higher.get(v),
                }
            )
        return rows

    def fingerprint(self) -> str:
        """SHA-256 of the geometry, voltages and every stuck cell (what a result depends on)."""
        digest = hashlib.sha256()
        digest.update(f"{FORMAT}|{self.rows}|{self.cols}|{self.banks}|{self.voltage_unit}".encode())
        for i in np.argsort(self.voltages):
            digest.update(np.float64(self.voltages[i]).tobytes())
            digest.update(self.stuck0[i].tobytes())
            digest.update(b"|")
            digest.update(self.stuck1[i].tobytes())
        return digest.hexdigest()

    # ------------------------------------------------------------ the file

    def save(self, path: str | os.PathLike) -> Path:
        """Write the ``.npz`` (format in the module docstring) atomically; return its path."""
        path = Path(path)
        arrays: dict[str, Any] = {
            "format": np.array(FORMAT),
            "rows": np.array(self.rows, np.int64),
            "cols": np.array(self.cols, np.int64),
            "banks": np.array(self.banks, np.int64),
            "voltages": np.asarray(self.voltages, np.float64),
            "voltage_unit": np.array(self.voltage_unit),
            "chip": np.array(self.chip),
            "source": np.array(self.source),
        }
        for i in range(len(self.voltages)):
            arrays[f"sa0_{i}"] = self.stuck0[i]
            arrays[f"sa1_{i}"] = self.stuck1[i]
        with atomic_file(path) as fh:  # the user's umask, like every result file (0o600 before)
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ChipMeasurement:
        """Read a ``.npz`` fault map; InputError naming what is wrong with it."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"no fault map at {path}: write one with `wcatsim sram import-map`")
        try:
            with np.load(path, allow_pickle=False) as data:
                keys = set(data.files)
                need = {"format", "rows", "cols", "banks", "voltages"}
                if not need <= keys:
                    raise InputError(
                        f"{path} is not a wcatsim fault map: missing {', '.join(sorted(need - keys))} "
                        "(write it with `wcatsim sram import-map`)"
                    )
                if str(data["format"]) != FORMAT:
                    raise InputError(f"{path}: format {str(data['format'])!r}, expected {FORMAT!r}")
                voltages = tuple(float(v) for v in np.asarray(data["voltages"], float).reshape(-1))
                missing = [f"sa{k}_{i}" for i in range(len(voltages)) for k in (0, 1)
                           if f"sa{k}_{i}" not in keys]  # fmt: skip
                if missing:
                    raise InputError(f"{path}: missing the stuck-cell arrays {', '.join(missing)}")
                return cls(
                    rows=int(data["rows"]),
                    cols=int(data["cols"]),
                    banks=int(data["banks"]),
                    voltages=voltages,
                    stuck0=tuple(np.asarray(data[f"sa0_{i}"], np.int64) for i in range(len(voltages))),
                    stuck1=tuple(np.asarray(data[f"sa1_{i}"], np.int64) for i in range(len(voltages))),
                    voltage_unit=str(data["voltage_unit"]) if "voltage_unit" in keys else "V",
                    chip=str(data["chip"]) if "chip" in keys else "",
                    source=str(data["source"]) if "source" in keys else "",
                )
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            # a cut download or a damaged disk: the zip directory or a compressed array does not read back
            raise InputError(
                f"{path} is a truncated or corrupt .npz fault map ({_error_name(exc)}: "
                f"{str(exc)[:80]}); copy it again or write it again with `wcatsim sram import-map`"
            ) from None
        except (OSError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(
                f"{path} is not a .npz fault map: write one with `wcatsim sram import-map`"
            ) from None


def _error_name(exc: BaseException) -> str:
    return "zlib.error" if isinstance(exc, zlib.error) else type(exc).__name__


# ---------------------------------------------------------------- importers


def _read_dense(path: Path, rows: int, cols: int) -> np.ndarray:
    try:
        bitmap = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as exc:
        raise InputError(f"{path.name}: not a comma-separated 0/1 bitmap ({exc})") from None
    if bitmap.shape[0] < rows or bitmap.shape[1] < cols:
        raise InputError(
            f"{path.name} is {bitmap.shape[0]} x {bitmap.shape[1]}, "
            f"smaller than `option.rows` {rows} x `option.cols` {cols}"
        )
    bitmap = bitmap[:rows, :cols]  # NeuralFuse keeps the top-left MEM_ROWS x MEM_COLS
    if bitmap.size and (bitmap.min() < 0 or bitmap.max() > 1):
        raise InputError(f"{path.name}: a bitmap holds only 0 and 1 (found {int(bitmap.max())})")
    return np.flatnonzero(bitmap.reshape(-1)).astype(np.int64)


def _read_list(path: Path, rows: int, cols: int, banks: int) -> tuple[np.ndarray, np.ndarray]:
    cells: tuple[list[int], list[int]] = ([], [])
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        fields = [f for f in re.split(r"[,\s]+", text) if f]
        try:
            values = [int(f) for f in fields]
        except ValueError:
            raise InputError(f"{path.name} line {n}: {line.strip()!r} is not integers") from None
        if len(values) == 3:
            values = [0, *values]
        if len(values) != 4:
            raise InputError(f"{path.name} line {n}: give row,col,stuck or bank,row,col,stuck")
        bank, row, col, stuck = values
        if not (0 <= bank < banks and 0 <= row < rows and 0 <= col < cols and stuck in (0, 1)):
            raise InputError(
                f"{path.name} line {n}: {line.strip()!r} is outside {banks} bank(s) x {rows} x {cols} "
                "or stuck is not 0/1"
            )
        cells[stuck].append((bank * rows + row) * cols + col)
    return np.asarray(cells[0], np.int64), np.asarray(cells[1], np.int64)


def import_listing(
    listing_dir: str | os.PathLike,
    rows: int,
    cols: int,
    *,
    banks: int = 1,
    voltage_unit: str = "V",
    chip: str = "",
    source: str = "",
    swap_polarity: bool = False,
) -> ChipMeasurement:
    """A :class:`ChipMeasurement` from NeuralFuse bitmaps and/or address lists in ``listing_dir``.

    Dense bitmaps (``fmap_sa0_v_<V>.txt`` + ``fmap_sa1_v_<V>.txt``) describe one array (banks = 1)
    and are cut to their top-left ``rows`` x ``cols``; address lists (``faults_v_<V>.txt``) may name
    banks.  One voltage comes from one of the two forms, not both.
    """
    folder = Path(listing_dir)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a directory of fault-map files (fmap_sa0_v_<V>.txt, ...)")
    for name, value in (("`option.rows`", rows), ("`option.cols`", cols), ("`option.banks`", banks)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    dense: dict[float, dict[int, Path]] = {}
    lists: dict[float, Path] = {}
    for path in sorted(folder.iterdir()):
        m = _DENSE.match(path.name)
        if m:
            dense.setdefault(_voltage_from(m.group(2), path), {})[int(m.group(1))] = path
            continue
        m = _LIST.match(path.name)
        if m:
            lists[_voltage_from(m.group(1), path)] = path
    if not dense and not lists:
        raise InputError(
            f"{folder} holds no fmap_sa0_v_<V>.txt / fmap_sa1_v_<V>.txt bitmaps or faults_v_<V>.txt lists"
        )
    if dense and banks != 1:
        raise InputError("dense fmap_sa*_v_<V>.txt bitmaps describe one array: use `option.banks` 1")
    for v, pair in dense.items():
        if set(pair) != {0, 1}:
            have = pair[next(iter(pair))].name
            raise InputError(
                f"{have} has no partner: each voltage needs both fmap_sa0_v_ and fmap_sa1_v_ files"
            )
        if v in lists:
            raise InputError(f"{v:g}: both bitmaps and {lists[v].name}; keep one form per voltage")
    voltages, s0, s1 = [], [], []
    for v in sorted(set(dense) | set(lists), reverse=True):
        if v in dense:
            a = _read_dense(dense[v][0], rows, cols)
            b = _read_dense(dense[v][1], rows, cols)
        else:
            a, b = _read_list(lists[v], rows, cols, banks)
        if swap_polarity:
            a, b = b, a
        voltages.append(v)
        s0.append(a)
        s1.append(b)
    return ChipMeasurement(
        rows=int(rows), cols=int(cols), banks=int(banks), voltages=tuple(voltages),
        stuck0=tuple(s0), stuck1=tuple(s1), voltage_unit=voltage_unit,
        chip=chip or folder.name, source=source or f"imported from {folder}",
    )  # fmt: skip


# ---------------------------------------------------------------- the fault model


def map_onto_image(
    measured: np.ndarray, n_cells: int, image: MemoryImage, tile_offset: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(image cell positions, index into ``measured``) of every image cell that reads a measured cell
    in ``measured`` (linear indices on a chip of ``n_cells`` cells); see the module docstring."""
    lay = image.layout
    width = lay.phys_bits * lay.interleave
    n_rows = -(-image.n_words // lay.interleave)
    total = n_rows * width  # linear cells of the image's rows (the last row may hold empty slots)
    tiles = -(-total // n_cells)
    m = np.asarray(measured, np.int64)
    t = np.arange(tiles, dtype=np.int64)[:, None]
    linear = t * n_cells + np.mod(m[None, :] - t * int(tile_offset), n_cells)
    which = np.broadcast_to(np.arange(m.size, dtype=np.int64)[None, :], linear.shape)
    linear, which = linear.reshape(-1), which.reshape(-1)
    keep = linear < total
    linear, which = linear[keep], which[keep]
    row, column = np.divmod(linear, width)
    bit, slot = np.divmod(column, lay.interleave)
    word = row * lay.interleave + slot
    keep = word < image.n_words
    return word[keep] * lay.phys_bits + bit[keep], which[keep]


@dataclass
class MeasuredFaultMap(FaultModel):
    """A measured chip's stuck cells as a fault model: at each voltage the map holds, the image's
    cells that sit on stuck measured cells read the stuck value (module docstring: mapping, tiling).

    One chip: ``corrupt`` ignores ``seed``; ``voltage`` must be one the map holds.  ``protect_msb``
    and the layout's ``msb-8t`` keep the sign bits they protect fault-free, as for every model.
    """

    chip: ChipMeasurement | str | os.PathLike | None = None
    tile_offset: int = 0
    """cells by which each further tile of the chip is shifted (0: every tile reads the chip as is)"""
    protect_msb: float = 0.0
    ber: float | None = field(default=None, init=False, repr=False)
    technology: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.chip, (str, os.PathLike)):
            self.chip = ChipMeasurement.load(self.chip)
        if not isinstance(self.chip, ChipMeasurement):
            raise InputError("MeasuredFaultMap needs chip= a ChipMeasurement or the path of a .npz fault map")
        if isinstance(self.tile_offset, bool) or not isinstance(self.tile_offset, (int, np.integer)):
            raise InputError(f"tile_offset={self.tile_offset!r} must be an integer number of cells")
        self.protect_msb = _check_fraction(self.protect_msb, "protect_msb")

    _stuck = True  # measured cells are stuck: the cell rate is the faulty-cell rate

    def rate(self, voltage: float | None = None) -> float:
        """The map's faulty-cell rate at ``voltage``."""
        if voltage is None:
            raise InputError("MeasuredFaultMap: pass voltage= (one the map holds)")
        assert isinstance(self.chip, ChipMeasurement)
        return self.chip.faulty_rate(voltage)

    def bit_error_rate(self, voltage: float | None = None) -> float:
        """Half the faulty-cell rate: a stuck cell reads wrong when it stores the other value, for random
        data half the time (the convention of every stuck model)."""
        return self.rate(voltage) / 2.0

    def stuck_cells(self, image: MemoryImage, voltage: float) -> tuple[np.ndarray, np.ndarray]:
        """(image cell positions, stuck values) at ``voltage``, before sign protection."""
        chip = self.chip
        assert isinstance(chip, ChipMeasurement)
        i = chip.index(voltage)
        measured = np.concatenate([chip.stuck0[i], chip.stuck1[i]])
        values = np.concatenate(
            [np.zeros(chip.stuck0[i].size, np.uint8), np.ones(chip.stuck1[i].size, np.uint8)]
        )
        positions, which = map_onto_image(measured, chip.n_cells, image, self.tile_offset)
        return positions, values[which]

    def corrupt(self, image: MemoryImage, seed: int = 0, voltage: float | None = None) -> FaultResult:
        self._check_image(image)
        if voltage is None:
            raise InputError("MeasuredFaultMap: pass voltage= (one the map holds)")
        positions, values = self.stuck_cells(image, voltage)
        return self._apply(image, positions, values, already_sorted=False)


__all__ = ["FORMAT", "ChipMeasurement", "MeasuredFaultMap", "import_listing", "map_onto_image"]
