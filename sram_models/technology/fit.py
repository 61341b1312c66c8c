"""Where a preset's BER(V) curve comes from: the points it is fitted to, the fit, its uncertainty.

A preset file's ``[fit]`` section (TOML) records, next to the curve the technology uses:

- ``model``: ``"gaussian"`` (``BER(V) = Phi((mu - V) / sigma)``, the :class:`GaussianCellModel`
  curve) or ``"interpolation"`` (a table preset: linear in log10(BER) through its rows, so it has
  no fitted parameters and zero residual at its rows);
- ``method``: how the parameters were obtained (in words);
- ``parameters`` and ``stderr``: the fitted values and their standard errors (``stderr`` absent when
  the fit is exactly determined: as many points as parameters, no residual degrees of freedom;
  ``uncertainty`` then says what bounds them instead);
- ``max_residual_decades``: the largest ``|log10(model BER / point BER)|`` over the fitted points;
- ``[[fit.points]]``: ``voltage``, ``ber``, ``kind`` (``measured`` | ``simulated`` | ``derived`` |
  ``assumed``), ``use`` (``fit``: the curve is fitted to it; ``compare``: shown beside the curve,
  not fitted), ``source`` (paper, table or figure) and optionally ``digitised = true`` (read off a
  figure) and ``note``;
- ``[[fit.power]]``: published power or energy points of the same source, relative to a reference
  voltage (``voltage``, ``ref_voltage``, ``ratio`` = value at ``voltage`` / value at ``ref_voltage``,
  ``quantity``, ``kind``, ``source``, and ``model``: the part of the preset's energy model it is
  checked against, ``read_energy`` (default, :meth:`read_energy_norm`) or ``leakage``
  (:meth:`leakage_norm`)), shown against the preset's own energy model with its residual;
- ``[fit.leakage]`` (a macro preset): ``method``, the fitted ``leakage_v0`` with its ``stderr`` and
  ``max_relative_residual``, the largest ``|model / measured - 1|`` over the leakage ratios it is
  fitted to (the ``[[fit.power]]`` points with ``model = "leakage"``).

The section is documentation the loader of the technology does not read: it changes no number of
the technology (and so no sweep fingerprint); ``wcatsim sram show`` prints it with the residuals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sram_models.errors import InputError

POINT_KINDS = ("measured", "simulated", "derived", "assumed")
POINT_USES = ("fit", "compare")
FIT_MODELS = ("gaussian", "interpolation")
POWER_MODELS = ("read_energy", "leakage")


@dataclass(frozen=True)
class FitPoint:
    """One BER point of a preset's curve, with where it comes from."""

    voltage: float
    ber: float
    kind: str
    """measured | simulated | derived | assumed"""
    source: str
    use: str = "fit"
    """fit (the curve is fitted to it) or compare (shown, not fitted)"""
    digitised: bool = False
    """True when the value was read off a figure"""
    note: str = ""


@dataclass(frozen=True)
class PowerPoint:
    """A published power or energy ratio between two voltages."""

    voltage: float
    ref_voltage: float
    ratio: float
    """value at ``voltage`` over value at ``ref_voltage``"""
    quantity: str
    kind: str
    source: str
    note: str = ""
    model: str = "read_energy"
    """the part of the preset's energy model the ratio is checked against: read_energy | leakage"""

    def model_ratio(self, tech: Any) -> float:
        """The preset's own ratio between the two voltages (read energy or leakage, as ``model``)."""
        curve = tech.leakage_norm if self.model == "leakage" else tech.read_energy_norm
        return float(curve(self.voltage)) / float(curve(self.ref_voltage))

    def residual(self, tech: Any) -> float:
        """``model ratio / measured ratio - 1``: the preset's relative error at this point."""
        return self.model_ratio(tech) / self.ratio - 1.0


@dataclass(frozen=True)
class LeakageFit:
    """The ``[fit.leakage]`` section of a macro preset: its leakage law fitted to measured ratios."""

    method: str
    leakage_v0: float
    """volts per e-fold of leakage power"""
    stderr: float | None
    """standard error of ``leakage_v0`` (None with a single ratio)"""
    max_relative_residual: float
    """largest ``|model / measured - 1|`` over the fitted leakage ratios"""


@dataclass(frozen=True)
class CurveFit:
    """The ``[fit]`` section of a preset file (see the module docstring)."""

    model: str
    method: str
    points: tuple[FitPoint, ...]
    parameters: dict[str, float] = field(default_factory=dict)
    stderr: dict[str, float] | None = None
    uncertainty: str = ""
    max_residual_decades: float = 0.0
    power: tuple[PowerPoint, ...] = ()
    leakage: LeakageFit | None = None
    """a macro preset's leakage fit (``[fit.leakage]``), None elsewhere"""

    @property
    def fitted(self) -> tuple[FitPoint, ...]:
        """The points the curve is fitted to."""
        return tuple(p for p in self.points if p.use == "fit")

    def residuals(self, tech: Any) -> np.ndarray:
        """``log10(tech.ber(V) / point BER)`` for every point (fitted and compared), in decades; NaN
        for a compared point outside the preset's voltage range (the curve is not extrapolated)."""
        v = np.array([p.voltage for p in self.points], np.float64)
        b = np.array([p.ber for p in self.points], np.float64)
        inside = (v >= tech.v_low - 1e-9) & (v <= tech.v_high + 1e-9)
        out = np.full(v.shape, np.nan)
        out[inside] = np.log10(np.asarray(tech.ber(v[inside]), np.float64)) - np.log10(b[inside])
        return out


def fit_gaussian(voltages: np.ndarray, bers: np.ndarray) -> tuple[dict[str, float], dict[str, float] | None]:
    """Least squares of the probit ``z = Phi^-1(BER)`` against ``z = (mu - V) / sigma``.

    Parameters
    ----------
    voltages, bers : array_like
        The fitted points (BER in (0, 1)).

    Returns
    -------
    parameters : dict
        ``{"mu": ..., "sigma": ...}``.
    stderr : dict or None
        Standard errors from the fit's covariance (residual variance times (J^T J)^-1); None when
        the two points determine the line exactly (no residual degrees of freedom).

    Notes
    -----
    The probit is fitted unweighted because the points span several decades of BER: a fit of BER
    itself would see only the largest one.
    """
    from scipy.optimize import curve_fit
    from scipy.stats import norm

    v = np.asarray(voltages, np.float64)
    z = norm.ppf(np.asarray(bers, np.float64))
    if v.size < 2:
        raise InputError("a Gaussian fit needs at least two points")
    # start from the straight line through the points (z = c0 + c1 V, sigma = -1/c1, mu = c0 sigma)
    c1, c0 = np.polyfit(v, z, 1)
    start = [-c0 / c1, -1.0 / c1]
    if v.size == 2:
        return {"mu": float(start[0]), "sigma": float(start[1])}, None
    popt, pcov = curve_fit(lambda x, mu, sigma: (mu - x) / sigma, v, z, p0=start)
    err = np.sqrt(np.diag(pcov))
    return {"mu": float(popt[0]), "sigma": float(popt[1])}, {"mu": float(err[0]), "sigma": float(err[1])}


def _req(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise InputError(f"{where}: missing field {key!r}")
    return table[key]


def _float(table: dict[str, Any], key: str, where: str) -> float:
    value = _req(table, key, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: field {key!r} must be a number, got {value!r}")
    return float(value)


def parse_fit(section: Any, where: str) -> CurveFit:
    """A ``[fit]`` table (already parsed TOML) as a :class:`CurveFit`; errors name ``where``."""
    if not isinstance(section, dict):
        raise InputError(f"{where}: [fit] must be a table")
    model = _req(section, "model", f"{where} [fit]")
    if model not in FIT_MODELS:
        raise InputError(f"{where} [fit]: model {model!r}: use {' or '.join(FIT_MODELS)}")
    points = []
    for i, raw in enumerate(section.get("points", [])):
        at = f"{where} [[fit.points]] #{i + 1}"
        kind, use = _req(raw, "kind", at), raw.get("use", "fit")
        if kind not in POINT_KINDS:
            raise InputError(f"{at}: kind {kind!r}: use one of {', '.join(POINT_KINDS)}")
        if use not in POINT_USES:
            raise InputError(f"{at}: use {use!r}: use fit or compare")
        ber = _float(raw, "ber", at)
        if not 0 < ber < 1:
            raise InputError(f"{at}: ber {ber} must be in (0, 1)")
        points.append(FitPoint(_float(raw, "voltage", at), ber, kind, str(_req(raw, "source", at)), use,
                               bool(raw.get("digitised", False)), str(raw.get("note", ""))))  # fmt: skip
    fitted = [p for p in points if p.use == "fit"]
    if len(fitted) < 2:
        raise InputError(f"{where} [fit]: needs at least two points with use = fit")
    if all(p.kind == "assumed" for p in fitted):
        raise InputError(f"{where} [fit]: the fitted points are all assumed; a curve needs a sourced one")
    power = []
    for i, raw in enumerate(section.get("power", [])):
        at = f"{where} [[fit.power]] #{i + 1}"
        model_of = raw.get("model", "read_energy")
        if model_of not in POWER_MODELS:
            raise InputError(f"{at}: model {model_of!r}: use {' or '.join(POWER_MODELS)}")
        ratio = _float(raw, "ratio", at)
        if not ratio > 0:
            raise InputError(f"{at}: ratio {ratio} must be positive")
        power.append(PowerPoint(
            _float(raw, "voltage", at), _float(raw, "ref_voltage", at), ratio,
            str(_req(raw, "quantity", at)), str(_req(raw, "kind", at)), str(_req(raw, "source", at)),
            str(raw.get("note", "")), model_of,
        ))  # fmt: skip
    params = {k: float(v) for k, v in section.get("parameters", {}).items()}
    stderr = section.get("stderr")
    leakage = _parse_leakage(section["leakage"], f"{where} [fit.leakage]") if "leakage" in section else None
    if leakage is not None and not any(q.model == "leakage" for q in power):
        raise InputError(
            f"{where} [fit.leakage]: no [[fit.power]] point with model = \"leakage\" to fit it to"
        )
    return CurveFit(
        model=model, method=str(_req(section, "method", f"{where} [fit]")), points=tuple(points),
        parameters=params, stderr=None if stderr is None else {k: float(v) for k, v in stderr.items()},
        uncertainty=str(section.get("uncertainty", "")),
        max_residual_decades=float(section.get("max_residual_decades", 0.0)), power=tuple(power),
        leakage=leakage,
    )  # fmt: skip


def _parse_leakage(raw: Any, where: str) -> LeakageFit:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: must be a table")
    v0 = _float(raw, "leakage_v0", where)
    if not v0 > 0:
        raise InputError(f"{where}: leakage_v0 {v0} must be positive (volts per e-fold)")
    stderr = _float(raw, "stderr", where) if "stderr" in raw else None
    worst = _float(raw, "max_relative_residual", where)
    return LeakageFit(str(_req(raw, "method", where)), v0, stderr, worst)


def load_fit(name_or_path: str | Path) -> CurveFit | None:
    """The ``[fit]`` section of a shipped preset (by name) or a preset file; None where it has none
    (a CSV preset, or a user's TOML without the section)."""
    from sram_models.technology.presets import PRESET_SUFFIXES, TECHNOLOGIES
    from sram_models.tomlio import read_toml

    text = str(name_or_path)
    path = Path(text)
    if not (path.suffix in PRESET_SUFFIXES or path.exists()):
        if text not in TECHNOLOGIES:
            raise InputError(TECHNOLOGIES.unknown_message(text))
        path = TECHNOLOGIES.get(text)
    if path.suffix != ".toml":
        return None
    data = read_toml(path)
    if "fit" not in data:
        return None
    return parse_fit(data["fit"], str(path))
