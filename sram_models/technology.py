"""SRAM technologies: bit error rate, read energy and leakage as functions of the supply voltage.

Two kinds (see ``../shared/DESIGN.md``):

- :class:`GaussianCellModel`: each cell's failure voltage ~ N(mu, sigma), so
  ``BER(V) = Phi((mu - V) / sigma)``; read energy ∝ V²; leakage ∝ V^n (a fit).
- :class:`TabulatedTechnology`: measured points, BER interpolated linearly in
  log10(BER) (monotone between points), energy and leakage linearly.

Voltages are in the preset's own unit (``voltage_unit``: volts, or multiples of
Vmin for presets normalised that way).  Every query outside ``[v_low, v_high]``
is an :class:`InputError` naming the range: no silent extrapolation.

Energy bases (stated in each preset file): ``read_energy`` is per access of
``access_bits`` bits, ``leakage_power`` is that of an array of ``leakage_bits``
cells; :func:`sram_models.energy.inference_energy` scales both to the words and
cells an image uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sram_models.errors import InputError

# Queries at a range end computed by A:B:STEP parsing may be off by float rounding.
_VOLTAGE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Technology:
    """Common fields and checks; use :class:`GaussianCellModel` or :class:`TabulatedTechnology`."""

    name: str
    node: str
    """process node, e.g. "14 nm" """
    source: str
    """publication (and table/figure) the numbers come from"""
    v_nominal: float
    """nominal supply; normalised energies are relative to it"""
    v_min: float
    """lowest error-free voltage as the source defines it"""
    v_low: float
    """lowest voltage the model is valid for"""
    v_high: float
    """highest voltage the model is valid for"""
    voltage_unit: str = "V"
    """"V" (volts) or "Vmin" (multiples of the array's lowest error-free voltage)"""
    access_bits: int = 64
    """bits read per access that ``read_energy`` refers to"""
    leakage_bits: int = 32768
    """cells of the array whose leakage ``leakage_power`` gives"""
    cycle_time_ns: float | None = None
    """time per word access (ns); None when the preset has no absolute figures"""
    leakage_share_nominal: float = 0.0
    """leakage share of the energy per inference at v_nominal, used only for presets
    without absolute figures (to weight the normalised dynamic and leakage parts)"""
    notes: str = ""

    def __post_init__(self) -> None:
        if not self.v_low < self.v_high:
            raise InputError(f"preset {self.name}: v_low={self.v_low} must be below v_high={self.v_high}")
        if not self.v_low - _VOLTAGE_TOLERANCE <= self.v_nominal <= self.v_high + _VOLTAGE_TOLERANCE:
            raise InputError(
                f"preset {self.name}: v_nominal={self.v_nominal} must lie in v_low..v_high "
                f"({self.v_low}..{self.v_high})"
            )
        if self.access_bits < 1 or self.leakage_bits < 1:
            raise InputError(f"preset {self.name}: access_bits and leakage_bits must be positive")
        if self.cycle_time_ns is not None and not self.cycle_time_ns > 0:
            raise InputError(f"preset {self.name}: cycle_time_ns must be positive")
        if not 0.0 <= self.leakage_share_nominal < 1.0:
            raise InputError(f"preset {self.name}: leakage_share_nominal must be in [0, 1)")

    # ------------------------------------------------------------ checks

    def check_voltage(self, v: float | np.ndarray) -> np.ndarray:
        """``v`` as a float array; InputError naming the range if any value lies outside it."""
        arr = np.asarray(v, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise InputError(f"voltage {v!r} is not a finite number")
        bad = (arr < self.v_low - _VOLTAGE_TOLERANCE) | (arr > self.v_high + _VOLTAGE_TOLERANCE)
        if np.any(bad):
            first = float(arr[bad].flat[0])
            raise InputError(
                f"voltage {first:g} is outside {self.name}'s range {self.v_low:g}..{self.v_high:g} "
                f"{self.voltage_unit}: choose voltages in that range"
            )
        return np.clip(arr, self.v_low, self.v_high)

    @staticmethod
    def _out(v: float | np.ndarray, values: np.ndarray) -> float | np.ndarray:
        return float(values) if np.ndim(v) == 0 else values

    # ------------------------------------------------------------ the model (subclasses)

    def _ber(self, v: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _read_energy_norm(self, v: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _read_energy(self, v: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def _leakage(self, v: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def _leakage_norm(self, v: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------ public queries

    def ber(self, v: float | np.ndarray) -> float | np.ndarray:
        """Faulty-cell probability at supply ``v``."""
        return self._out(v, self._ber(self.check_voltage(v)))

    def read_energy(self, v: float | np.ndarray) -> float | np.ndarray | None:
        """Energy per access of ``access_bits`` bits in pJ, or None without absolute figures."""
        out = self._read_energy(self.check_voltage(v))
        return None if out is None else self._out(v, out)

    def read_energy_norm(self, v: float | np.ndarray) -> float | np.ndarray:
        """Read energy relative to ``v_nominal`` (always defined)."""
        return self._out(v, self._read_energy_norm(self.check_voltage(v)))

    def leakage_power(self, v: float | np.ndarray) -> float | np.ndarray | None:
        """Leakage of the preset's array (``leakage_bits`` cells) in mW, or None."""
        out = self._leakage(self.check_voltage(v))
        return None if out is None else self._out(v, out)

    def leakage_norm(self, v: float | np.ndarray) -> float | np.ndarray:
        """Leakage power relative to ``v_nominal``."""
        return self._out(v, self._leakage_norm(self.check_voltage(v)))

    @property
    def has_absolute_energy(self) -> bool:
        return self._read_energy(np.asarray(self.v_nominal)) is not None


@dataclass(frozen=True)
class GaussianCellModel(Technology):
    """Cell failure voltages ~ N(mu, sigma): BER(V) = Phi((mu - V) / sigma)."""

    mu: float = 0.0
    """mean failure voltage (preset's voltage unit)"""
    sigma: float = 1.0
    """standard deviation of the failure voltage"""
    read_energy_pj: float | None = None
    """read energy per access at v_nominal (pJ), None if unpublished; scales as (V/v_nominal)^2"""
    leakage_mw: float | None = None
    """leakage of the array at v_nominal (mW), None if unpublished"""
    leakage_exponent: float = 2.0
    """leakage power ∝ V^n"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.sigma > 0:
            raise InputError(f"preset {self.name}: sigma must be positive, got {self.sigma}")
        for name in ("read_energy_pj", "leakage_mw"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InputError(f"preset {self.name}: {name} must be positive (or absent), got {value}")
        if (self.read_energy_pj is None) != (self.leakage_mw is None):
            raise InputError(f"preset {self.name}: give both read_energy_pj and leakage_mw, or neither")
        if self.read_energy_pj is not None and self.cycle_time_ns is None:
            raise InputError(f"preset {self.name}: absolute energies need cycle_time_ns")

    def _ber(self, v: np.ndarray) -> np.ndarray:
        from scipy.special import ndtr

        return ndtr((self.mu - v) / self.sigma)

    def _read_energy_norm(self, v: np.ndarray) -> np.ndarray:
        return (v / self.v_nominal) ** 2

    def _read_energy(self, v: np.ndarray) -> np.ndarray | None:
        return None if self.read_energy_pj is None else self.read_energy_pj * self._read_energy_norm(v)

    def _leakage_norm(self, v: np.ndarray) -> np.ndarray:
        return (v / self.v_nominal) ** self.leakage_exponent

    def _leakage(self, v: np.ndarray) -> np.ndarray | None:
        return None if self.leakage_mw is None else self.leakage_mw * self._leakage_norm(v)


@dataclass(frozen=True)
class TabulatedTechnology(Technology):
    """Measured points; BER interpolated in log10 space, energy and leakage linearly."""

    voltages: tuple[float, ...] = field(default=())
    """table voltages, strictly increasing (the loader sorts them)"""
    bers: tuple[float, ...] = field(default=())
    """faulty-cell probability at each voltage, > 0 and not increasing with V"""
    read_energies_pj: tuple[float, ...] | None = None
    """read energy per access (pJ) at each voltage, or None"""
    leakages_mw: tuple[float, ...] | None = None
    """leakage power (mW) at each voltage, or None"""

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
        for name in ("read_energies_pj", "leakages_mw"):
            col = getattr(self, name)
            if col is not None and (len(col) != v.size or np.any(np.asarray(col, float) <= 0)):
                raise InputError(f"preset {self.name}: {name} needs one positive value per row")
        if (self.read_energies_pj is None) != (self.leakages_mw is None):
            raise InputError(f"preset {self.name}: give both read energy and leakage columns, or neither")
        if self.read_energies_pj is not None and self.cycle_time_ns is None:
            raise InputError(f"preset {self.name}: absolute energies need cycle_time_ns")

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
        if self.leakages_mw is None:
            return None
        return np.interp(v, self.voltages, self.leakages_mw)

    def _leakage_norm(self, v: np.ndarray) -> np.ndarray:
        if self.leakages_mw is None:
            return (v / self.v_nominal) ** 2
        return self._leakage(v) / np.interp(self.v_nominal, self.voltages, self.leakages_mw)
