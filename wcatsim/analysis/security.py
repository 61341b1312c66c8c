"""The security–energy front: flips to break a defended model against its energy per inference.

One point per (defence, model): the Kaplan–Meier median of flips to break with its 95% CI
(:mod:`wcatsim.stats.censoring`, read from the attack's ``bfa_summary.json``) against the energy per
inference at a supply voltage ``V``:

    energy = memory_energy_norm(V) + defence_energy_overhead

both in units of the undefended weight memory's energy per inference at nominal voltage.
``memory_energy_norm(V)`` is the weight memory's energy at ``V`` (a voltage sweep's ``energy_norm``,
itself relative to nominal; 1 at nominal by that definition).  ``defence_energy_overhead`` is the
defence's price as the attack recorded it (:mod:`wcatsim.experiments.attacks.defences`: the checksum's
adds and signature reads, a scheme's check-bit reads, over the weight bits' read energy, Horowitz ISSCC
2014 figures).  It is added as priced, not scaled with ``V``: the price is a nominal-voltage figure and
part of it (the checksum's adds) is logic that the memory's supply does not reach; scaling it would
flatter the defence at low voltage, adding it unscaled does not.

A defended attack counts only where its break was judged on the defended model (``wcatsim bfa
--defence NAME --defended-break``): without it ``flips_to_break`` is the undefended model's break,
where the defence's detection is measured, not what it takes to break the defended model.

Torch-free: reads summaries and sweep tables.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sram_models.errors import InputError
from wcatsim.analysis.pareto import load_sweep, pareto_front
from wcatsim.stats.censoring import median_ci_of, median_or_bound, statuses
from wcatsim.store.columns import IDENTITY_COLUMNS
from wcatsim.store.files import OUTPUTS, bfa_family

# the columns of `wcatsim security`'s CSV, each with its unit: the run's identity first
# (wcatsim.store.columns.IDENTITY_COLUMNS), energies as x the undefended weight memory's energy per
# inference at nominal (the `_norm` of energy_norm), fractions as `_frac`
SECURITY_COLUMNS = (
    *IDENTITY_COLUMNS,  # run (directory name), model, quantizer, bits, dataset
    "label",  # the legend's name of the run (quantizer, bits, model)
    "defence",
    "objective",  # the attack: untargeted, or targeted (T-BFA) as "targeted -> T" / "targeted S -> T"
    "trials",
    "censored",  # trials that did not break the model (budget spent or search stalled)
    "flips_median",  # Kaplan–Meier median of flips to break (empty: S stays above 0.5)
    "flips_median_lower_bound",  # where there is no median: the largest count observed (flips)
    "flips_ci_low",  # 95% CI of the median, Brookmeyer–Crowley (flips)
    "flips_ci_high",  # empty: open above
    "voltage",  # the weight memory's supply, in the preset's unit as the sweep's `voltage` (empty: nominal)
    "memory_energy_norm",  # the weight memory's energy per inference at the voltage
    "defence_energy_norm",  # the defence's priced energy per inference (its defence_energy_overhead)
    "energy_norm",  # energy per inference: the sum of the two
    "defence_area_frac",  # extra bits per stored weight bit
    "on_front",  # on the front: no other point has at most its energy and at least its flips
)


@dataclass(frozen=True)
class SecurityPoint:
    """One defence on one model at one voltage: flips to break and energy per inference."""

    label: str
    quantizer: str
    defence: str
    trials: int
    censored: int
    median: int | None  # Kaplan–Meier median (None: S stays above 0.5)
    lower_bound: int | None  # where there is no median: the largest count observed
    ci_low: int | None
    ci_high: int | None  # None: open above (or no CI)
    voltage: float | None  # None: nominal
    memory_energy: float  # x the undefended weight memory at nominal
    defence_energy: float  # x the weight reads at nominal
    defence_area: float
    identity: tuple[Any, ...] = ()  # IDENTITY_COLUMNS' values (run, model, quantizer, bits, dataset)
    objective: str = "untargeted"  # attack_objective(summary)

    @property
    def energy(self) -> float:
        """Energy per inference: the memory's at the voltage plus the defence's priced overhead."""
        return self.memory_energy + self.defence_energy

    @property
    def flips(self) -> int:
        """The median, or its lower bound where there is none (a censored point is placed at what it is
        known to survive: conservative for the defence)."""
        value = self.median if self.median is not None else self.lower_bound
        if value is None:
            raise InputError(f"{self.label} {self.defence}: the attack summary has no trial")
        return int(value)


def attack_objective(summary: Mapping[str, Any]) -> str:
    """What the attack of ``summary`` sought: ``untargeted``, or ``targeted -> T`` (T-BFA N-to-1) and
    ``targeted S -> T`` (1-to-1).  Flips to break under two objectives count different events (accuracy
    at the threshold; attack success at its threshold), so they never share a front."""
    if summary.get("objective", "untargeted") == "untargeted":
        return "untargeted"
    source = summary.get("source_class")
    return f"targeted {'' if source is None else f'{source} '}-> {summary.get('target_class')}"


def security_point(
    summary: Mapping[str, Any],
    memory_energy: float = 1.0,
    voltage: float | None = None,
    label: str | None = None,
) -> SecurityPoint:
    """The front's point of one attack summary (``bfa_summary.json`` as a dict).

    Parameters
    ----------
    summary : mapping
        A Bit-Flip Attack summary; without ``defence`` it is the undefended attack (``none``).  A defended
        one must carry ``defended_break`` (``wcatsim bfa --defended-break``) and its price keys.
    memory_energy : float
        The weight memory's energy per inference at ``voltage``, relative to nominal (1 at nominal).
    voltage : float or None
        The voltage it was read at (None: nominal), recorded on the point.
    label : str or None
        The model's label (default: quantizer, bits and model from the summary).

    Returns
    -------
    SecurityPoint
    """
    defence = str(summary.get("defence") or "none")
    name = label or _label(summary)
    if defence != "none":
        if not summary.get("defended_break"):
            raise InputError(
                f"{name}: the attack against {defence} stopped at the undefended model's break (its "
                "flips_to_break is not the defended model's): rerun it with `wcatsim bfa --defended-break "
                f"--defence {defence}`"
            )
        if "defence_energy_overhead" not in summary:
            raise InputError(f"{name}: the attack against {defence} records no price "
                             "(defence_energy_overhead): rerun it with this version")
    if not math.isfinite(memory_energy) or memory_energy <= 0:
        raise InputError(f"memory energy must be a positive number (x nominal), got {memory_energy!r}")
    flips = list(summary.get("flips_to_break") or [])
    median, bound = median_or_bound(summary)
    ci = median_ci_of(summary) or [None, None]
    status = statuses(dict(summary))[: len(flips)]
    return SecurityPoint(
        label=name,
        quantizer=str(summary.get("quant_method", "?")),
        defence=defence,
        trials=len(flips),
        censored=sum(s != "broken" for s in status),
        median=median,
        lower_bound=None if median is not None else bound,
        ci_low=None if ci[0] is None else int(ci[0]),
        ci_high=None if ci[1] is None else int(ci[1]),
        voltage=voltage,
        memory_energy=float(memory_energy),
        # the undefended model pays nothing; a memory scheme without modelled time still has energy
        defence_energy=float(summary.get("defence_energy_overhead") or 0.0),
        defence_area=float(summary.get("defence_area") or 0.0),
        identity=(
            Path(str(summary["run"])).name if summary.get("run") else None, summary.get("model"),
            summary.get("quant_method"), "/".join(str(b) for b in summary.get("bits") or []) or None,
            summary.get("dataset"),
        ),
        objective=attack_objective(summary),
    )


def security_front(points: Sequence[SecurityPoint]) -> np.ndarray:
    """Mask of the points on the front: less energy and more flips to break are better (ties kept)."""
    if not points:
        return np.zeros(0, dtype=bool)
    return pareto_front(np.column_stack([[p.energy for p in points], [p.flips for p in points]]))


def attack_summaries(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every Bit-Flip Attack summary of a run directory, one per defence attacked (``bfa_summary.json``,
    ``bfa_checksum_summary.json``, ... as :data:`wcatsim.store.files.OUTPUTS` names them)."""
    run_dir = Path(run_dir)
    found = []
    for family, names in OUTPUTS.items():
        if family == bfa_family(None) or family.startswith("bfa_"):
            path = run_dir / names[1]
            if path.is_file():
                found.append(json.loads(path.read_text(encoding="utf-8")))
    return found


def memory_energy_at(run_dir: str | Path, voltage: float | None) -> float:
    """The weight memory's energy per inference at ``voltage`` from the run's voltage sweep
    (``sweep_voltage.csv``'s ``energy_norm``, relative to nominal); 1.0 for ``None`` (nominal)."""
    if voltage is None:
        return 1.0
    sweep = load_sweep(run_dir)
    hit = np.flatnonzero(np.abs(sweep.voltage - float(voltage)) <= 1e-9)
    if not hit.size:
        swept = ", ".join(f"{v:g}" for v in sweep.voltage)
        raise InputError(f"`option.voltage` {voltage:g} was not swept in {sweep.source} (swept: {swept})")
    return float(sweep.energy_norm[hit[0]])


def security_points(
    run_dirs: Sequence[str | Path], voltage: float | None = None, defences: Sequence[str] | None = None,
    objective: str | None = None,
) -> list[SecurityPoint]:
    """The front's points of every attack summary in ``run_dirs`` (optionally only ``defences``, only
    ``objective``: ``untargeted`` or ``targeted``), at ``voltage`` (None: nominal; else read from each
    run's voltage sweep).  Attacks of more than one objective are refused (:func:`check_one_objective`)."""
    points = []
    for run_dir in run_dirs:
        summaries = [s for s in attack_summaries(run_dir)
                     if (defences is None or str(s.get("defence") or "none") in defences)
                     and (objective is None or s.get("objective", "untargeted") == objective)]  # fmt: skip
        if not summaries:
            which = "" if objective is None else f" {objective}"
            raise InputError(f"{run_dir} holds no{which} Bit-Flip Attack summary (bfa_summary.json, "
                             "bfa_NAME_summary.json, bfa_targeted_NAME_summary.json): run `wcatsim bfa` "
                             "first")
        energy = memory_energy_at(run_dir, voltage)
        points += [security_point(s, energy, voltage) for s in summaries]
    check_one_objective(points)
    return points


def check_one_objective(points: Sequence[SecurityPoint]) -> None:
    """Refuse points of more than one attack objective: their flips to break are different events."""
    objectives = sorted({p.objective for p in points})
    if len(objectives) > 1:
        count = {o: sum(p.objective == o for p in points) for o in objectives}
        mixed = "; ".join(f"{o}: {n} attack{'s' if n > 1 else ''}" for o, n in count.items())
        raise InputError(
            f"the attacks mix objectives ({mixed}): flips to break count different events under each, so "
            "they do not share a front: choose one with `option.objective` (or pass run directories "
            "attacked with one objective)"
        )


def security_rows(points: Sequence[SecurityPoint]) -> list[dict[str, Any]]:
    """One row of :data:`SECURITY_COLUMNS` per point (None for an empty cell)."""
    front = security_front(points)
    return [
        {
            **dict(zip(IDENTITY_COLUMNS, p.identity or (None,) * len(IDENTITY_COLUMNS), strict=True)),
            "label": p.label, "defence": p.defence, "objective": p.objective, "trials": p.trials,
            "censored": p.censored, "flips_median": p.median, "flips_median_lower_bound": p.lower_bound,
            "flips_ci_low": p.ci_low, "flips_ci_high": p.ci_high, "voltage": p.voltage,
            "memory_energy_norm": p.memory_energy, "defence_energy_norm": p.defence_energy,
            "energy_norm": p.energy, "defence_area_frac": p.defence_area, "on_front": bool(on),
        }
        for p, on in zip(points, front, strict=True)
    ]  # fmt: skip


def fmt_flips(point: SecurityPoint) -> str:
    """``"23 [21, 49]"``, ``"≥ 500"`` (no median: its lower bound), ``"42 [42, ∞)"`` (CI open above)."""
    text = str(point.median) if point.median is not None else f"≥ {point.lower_bound}"
    if point.ci_low is not None:
        high = f"{point.ci_high}]" if point.ci_high is not None else "∞)"
        text += f" [{point.ci_low}, {high}"
    return text


def _label(summary: Mapping[str, Any]) -> str:
    bits = "/".join(str(b) for b in summary.get("bits") or ["?"])
    return f"{summary.get('quant_method', '?')} {bits}-bit {summary.get('model', '')}".strip()


__all__ = [
    "SECURITY_COLUMNS",
    "SecurityPoint",
    "attack_objective",
    "attack_summaries",
    "check_one_objective",
    "fmt_flips",
    "memory_energy_at",
    "security_front",
    "security_point",
    "security_points",
    "security_rows",
]
