"""The sweeps' target switch: faults in the weights (the default), the activation buffer, or both.

With ``target`` activations or both (:class:`wcatsim.config.ActivationSpec`, issue 20 section 1), the
activations of the quantized layers sit in a global-buffer SRAM (:mod:`wcatsim.memory.activations`)
with its own layout, protection scheme, technology and voltage.  A table of such a sweep records the
buffer in its settings (so its fingerprint differs from a weights-only table) and gains the columns
below; the energy columns then count both memories.

Energy of both memories, in the same columns: ``energy_per_inference_pj``, ``dynamic_pj``,
``leakage_pj`` are sums (pJ); ``energy_norm`` is the total over the reference of both memories (the
weights and the buffer, each unprotected, at its preset's nominal voltage); ``weights_energy_norm`` and
``act_energy_norm`` split it (same reference; they sum to ``energy_norm``).  ``leakage_share`` is the
leakage of both over their total; ``inference_time_ns`` the longer of the two memories' times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wcatsim.memory.activations import combined_energy  # the one normalisation of both memories

# random-flip with a buffer: the buffer's BER (probability that a stored bit reads wrong)
FLIP_ACT_COLUMNS = ("act_ber",)
# sweep-voltage with a buffer: its supply (the preset's unit), its technology's BER there, and the two
# memories' shares of energy_norm (dimensionless)
VOLTAGE_ACT_COLUMNS = ("act_voltage", "act_ber", "weights_energy_norm", "act_energy_norm")


def active(spec: Any) -> Any:
    """``spec`` when its target holds activations, else None (weights only: today's sweep, unchanged)."""
    if spec is None or spec.target == "weights":
        return None
    return spec


def table_name(name: str, spec: Any) -> str:
    """Return a sweep's default table: ``name`` for weights, ``<stem>_<target>.csv`` with a buffer.

    A buffer table never replaces the weights table the analysis reads (wcatsim.store.files.OUTPUTS).
    """
    from wcatsim.store.files import default_table, target_family

    return name if spec is None else default_table(target_family(Path(name).stem, spec.target))


def family(kind: str, spec: Any) -> str:
    """Return the output family of a sweep's table (wcatsim.store.files.OUTPUTS): ``kind`` for weights."""
    from wcatsim.store.files import target_family

    return target_family(kind, None if spec is None else spec.target)


def record(spec: Any, evaluator: Any, **extra: Any) -> dict[str, Any]:
    """Return what a table records about the buffer (fingerprinted): target, fault, layout, ranges."""
    return {"target": spec.target, "fault": spec.fault, **evaluator.activations.describe(), **extra}


__all__ = ["FLIP_ACT_COLUMNS", "VOLTAGE_ACT_COLUMNS", "active", "combined_energy", "family", "record",
           "table_name"]
