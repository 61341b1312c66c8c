"""Run directories: their names and the files in them.

A run directory's name is readable and stable: model, dataset, quantizer and
bit width, then a hash of the resolved ``model``, ``data``, ``quant`` and
``trainer`` sections (``runs/small_cnn-digits-wcat4-1a2b3c4d``). Attack and
fault settings do not enter it, so ``wcatsim random-flip`` or ``wcatsim bfa``
with the same layers plus an attack layer find the model ``wcatsim train`` made.

Contents: ``config.toml`` (resolved), ``train.log``, ``metrics.csv`` (one row
per epoch), ``checkpoint.pt`` (best validation accuracy; what is evaluated and
attacked), ``last.pt`` (the last epoch, with optimizer state, for resuming) and
``summary.json``. Loading a run's model is :func:`wcatsim.train.runs.load_run`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wcatsim.config import ExperimentConfig

CONFIG_FILE = "config.toml"



SUMMARY_FILE = "summary.json"



METRICS_FILE = "metrics.csv"



LOG_FILE = "train.log"



def config_hash(cfg: ExperimentConfig) -> str:
    """8 hex digits of SHA-256 over the resolved model, data, quant and trainer sections (not attack).

    Keys that only say how data is read (``data.stream``, ``data.workers``) never enter it; keys added
    after run directories were first named enter it only when they differ from their default, so an
    existing run keeps its name.
    """
    sections = identity_sections(cfg.model_dict())
    defaults = ExperimentConfig().model_dict()
    for section, keys in _LATER_KEYS.items():
        for key in keys:
            if sections[section].get(key) == defaults[section].get(key):
                sections[section].pop(key, None)
    text = json.dumps(sections, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]



# How data is read, or what an unhealthy run does, not which model: the same run whatever their values
# (a run stopped at chance continues in its own directory with --set trainer.health=warn).
_RUNTIME_KEYS = {"data": ("stream", "workers"), "trainer": ("health",)}



def identity_sections(sections: dict[str, Any]) -> dict[str, Any]:
    """A copy of config sections without the keys that only say how data is read or what an unhealthy run does
    (:data:`_RUNTIME_KEYS`):
    what makes two configs the same run, for the run hash and for resuming into a run."""
    out = {name: dict(values) if isinstance(values, dict) else values for name, values in sections.items()}
    for section, keys in _RUNTIME_KEYS.items():
        for key in keys:
            if isinstance(out.get(section), dict):
                out[section].pop(key, None)
    return out



# Added by issue 11 (own models and weights, imagefolder data); hashed only when set.
_LATER_KEYS = {
    "model": ("args", "weights", "factory_sha256", "weights_sha256"),
    "data": ("image_size", "resize", "interpolation", "mean", "std", "val_labels"),
    "trainer": ("clustering", "clustering_form"),
}



def run_name(cfg: ExperimentConfig) -> str:
    """``small_cnn-digits-wcat4-1a2b3c4d`` (``float`` instead of method and bits for float runs); a factory
    model is named after its file (or module) and function, ``my_net.build-imagefolder-wcat4-...``."""
    from wcatsim.config.model_source import short_name

    quant = "float" if cfg.quant.method == "float" else f"{cfg.quant.method}{cfg.quant.bits}"
    return f"{short_name(cfg.model.name)}-{cfg.data.name}-{quant}-{config_hash(cfg)}"



def run_dir_for(cfg: ExperimentConfig, root: Path = Path("runs")) -> Path:
    """The run directory of ``cfg`` under ``root`` (it need not exist yet)."""
    return Path(root) / run_name(cfg)



def train_command_hint(run_dir: Path) -> str:
    """The ``wcatsim train`` command that fills ``run_dir``."""
    if (Path(run_dir) / CONFIG_FILE).is_file():
        return f"wcatsim train -c {Path(run_dir) / CONFIG_FILE} --out {run_dir}"
    return "wcatsim train with the same -c/--set options" + (
        "" if Path(run_dir).parent == Path("runs") else f" (or --out {run_dir})"
    )



def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """``summary.json`` of a finished run ({} if there is none)."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def list_runs(root: str | Path) -> list[Path]:
    """The run directories directly under ``root`` (folders holding a ``config.toml``), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / CONFIG_FILE).is_file())


def saved_config(run_dir: str | Path) -> dict[str, Any] | None:
    """A run's ``config.toml`` resolved against the defaults (every key present), or None when unreadable."""
    from sram_models.tomlio import read_toml
    from wcatsim.config import config_from_dict
    from wcatsim.errors import InputError

    try:
        return config_from_dict(read_toml(Path(run_dir) / CONFIG_FILE)).to_dict()
    except (OSError, InputError):
        return None


def lookup(config: Mapping[str, Any], key: str) -> Any:
    """The value of dotted ``key`` (``trainer.epochs``) in a config dict (``_MISSING`` when absent)."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def runs_agreeing(root: str | Path, given: Mapping[str, Any]) -> list[Path]:
    """The runs under ``root`` whose saved config has every dotted key of ``given`` at its value: the runs a
    command given these ``-c``/``--set`` keys could have meant (only model-defining keys are compared)."""
    out = []
    for run in list_runs(root):
        config = saved_config(run)
        if config is not None and all(lookup(config, k) == v for k, v in given.items()):
            out.append(run)
    return out


def differences(mine: Mapping[str, Any], theirs: Mapping[str, Any], limit: int = 3) -> list[str]:
    """``section.key=value`` of ``theirs`` where it differs from ``mine`` in the sections that make a run
    (what tells two runs apart), at most ``limit`` of them."""
    from wcatsim.config import MODEL_SECTIONS

    ignored = {f"{section}.{key}" for section, keys in _RUNTIME_KEYS.items() for key in keys}
    out = []
    for section in MODEL_SECTIONS:
        a, b = mine.get(section) or {}, theirs.get(section) or {}
        for key in sorted(set(a) | set(b)):
            name = f"{section}.{key}"
            if name not in ignored and a.get(key) != b.get(key):
                out.append(f"{name}={json.dumps(b.get(key), default=str)}")
    return out[:limit]


__all__ = [
    "CONFIG_FILE",
    "LOG_FILE",
    "METRICS_FILE",
    "SUMMARY_FILE",
    "config_hash",
    "differences",
    "identity_sections",
    "list_runs",
    "lookup",
    "read_summary",
    "run_dir_for",
    "run_name",
    "runs_agreeing",
    "saved_config",
    "train_command_hint",
]
