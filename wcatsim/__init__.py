"""The network: quantizers, models, data, training, faults on models, attacks, sweeps, plots.

Public names are imported lazily so that
``import wcatsim.store.atomic`` (used by the CLI) does not load torch.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

from sram_models.lazy import lazy_exports

# The library logs (progress lines, warnings) under "wcatsim" and configures no output of its own: the
# application decides (the CLI prints them; docs/logging.md). NullHandler keeps Python's last-resort
# handler from printing the library's warnings where the application set up nothing.
logging.getLogger(__name__).addHandler(logging.NullHandler())

# public name -> submodule that defines it (filled in by the modules' owners)
_EXPORTS: dict[str, str] = {
    "InputError": "wcatsim.errors",
    "ConfigError": "wcatsim.errors",
    "CheckpointError": "wcatsim.errors",
    "QuantConfig": "wcatsim.config",
    "quantize": "wcatsim.train.quant",
    "quantized_layers": "wcatsim.train.quant",
    "weight_image": "wcatsim.image",
    "run_from_image": "wcatsim.image",
    "LayerImage": "wcatsim.image",
    "layer_stats": "wcatsim.train.quant",
    "range_parameters": "wcatsim.train.quant",
    "reinit_ranges": "wcatsim.train.quant",
    "build_model": "wcatsim.train.models",
    "MODEL_NAMES": "wcatsim.train.models",
    "load_dataset": "wcatsim.train.datasets",
    "DatasetBundle": "wcatsim.train.datasets",
    "accuracy": "wcatsim.train.evaluate",
    "resolve_device": "wcatsim.train.evaluate",
    "ExperimentConfig": "wcatsim.config",
    "load_config": "wcatsim.config",
    "run_dir_for": "wcatsim.store.runs",
    "load_run": "wcatsim.train.runs",
    "LoadedRun": "wcatsim.train.runs",
    "train": "wcatsim.train.trainer",
    "TrainResult": "wcatsim.train.trainer",
    "pareto_front": "wcatsim.analysis.pareto",
    "iso_accuracy_saving": "wcatsim.analysis.pareto",
    "run_demo": "wcatsim.pipelines.demo",
    "write_run_report": "wcatsim.analysis.report.writer",
    "write_demo_report": "wcatsim.analysis.report.writer",
    "random_flip_sweep": "wcatsim.experiments.sweeps.sweep",
    "voltage_sweep": "wcatsim.experiments.sweeps.sweep",
    "ModelMemory": "wcatsim.memory.evaluator",
    "FaultEvaluator": "wcatsim.memory.evaluator",
    "run_bfa": "wcatsim.experiments.attacks.bfa",
    "BFAResult": "wcatsim.experiments.attacks.bfa",
    "plan_voltage": "wcatsim.experiments.plan",
    "PlanSettings": "wcatsim.experiments.plan",
    "make_flip_model": "wcatsim.memory.evaluator",
    # the Python API (wcatsim.api): a quantized model and its data in, a pandas DataFrame out
    "model_run": "wcatsim.api",
    "random_flip": "wcatsim.api",
    "sweep_voltage": "wcatsim.api",
    "bit_flip_attack": "wcatsim.api",
    "voltage_plan": "wcatsim.api",
    "param_groups": "wcatsim.train.quant",
    "clip_weights_": "wcatsim.train.quant",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
