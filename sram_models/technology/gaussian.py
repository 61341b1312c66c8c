"""A technology kind: cell failure voltages normally distributed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sram_models.errors import InputError
from sram_models.technology.base import Technology


@dataclass(frozen=True)
class GaussianCellModel(Technology):
    """Cell failure voltages ~ N(mu, sigma): BER(V) = Phi((mu - V) / sigma)."""

    mu: float = 0.0
    """mean failure voltage (preset's voltage unit)"""
    sigma: float = 1.0
    """standard deviation of the failure voltage"""
    read_energy_pj: float | None = None
    """read energy per access at v_nominal (pJ), None if unpublished; the array share of it
    (cell_voltage_share) scales as (V/v_nominal)^2, the rest stays"""
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
        self._check_meaning()

    def _ber(self, v: np.ndarray) -> np.ndarray:
        from scipy.special import ndtr

        return ndtr((self.mu - v) / self.sigma)

    def _read_energy_norm(self, v: np.ndarray) -> np.ndarray:
        s = self.cell_voltage_share
        return (1.0 - s) + s * (v / self.v_nominal) ** 2

    def _read_energy(self, v: np.ndarray) -> np.ndarray | None:
        return None if self.read_energy_pj is None else self.read_energy_pj * self._read_energy_norm(v)

    def _leakage_norm(self, v: np.ndarray) -> np.ndarray:
        return (v / self.v_nominal) ** self.leakage_exponent

    def _leakage(self, v: np.ndarray) -> np.ndarray | None:
        return None if self.leakage_mw is None else self.leakage_mw * self._leakage_norm(v)
