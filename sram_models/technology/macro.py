"""A technology kind: a weight-buffer SRAM macro whose whole supply scales (not a cache).

Unlike the L1-cache preset ``dpcs45`` (a CACTI cache: tags and a periphery held at nominal), a
weight buffer of an accelerator is one macro on one rail.  Its three costs are kept apart, as the
energy model's columns are (dynamic read energy, leakage power, access time):

- **dynamic energy** per access, C V^2 with the periphery stated:
  ``E(V) / E(Vnom) = (1 - p) (V / Vnom)^2 + p (Vp(V) / Vnom)^2``, where ``p`` is the periphery's
  share of the access energy at nominal (``periphery_share``) and ``Vp(V)`` its supply: ``V`` when
  the periphery is on the scaled rail (``periphery_volts`` absent), a fixed voltage otherwise;
- **leakage power**, exponential in the supply (DIBL-dominated sub-threshold leakage):
  ``P(V) / P(Vnom) = exp(-(Vnom - V) / leakage_v0)``; ``leakage_v0`` (volts per e-fold) is fitted to
  a measured ratio with :func:`fit_leakage_v0` (e.g. 5.4x lower at -310 mV);
- **access time**, the alpha-power law (Sakurai & Newton, IEEE JSSC 25(2), 1990):
  ``t(V) / t(Vnom) = [V / (V - Vth)^alpha] / [Vnom / (Vnom - Vth)^alpha]``, with ``alpha_vth`` and
  ``alpha`` given by the preset (fitted or sourced; the file says which).  It diverges at Vth, so
  the preset's ``v_low`` must lie above ``alpha_vth``.

The BER curve is the Gaussian cell model's (``mu``, ``sigma``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sram_models.errors import InputError
from sram_models.technology.gaussian import GaussianCellModel


@dataclass(frozen=True)
class WeightMacroModel(GaussianCellModel):
    """A weight-buffer macro on one scaled rail: C V^2 dynamic energy, exponential leakage,
    alpha-power access time (module docstring)."""

    periphery_share: float = 0.0
    """share of the access energy at nominal spent in the periphery (decoders, sense amps, I/O)"""
    periphery_volts: float | None = None
    """the periphery's fixed supply (volts); None: it is on the scaled rail with the array"""
    leakage_v0: float = 0.0
    """volts per e-fold of leakage power: P(V) = P(Vnom) exp(-(Vnom - V) / leakage_v0)"""
    alpha: float = 0.0
    """alpha-power law exponent (1: velocity saturated, 2: long-channel square law)"""
    alpha_vth: float = 0.0
    """threshold voltage (volts) of the alpha-power law"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.voltage_unit != "V":
            raise InputError(f"preset {self.name}: a macro preset needs voltages in volts (voltage_unit = V)")
        if self.cell_voltage_share != 1.0:
            raise InputError(
                f"preset {self.name}: a macro scales its whole supply; state the periphery with "
                "periphery_share and periphery_volts, not cell_voltage_share"
            )
        if not 0.0 <= self.periphery_share < 1.0:
            raise InputError(f"preset {self.name}: periphery_share must be in [0, 1)")
        if self.periphery_volts is not None and not self.periphery_volts > 0:
            raise InputError(f"preset {self.name}: periphery_volts must be positive (or absent)")
        if not self.leakage_v0 > 0:
            raise InputError(f"preset {self.name}: leakage_v0 (volts per e-fold of leakage) must be positive")
        if not 1.0 <= self.alpha <= 2.0:
            raise InputError(f"preset {self.name}: alpha must be in [1, 2] (alpha-power law)")
        if not 0.0 < self.alpha_vth < self.v_low:
            raise InputError(
                f"preset {self.name}: alpha_vth={self.alpha_vth} must be positive and below "
                f"v_low={self.v_low} (the alpha-power delay diverges at Vth)"
            )

    def _read_energy_norm(self, v: np.ndarray) -> np.ndarray:
        p = self.periphery_share
        vp = v if self.periphery_volts is None else np.full_like(v, self.periphery_volts)
        at_nominal = (1.0 - p) + p * (
            1.0 if self.periphery_volts is None else (self.periphery_volts / self.v_nominal) ** 2
        )
        return ((1.0 - p) * (v / self.v_nominal) ** 2 + p * (vp / self.v_nominal) ** 2) / at_nominal

    def _leakage_norm(self, v: np.ndarray) -> np.ndarray:
        return np.exp(-(self.v_nominal - v) / self.leakage_v0)

    @property
    def has_delay_model(self) -> bool:
        """Always: the alpha-power law."""
        return True

    def access_time_norm(self, v: float | np.ndarray) -> float | np.ndarray:
        """Access time at ``v`` over that at v_nominal, by the alpha-power law."""
        arr = self.check_voltage(v)

        def delay(x: np.ndarray | float) -> np.ndarray:
            return np.asarray(x) / (np.asarray(x) - self.alpha_vth) ** self.alpha

        return self._out(v, delay(arr) / delay(self.v_nominal))


def fit_leakage_v0(delta_v: np.ndarray, ratios: np.ndarray) -> tuple[float, float | None]:
    """Fit ``ratio = exp(delta_v / v0)`` (leakage at nominal over leakage ``delta_v`` below it).

    Parameters
    ----------
    delta_v : array_like
        Supply reductions below nominal (volts, > 0).
    ratios : array_like
        Measured leakage reductions (P(Vnom) / P(Vnom - delta_v), > 1).

    Returns
    -------
    v0 : float
        Volts per e-fold: least squares of ``ln(ratio) = delta_v / v0`` through the origin,
        ``1 / v0 = sum(dv ln r) / sum(dv^2)``.
    stderr : float or None
        Standard error of ``v0`` (delta method from that of 1 / v0); None with a single ratio.
    """
    dv = np.asarray(delta_v, np.float64)
    y = np.log(np.asarray(ratios, np.float64))
    if dv.size < 1 or np.any(dv <= 0) or np.any(y <= 0):
        raise InputError("fit_leakage_v0 needs supply reductions > 0 and leakage ratios > 1")
    k = float(np.sum(dv * y) / np.sum(dv * dv))
    if dv.size == 1:
        return 1.0 / k, None
    s2 = float(np.sum((y - k * dv) ** 2)) / (dv.size - 1)
    se_k = np.sqrt(s2 / float(np.sum(dv * dv)))
    return 1.0 / k, float(se_k / k**2)
