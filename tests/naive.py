"""Slow, obvious reference implementations: every fast kernel is tested against one.

Written for clarity, not speed: plain Python/NumPy loops that anyone can check
by reading.  One section per area; each section is owned by the area's module.
"""

from __future__ import annotations

import numpy as np  # noqa: F401

# ---------------------------------------------------------------- sram_models: packing, faults, ECC, energy


# ---------------------------------------------------------------- wcatsim.quant: quantizers


# ---------------------------------------------------------------- wcatsim.faults / montecarlo


# ---------------------------------------------------------------- wcatsim.attacks: bit-flip attack search


# ---------------------------------------------------------------- wcatsim.pareto: Pareto front


def naive_pareto_front(points):
    """O(n^2) Pareto mask, the definition read literally: (energy, accuracy), low energy and high
    accuracy better; a point is off the front when another has energy <= and accuracy >= with at
    least one strictly better."""
    pts = [(float(e), float(a)) for e, a in points]
    mask = []
    for i, (ei, ai) in enumerate(pts):
        dominated = False
        for j, (ej, aj) in enumerate(pts):
            if j != i and ej <= ei and aj >= ai and (ej < ei or aj > ai):
                dominated = True
                break
        mask.append(not dominated)
    return np.array(mask, dtype=bool)


def naive_iso_voltage(voltages, values, clean_acc, budget, v_nominal):
    """Lowest swept voltage v <= v_nominal such that v and every swept voltage in (v, v_nominal]
    have values >= clean_acc - budget; None when none does (not even nominal)."""
    best = None
    for v in voltages:
        if v > v_nominal:
            continue
        ok = all(
            val >= clean_acc - budget - 1e-9
            for u, val in zip(voltages, values, strict=True)
            if v <= u <= v_nominal
        )
        if ok and (best is None or v < best):
            best = v
    return best
