"""The network: quantizers, models, data, training, faults on models, attacks, sweeps, plots.

Public names are imported lazily so that
``import wcatsim.atomic`` (used by the CLI) does not load torch.
"""

from __future__ import annotations

__version__ = "0.1.0"

from sram_models.lazy import lazy_exports

# public name -> submodule that defines it (filled in by the modules' owners)
_EXPORTS: dict[str, str] = {
    "InputError": "wcatsim.errors",
    "ConfigError": "wcatsim.errors",
    "CheckpointError": "wcatsim.errors",
    "QuantConfig": "wcatsim.quant", "quantize": "wcatsim.quant", "quantized_layers": "wcatsim.quant",
    "weight_image": "wcatsim.quant", "run_from_image": "wcatsim.quant", "LayerImage": "wcatsim.quant",
    "layer_stats": "wcatsim.quant", "range_parameters": "wcatsim.quant", "reinit_ranges": "wcatsim.quant",
    "build_model": "wcatsim.models", "MODEL_NAMES": "wcatsim.models",
    "load_dataset": "wcatsim.datasets", "DatasetBundle": "wcatsim.datasets",
    "accuracy": "wcatsim.evaluate", "resolve_device": "wcatsim.evaluate",
    "ExperimentConfig": "wcatsim.config", "load_config": "wcatsim.config", "run_dir_for": "wcatsim.runs",
    "load_run": "wcatsim.runs", "LoadedRun": "wcatsim.runs",
    "train": "wcatsim.training", "TrainResult": "wcatsim.training",
    "pareto_front": "wcatsim.pareto", "iso_accuracy_saving": "wcatsim.pareto", "run_demo": "wcatsim.demo",
    "write_run_report": "wcatsim.report", "write_demo_report": "wcatsim.report",
    "random_flip_sweep": "wcatsim.sweeps", "voltage_sweep": "wcatsim.sweeps",
    "ModelMemory": "wcatsim.faults", "FaultEvaluator": "wcatsim.faults",
    "run_bfa": "wcatsim.attacks.bfa", "BFAResult": "wcatsim.attacks.bfa",
    "plan_voltage": "wcatsim.planning", "PlanSettings": "wcatsim.planning",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
