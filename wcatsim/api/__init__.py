"""The Python API: a quantized model and its data in, a ``pandas.DataFrame`` out, no run directory needed.

Each function takes a model quantized by :func:`wcatsim.quantize` (any ``nn.Module``) and its test data
(a ``DataLoader``, a ``Dataset`` or ``(x, y)`` tensors), or a run directory / :class:`LoadedRun
<wcatsim.train.runs.LoadedRun>`, and runs the experiment the command of the same name runs, through the
same code (:func:`model_run` builds the bundle once, a ``LoadedRun`` without a directory).  Nothing is
written unless a ``path`` is given; the settings that made a frame are in its ``attrs``.

- :func:`random_flip`: accuracy under random bit errors (``wcatsim random-flip``);
- :func:`sweep_voltage`: accuracy and energy across SRAM supply voltages (``wcatsim sweep-voltage``);
- :func:`bit_flip_attack`: the Bit-Flip Attack (``wcatsim bfa``);
- :func:`voltage_plan`: one supply voltage per layer (``wcatsim plan-voltage``);
- :func:`param_groups <wcatsim.train.quant.param_groups>`: the optimiser groups WCAT training needs.

The run-directory functions (:func:`wcatsim.experiments.sweeps.sweep.random_flip_sweep` and the others)
stay the command line's.
"""

from __future__ import annotations

from sram_models.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "model_run": "wcatsim.api.bundle",
    "random_flip": "wcatsim.api.functions",
    "sweep_voltage": "wcatsim.api.functions",
    "bit_flip_attack": "wcatsim.api.functions",
    "voltage_plan": "wcatsim.api.functions",
    "param_groups": "wcatsim.train.quant",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
