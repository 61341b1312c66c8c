"""A technology kind: measured points, interpolated."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sram_models.errors import InputError
from sram_models.technology.base import _VOLTAGE_TOLERANCE, Technology


@dataclass(frozen=True)
class TabulatedTechnology(Technology):
    """Measured points; BER interpolated in log10 space, energy and leakage linearly."""

    voltages: tuple[float, ...] = field(default=())
    """table voltages, strictly increasing (the loader sorts them)"""
    bers: tuple[float, ...] = field(default=())
    """BER at each voltage (meaning: ber_meaning), > 0 and not increasing with V"""
    read_energies_pj: tuple[float, ...] | None = None
    """read energy per access (pJ) at each voltage, or None"""
    leakages_mw: tuple[float, ...] | None = None
    """leakage power (mW) at each voltage as the source gives it, or None"""
    full_leakages_mw: tuple[float, ...] | None = None
    """leakage of the full, ungated array (mW) at each voltage, where the source's column is that of
    a cache with its faulty blocks power-gated (the preset file says how it was derived); the energy
    model uses it instead of ``leakages_mw``"""

    def __post_init__(self) -> None:
        super().__post_init__()
        v = np.asarray(self.voltages, float)
        if v.size < 2 or len(self.bers) != v.size:
            raise InputError(f"preset {self.name}: a table needs at least two rows of voltage and ber")
        if np.any(np.diff(v) <= 0):
            raise InputError(f"preset {self.name}: table voltages must be distinct")
        b = np.asarray(self.bers, float)
        if np.any(b <= 0) or np.any(b > 1):
            raise InputError(f"preset {self.name}: every ber must be in (0, 1] (log interpolation)")
        if np.any(np.diff(b) > 0):
            raise InputError(f"preset {self.name}: ber must not increase with voltage")
        if self.v_low < v[0] - _VOLTAGE_TOLERANCE or self.v_high > v[-1] + _VOLTAGE_TOLERANCE:
            raise InputError(
                f"preset {self.name}: v_low..v_high ({self.v_low}..{self.v_high}) must lie inside the "
                f"table's {v[0]}..{v[-1]}"
            )
        for name in ("read_energies_pj", "leakages_mw", "full_leakages_mw"):
            col = getattr(self, name)
            if col is not None and (len(col) != v.size or np.any(np.asarray(col, float) <= 0)):
                raise InputError(f"preset {self.name}: {name} needs one positive value per row")
        if (self.read_energies_pj is None) != (self.leakages_mw is None):
            raise InputError(f"preset {self.name}: give both read energy and leakage columns, or neither")
        if self.read_energies_pj is not None and self.cycle_time_ns is None:
            raise InputError(f"preset {self.name}: absolute energies need cycle_time_ns")
        if self.full_leakages_mw is not None and self.leakages_mw is None:
            raise InputError(f"preset {self.name}: leakage_full_mw needs the leakage_mw column beside it")
        self._check_meaning()

    def _ber(self, v: np.ndarray) -> np.ndarray:
        return 10.0 ** np.interp(v, self.voltages, np.log10(self.bers))

    def _read_energy(self, v: np.ndarray) -> np.ndarray | None:
        if self.read_energies_pj is None:
            return None
        return np.interp(v, self.voltages, self.read_energies_pj)

    def _read_energy_norm(self, v: np.ndarray) -> np.ndarray:
        if self.read_energies_pj is None:
            return (v / self.v_nominal) ** 2  # no measured energy: the C·V² law
        return self._read_energy(v) / np.interp(self.v_nominal, self.voltages, self.read_energies_pj)

    def _leakage(self, v: np.ndarray) -> np.ndarray | None:
        column = self.full_leakages_mw if self.full_leakages_mw is not None else self.leakages_mw
        if column is None:
            return None
        return np.interp(v, self.voltages, column)

    def _leakage_norm(self, v: np.ndarray) -> np.ndarray:
        if self.leakages_mw is None:
            return (v / self.v_nominal) ** 2
        return self._leakage(v) / self._leakage(np.asarray(self.v_nominal, np.float64))

    def source_leakage_power(self, v: float | np.ndarray) -> float | np.ndarray | None:
        """The source's own leakage column (mW; a gated cache where ``full_leakages_mw`` is given)."""
        arr = self.check_voltage(v)
        if self.leakages_mw is None:
            return None
        return self._out(v, np.interp(arr, self.voltages, self.leakages_mw))
