"""SRAM technologies: bit error rate, read energy, leakage and access time against the supply voltage.

Two kinds (see ``../shared/DESIGN.md``):

- :class:`GaussianCellModel`: each cell's failure voltage ~ N(mu, sigma), so
  ``BER(V) = Phi((mu - V) / sigma)``; read energy ∝ V² on the part of an access at
  the cell supply; leakage ∝ V^n (a fit).
- :class:`TabulatedTechnology`: measured points, BER interpolated linearly in
  log10(BER) (monotone between points), energy and leakage linearly.

Voltages are in the preset's own unit (``voltage_unit``: volts, or multiples of
Vmin for presets normalised that way).  Every query outside ``[v_low, v_high]``
is an :class:`InputError` naming the range: no silent extrapolation.

**The bit-error convention.**  ``ber(v)`` is the preset's curve as its source
measured it; ``ber_meaning`` says what that is: ``"faulty_cell"`` (the share of
cells that fail at V, whatever they store: a failed cell is stuck and reads
wrong only when it stores the other value) or ``"bit_error"`` (the share of bits
read wrong when random data is stored).  Every fault model works from
:meth:`Technology.bit_error_rate` (the probability that a stored bit of random
data reads wrong) and :meth:`Technology.faulty_cell_rate` (= 2 x that: a faulty
cell stuck at 0 or 1 reads wrong half the time on random data), so that
transient flips and stuck-at chips change the same expected number of bits at
one voltage.

**Which parts of an access run at the cell voltage** (one assumption, shared by
energy and timing): the array (cells, word lines, bit lines) runs at the swept
supply V; the periphery (decoders, sense amplifiers, I/O) stays at nominal.
``cell_voltage_share`` is the share of an access's energy and of its delay at
nominal that belongs to the array.  The read energy at V is then
``(1 - s) + s (V/Vnom)^2`` of nominal for Gaussian presets (tabulated presets
carry their source's energy column), and the access time is
``t(V) = t_nom [(1 - s) + s d(V)/d(Vnom)]`` with the array delay
``d(V) = V / I_on(V)`` (C V / I) and the EKV on-current interpolation
(Enz, Krummenacher & Vittoz, Analog Integr. Circ. Sig. Process. 8, 1995)
``I_on ∝ ln²(1 + exp((V - Vth) / (2 n φt)))``, φt = kT/q at 300 K: it is the
square law above threshold and the exponential below it, with no singularity at
Vth (the alpha-power law diverges there), so it holds down to the lowest
voltage of every shipped preset.  Vth and n are preset fields
(``delay_vth``, ``delay_n``, in volts); a preset in units of Vmin states the
Vmin in volts it assumes for timing (``vmin_volts``).

Energy bases (stated in each preset file): ``read_energy`` is per access of
``access_bits`` bits, ``leakage_power`` is that of an array of ``leakage_bits``
cells (the full, ungated array); :mod:`sram_models.energy` scales both to the
words and cells an image uses and to the time its reads take.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sram_models.errors import InputError

# Queries at a range end computed by A:B:STEP parsing may be off by float rounding.
_VOLTAGE_TOLERANCE = 1e-9
BER_MEANINGS = ("faulty_cell", "bit_error")
# Thermal voltage kT/q at 300 K (k = 1.380649e-23 J/K, q = 1.602176634e-19 C): the EKV delay model's φt.
THERMAL_VOLTAGE = 1.380649e-23 * 300.0 / 1.602176634e-19


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
    """access time at v_nominal (ns), which is also the clock period of a memory read at the speed of
    its arrays; at other voltages it follows :meth:`access_time`.  None: no absolute timing"""
    leakage_share_nominal: float = 0.0
    """presets without absolute figures only: the leakage share of the energy of one full 512-row
    array read once, row by row through one bank, at v_nominal (converted by sram_models.energy to a
    leakage per cell and cycle in units of the read energy per bit, so energies of several arrays add)"""
    notes: str = ""
    ber_meaning: str = "faulty_cell"
    """what ``ber(v)`` counts: "faulty_cell" (cells failing at V) or "bit_error" (bits of random data
    read wrong); see the module docstring"""
    cell_voltage_share: float = 1.0
    """share of an access's energy and delay at nominal that belongs to the array at the cell supply
    (the rest, the periphery, stays at nominal); 1.0: the whole access scales with V"""
    delay_vth: float | None = None
    """threshold voltage (volts) of the EKV on-current in the array delay; None: no delay model"""
    delay_n: float | None = None
    """subthreshold slope factor n (>= 1) of the EKV on-current"""
    vmin_volts: float | None = None
    """presets in units of Vmin: the Vmin in volts that the delay model assumes"""

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
        if self.ber_meaning not in BER_MEANINGS:
            raise InputError(
                f"preset {self.name}: ber_meaning={self.ber_meaning!r}: use faulty_cell (share of cells "
                "that fail at V) or bit_error (share of bits of random data read wrong)"
            )
        if not 0.0 < self.cell_voltage_share <= 1.0:
            raise InputError(f"preset {self.name}: cell_voltage_share must be in (0, 1]")
        if (self.delay_vth is None) != (self.delay_n is None):
            raise InputError(
                f"preset {self.name}: give both delay_vth and delay_n (the EKV delay model), or neither"
            )
        if self.delay_vth is not None:
            if not self.delay_vth > 0 or not self.delay_n >= 1.0:  # type: ignore[operator]
                raise InputError(f"preset {self.name}: delay_vth must be > 0 V and delay_n >= 1")
            if self.voltage_unit == "Vmin" and self.vmin_volts is None:
                raise InputError(
                    f"preset {self.name}: voltages are in units of Vmin: give vmin_volts (the Vmin in volts "
                    "the delay model assumes)"
                )
        if self.vmin_volts is not None and not self.vmin_volts > 0:
            raise InputError(f"preset {self.name}: vmin_volts must be positive")

    def _check_meaning(self) -> None:
        # Called by the subclasses once their curve is complete.
        if self.ber_meaning == "bit_error" and float(self._ber(np.asarray(self.v_low))) > 0.5:
            raise InputError(
                f"preset {self.name}: ber_meaning = bit_error but BER({self.v_low:g}) > 0.5: a faulty cell "
                "reads wrong half the time on random data, so no share of faulty cells gives that; "
                "raise v_low or check the curve"
            )

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
        """The preset's BER at supply ``v``, meaning what ``ber_meaning`` says."""
        return self._out(v, self._ber(self.check_voltage(v)))

    def bit_error_rate(self, v: float | np.ndarray) -> float | np.ndarray:
        """Probability that a stored bit of random data reads wrong at ``v`` (every fault model's input)."""
        p = self._ber(self.check_voltage(v))
        return self._out(v, p / 2.0 if self.ber_meaning == "faulty_cell" else p)

    def faulty_cell_rate(self, v: float | np.ndarray) -> float | np.ndarray:
        """Probability that a cell is faulty (stuck) at ``v``: 2 x :meth:`bit_error_rate`."""
        p = self._ber(self.check_voltage(v))
        return self._out(v, p if self.ber_meaning == "faulty_cell" else 2.0 * p)

    def read_energy(self, v: float | np.ndarray) -> float | np.ndarray | None:
        """Energy per access of ``access_bits`` bits in pJ, or None without absolute figures."""
        out = self._read_energy(self.check_voltage(v))
        return None if out is None else self._out(v, out)

    def read_energy_norm(self, v: float | np.ndarray) -> float | np.ndarray:
        """Read energy relative to ``v_nominal`` (always defined)."""
        return self._out(v, self._read_energy_norm(self.check_voltage(v)))

    def leakage_power(self, v: float | np.ndarray) -> float | np.ndarray | None:
        """Leakage of the preset's full array (``leakage_bits`` cells) in mW, or None: the figure the
        energy model uses (for dpcs45 the ungated curve derived from the source's column)."""
        out = self._leakage(self.check_voltage(v))
        return None if out is None else self._out(v, out)

    def leakage_norm(self, v: float | np.ndarray) -> float | np.ndarray:
        """Leakage power relative to ``v_nominal``."""
        return self._out(v, self._leakage_norm(self.check_voltage(v)))

    def source_leakage_power(self, v: float | np.ndarray) -> float | np.ndarray | None:
        """The leakage figure as the source gives it (mW, or None); :meth:`leakage_power` unless a
        tabulated preset derives a full-array curve from a gated one."""
        return self.leakage_power(v)

    @property
    def has_absolute_energy(self) -> bool:
        return self._read_energy(np.asarray(self.v_nominal)) is not None

    # ------------------------------------------------------------ timing

    @property
    def has_delay_model(self) -> bool:
        """True when the preset gives the EKV delay parameters (delay_vth, delay_n)."""
        return self.delay_vth is not None

    def volts(self, v: float | np.ndarray) -> float | np.ndarray:
        """``v`` (the preset's unit) in volts; presets in units of Vmin use ``vmin_volts``."""
        arr = np.asarray(v, dtype=np.float64)
        if self.voltage_unit == "Vmin":
            if self.vmin_volts is None:
                raise InputError(f"preset {self.name} is in units of Vmin and gives no vmin_volts")
            arr = arr * self.vmin_volts
        return self._out(v, arr)

    def _array_delay(self, v: np.ndarray) -> np.ndarray:
        volts = np.asarray(self.volts(v), np.float64)
        x = (volts - float(self.delay_vth)) / (2.0 * float(self.delay_n) * THERMAL_VOLTAGE)  # type: ignore[arg-type]
        current = np.logaddexp(0.0, x) ** 2  # ln(1 + e^x)^2 without overflow
        return volts / current

    def access_time_norm(self, v: float | np.ndarray) -> float | np.ndarray:
        """Access time at ``v`` over that at v_nominal: (1 - s) + s d(V)/d(Vnom) (module docstring)."""
        arr = self.check_voltage(v)
        if not self.has_delay_model:
            raise InputError(
                f"preset {self.name} has no delay model: give delay_vth and delay_n (volts; EKV on-current) "
                "in the preset, or a fixed inference time (`memory.inference_time_ns`)"
            )
        s = self.cell_voltage_share
        ratio = self._array_delay(arr) / self._array_delay(np.asarray(self.v_nominal, np.float64))
        return self._out(v, (1.0 - s) + s * ratio)

    def access_time(self, v: float | np.ndarray) -> float | np.ndarray | None:
        """Access time in ns at ``v`` (the clock period of a read at array speed), or None without
        an absolute figure (``cycle_time_ns``)."""
        norm = self.access_time_norm(v)
        return None if self.cycle_time_ns is None else self._out(v, np.asarray(norm) * self.cycle_time_ns)

    # ------------------------------------------------------------ identity

    def describe(self) -> dict[str, Any]:
        """Every field of the technology (table rows included) and its kind, as plain JSON values."""
        out: dict[str, Any] = {"kind": type(self).__name__}
        for key, value in asdict(self).items():
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    def fingerprint(self) -> str:
        """SHA-256 of :meth:`describe`: equal for two technologies exactly when every number is equal."""
        text = json.dumps(self.describe(), sort_keys=True, separators=(",", ":"), default=repr)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
