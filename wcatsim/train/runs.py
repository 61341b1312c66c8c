"""Getting a trained model back from its run directory.

A run directory's name and files are :mod:`wcatsim.store.runs`'s; this module rebuilds the model and
the dataset a run was trained with and loads its best checkpoint (:func:`load_run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wcatsim.config import ExperimentConfig, config_from_dict
from wcatsim.errors import CheckpointError
from wcatsim.store.runs import CONFIG_FILE, train_command_hint
from wcatsim.train.checkpoints import BEST, check_same_model, describe, load_model_state, read_checkpoint

if TYPE_CHECKING:
    import torch

    from wcatsim.train.datasets import DatasetBundle

@dataclass
class LoadedRun:
    """A trained model ready to evaluate or attack: the bundle (model, data, identity) every experiment reads.

    :func:`load_run` fills it from a run directory; :func:`wcatsim.api.model_run` from a model and data
    given in Python, with ``dir`` None (the experiments then write nothing unless given a path) and
    ``name`` the model's own name.
    """

    model: torch.nn.Module  # quantized (or float), trained, in eval mode, on ``device``
    config: ExperimentConfig  # the config it was trained with (given in Python: defaults, its quantizer)
    data: DatasetBundle
    dir: Path | None  # None: a model given in Python, no run directory
    device: torch.device
    name: str | None = None  # the model's name where config.model.name does not say it (given in Python)
    source: Path | None = None  # the run directory read when ``dir`` is None (read, never written)

    @property
    def model_name(self) -> str:
        """The name results record for the model: ``name``, else ``config.model.name``."""
        return self.name or self.config.model.name


def build_float_model(cfg: ExperimentConfig, data: DatasetBundle) -> torch.nn.Module:
    """The float network ``cfg.model`` names, sized for ``data``, with ``[model.args]``, freshly initialised.

    A factory model (``file.py:function``) is refused when its file no longer has the SHA-256 recorded in
    ``cfg`` (:func:`wcatsim.train.models.factory.load_factory`).
    """
    from wcatsim.config.model_source import is_factory_name
    from wcatsim.train.models.factory import build_from_factory

    sizes = {"num_classes": data.num_classes, "in_channels": data.in_channels, "image_size": data.image_size}
    if is_factory_name(cfg.model.name):
        return build_from_factory(cfg.model.name, cfg.model.factory_sha256, cfg.model.args, **sizes)
    from wcatsim.train.models import build_model

    return build_model(cfg.model.name, **sizes, **cfg.model.args)  # it names an unknown [model.args] key


def load_pretrained(model: torch.nn.Module, cfg: ExperimentConfig) -> None:
    """Load ``cfg.model.weights`` into the float ``model`` (its file must still have the recorded SHA-256)."""
    from wcatsim.config.model_source import check_recorded, weights_file
    from wcatsim.train.checkpoints import load_weights, read_weights_file

    path = weights_file(cfg.model.weights)
    check_recorded("weights file", path, cfg.model.weights_sha256, "model.weights_sha256")
    load_weights(model, read_weights_file(path), path)


def build_model_for(
    cfg: ExperimentConfig, data: DatasetBundle, *, pretrained: bool = True
) -> torch.nn.Module:
    """The model ``cfg`` describes, sized for ``data``, quantized as ``cfg.quant`` says.

    With ``pretrained`` (the default) and ``model.weights`` set, the float model gets those weights
    before it is quantized, so the quantization ranges are initialised from them (as ``--init-from``
    does); ``pretrained=False`` skips that (a checkpoint's state replaces the weights anyway).
    Weights are otherwise drawn from ``torch``'s global generator: seed it first for a reproducible init.
    """
    from wcatsim.train.quant import quantize

    model = build_float_model(cfg, data)
    if pretrained and cfg.model.weights:
        load_pretrained(model, cfg)
    return quantize(model, cfg.quant)


def load_dataset_for(cfg: ExperimentConfig, *, stream: bool | str | None = None,
                     workers: int | None = None) -> DatasetBundle:
    """The dataset ``cfg.data`` names; ``stream`` / ``workers`` (when given) replace ``data.stream`` /
    ``data.workers``, which only change how the data is read."""
    from wcatsim.train.datasets import load_dataset

    d = cfg.data
    options = {
        "stream": d.stream if stream is None else stream,
        "workers": d.workers if workers is None else workers,
    }
    if d.name == "imagefolder":
        options.update(
            image_size=d.image_size, resize=d.resize, mean=d.mean, std=d.std, val_labels=d.val_labels,
            interpolation=_interpolation(d.interpolation, cfg.model.name),
        )  # fmt: skip
    return load_dataset(d.name, root=d.root or None, seed=d.seed, val_fraction=d.val_fraction, **options)


def _interpolation(setting: str, model_name: str) -> str:
    # timm evaluates (and trains) DeiT with bicubic resizing; torchvision's CNN weights expect bilinear.
    if setting != "auto":
        return setting
    from wcatsim.train.models.vit import DEIT_SIZES

    return "bicubic" if model_name in DEIT_SIZES else "bilinear"


def load_run(
    run_dir: str | Path, device: str = "auto", data_root: str | None = None, *,
    stream: bool | str | None = None, workers: int | None = None,
) -> LoadedRun:
    """The best checkpoint of ``run_dir``: model in eval mode on ``device``, with its config and data.

    No checkpoint -> :class:`CheckpointError` naming the ``wcatsim train`` command that makes one; a
    checkpoint of another architecture, dataset, quantizer or bit width than the run's ``config.toml``
    (one copied in from elsewhere) -> :class:`CheckpointError` too.  ``data_root``: read the dataset
    from this folder instead of the one the run was trained from (the data moved).  ``stream`` /
    ``workers`` override the saved ``data.stream`` / ``data.workers`` (how the data is read).  A
    factory model whose file changed since the run was made is refused (InputError).
    """
    from wcatsim.train.evaluate import resolve_device

    run_dir = Path(run_dir)
    path = run_dir / BEST
    if not path.is_file():
        where = "does not exist" if not run_dir.exists() else "holds no trained model (no checkpoint.pt)"
        hint = train_command_hint(run_dir)
        raise CheckpointError(f"run directory {run_dir} {where}; train it first: {hint}")
    payload = read_checkpoint(path)
    saved = payload.get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} holds no config; retrain it: {train_command_hint(run_dir)}")
    _check_config_file(run_dir, saved, path)
    cfg = config_from_dict(saved, source=f"the config saved in {path}")
    if data_root is not None:
        import dataclasses

        cfg = cfg.replace(data=dataclasses.replace(cfg.data, root=str(data_root)))
    data = load_dataset_for(cfg, stream=stream, workers=workers)
    model = build_model_for(cfg, data, pretrained=False)
    load_model_state(model, payload["model"], path)
    dev = resolve_device(device)
    model.to(dev).eval()
    return LoadedRun(model=model, config=cfg, data=data, dir=run_dir, device=dev)


def _check_config_file(run_dir: Path, saved: dict[str, Any], path: Path) -> None:
    """Refuse a checkpoint whose model differs from the run directory's ``config.toml``."""
    from sram_models.tomlio import read_toml
    from wcatsim.errors import ConfigError

    config_path = run_dir / CONFIG_FILE
    if not config_path.is_file():
        return
    declared = read_toml(config_path, ConfigError)
    try:
        check_same_model(saved, declared, path)
    except CheckpointError:
        raise CheckpointError(
            f"{path} holds {describe(saved)}, but {config_path} describes {describe(declared)}: the "
            "checkpoint belongs to another run; put back this run's own checkpoint.pt, or retrain it"
        ) from None


__all__ = [
    "LoadedRun",
    "build_float_model",
    "build_model_for",
    "check_same_model",
    "describe",
    "load_dataset_for",
    "load_pretrained",
    "load_run",
]
