"""A model and its data given in Python, as the bundle every experiment reads.

An experiment (sweep, attack, plan) reads a :class:`wcatsim.train.runs.LoadedRun`: the model, its
config, its data and its identity.  :func:`model_run` builds that bundle from a quantized ``nn.Module``
and a ``DataLoader`` (or tensors) with no directory (``dir`` None), so the model path runs the
experiments' own code and nothing is copied.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wcatsim.errors import InputError

if TYPE_CHECKING:
    import torch

    from wcatsim.config import ExperimentConfig
    from wcatsim.train.runs import LoadedRun

# Images per batch when a Dataset given without a loader is read into memory (any size gives the same
# tensors; 256 keeps the per-batch overhead small without holding more than one batch twice).
READ_BATCH = 256


def model_run(
    model: Any,
    data: Any = None,
    *,
    attack_data: Any = None,
    calibration_data: Any = None,
    name: str | None = None,
    data_name: str | None = None,
    num_classes: int | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    config: ExperimentConfig | None = None,
) -> LoadedRun:
    """Return the bundle (model, data, identity) the experiments read, for a model given in Python.

    Parameters
    ----------
    model : nn.Module, LoadedRun, str or Path
        A model quantized by :func:`wcatsim.quantize` (put in eval mode here); or a run directory (loaded
        with :func:`wcatsim.load_run`) or a loaded run, returned as they are (``name`` replaces the run's
        model name).
    data : DataLoader, Dataset or (x, y), optional
        The test set: read once, in the loader's order, and held in memory (a shuffling loader is read
        once too, so every realisation sees the same images).  Batches are ``(x, y)``; ``y`` holds class
        indices.  Not with a run, which brings its own.
    attack_data : DataLoader, Dataset or (x, y), optional
        Images the Bit-Flip Attack may draw its attack batches from (never the test set: e.g. the
        training or a validation set).  Only :func:`wcatsim.api.bit_flip_attack` needs it.
    calibration_data : DataLoader, Dataset or (x, y), optional
        Images the activation buffer's ranges are calibrated on (``activations=`` an
        :class:`~wcatsim.config.ActivationSpec` other than target weights; never the test set: e.g. the
        training set).  It plays the run's training split, of which ``calibration_images`` are used.
    name : str, optional
        The model's name in results (default: its class name).
    data_name : str, optional
        The data's name in results (default: the loader's dataset class name, or ``"tensors"``).
    num_classes : int, optional
        Classes of the task (default: the width of the model's output on one test image).
    device : str or torch.device, optional
        Where the model runs (it is moved there); default: where its parameters are.
    seed : int
        ``data.seed``: the seed of a fixed test subset (``eval_images``).
    config : ExperimentConfig, optional
        Default settings an experiment reads when not given (``attack.bfa``: trials, budgets, batch);
        its ``quant`` is replaced by the model's own.

    Returns
    -------
    LoadedRun
        With ``dir`` None (results are written only where a path is given) and ``name`` the model's.

    Raises
    ------
    InputError
        For a model that is not quantized, or data that are not (x, y) batches of class indices.
    """
    import torch

    from wcatsim.train.runs import LoadedRun, load_run

    if isinstance(model, (str, Path)) or isinstance(model, LoadedRun):
        if data is not None or attack_data is not None or calibration_data is not None:
            raise InputError("a run directory brings its own data: give data= only with an nn.Module")
        run = load_run(model, device=str(device or "auto")) if isinstance(model, (str, Path)) else model
        return dataclasses.replace(run, name=name) if name else run
    if not isinstance(model, torch.nn.Module):
        raise InputError(
            f"model must be an nn.Module, a LoadedRun or a run directory, got {type(model).__name__}"
        )
    from wcatsim.config import ExperimentConfig
    from wcatsim.train.quant import quant_config_of, quantized_layers

    quant = quant_config_of(model)
    if quant is None or not quantized_layers(model):
        raise InputError(
            f"{name or type(model).__name__} is not quantized: quantize it first, e.g. "
            "wcatsim.quantize(model, wcatsim.QuantConfig(method='wcat', bits=4)), then train or load it"
        )
    if data is None:
        raise InputError("give the test data: data= a DataLoader, a Dataset or (x, y) tensors")
    if device is not None:
        model.to(device)
    dev = _device_of(model)
    model.eval()
    x, y = read_data(data, "data")
    if num_classes is None:
        with torch.no_grad():
            num_classes = int(model(x[:1].to(dev)).shape[-1])
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise InputError(f"the test labels run {int(y.min())}..{int(y.max())}, but the model has "
                         f"{num_classes} classes: labels must be class indices 0..{num_classes - 1}")
    cfg = config if config is not None else ExperimentConfig()
    cfg = cfg.replace(quant=quant, data=dataclasses.replace(cfg.data, seed=int(seed)))
    bundle = _bundle(x, y, attack_data, data_name or _data_name(data), num_classes, calibration_data)
    return LoadedRun(model=model, config=cfg, data=bundle, dir=None, device=dev,
                     name=name or type(model).__name__)  # fmt: skip


def read_data(data: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``data`` (a DataLoader, a Dataset or ``(x, y)``) as tensors: x float32, y int64, on the CPU.

    A loader is read once, in its order.
    """
    import torch
    from torch.utils.data import DataLoader, Dataset

    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        batches = [tuple(data)]
    elif isinstance(data, DataLoader):
        batches = data
    elif isinstance(data, Dataset):
        batches = DataLoader(data, batch_size=READ_BATCH)
    else:
        raise InputError(
            f"{what} must be a DataLoader, a Dataset or (x, y) tensors, got {type(data).__name__}"
        )
    xs, ys = [], []
    for batch in batches:
        if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
            raise InputError(
                f"{what}: a batch must be (x, y) (images, class indices), got {type(batch).__name__}"
            )
        xs.append(torch.as_tensor(batch[0]).detach().cpu().float())
        ys.append(torch.as_tensor(batch[1]).detach().cpu().to(torch.int64).reshape(-1))
    if not xs or sum(len(y) for y in ys) == 0:
        raise InputError(f"{what} holds no images")
    x, y = torch.cat(xs), torch.cat(ys)
    if x.shape[0] != y.shape[0]:
        raise InputError(f"{what}: {x.shape[0]} images but {y.shape[0]} labels")
    return x, y


def _bundle(x: torch.Tensor, y: torch.Tensor, attack_data: Any, name: str, num_classes: int,
            calibration_data: Any = None) -> Any:
    """Return the DatasetBundle of a test set, with the attack's and the buffer's images as splits.

    The attack draws from the validation split; the activation buffer calibrates on the training split.
    """
    import torch

    from wcatsim.train.datasets.bundle import DatasetBundle, ImageTensorDataset

    def empty() -> ImageTensorDataset:
        return ImageTensorDataset(x[:0], y[:0])

    # the attack draws its batches from the validation split (wcatsim.experiments.attacks.bfa.attack_split)
    val = ImageTensorDataset(*read_data(attack_data, "attack_data")) if attack_data is not None else empty()
    # the activation buffer calibrates on training images (wcatsim.memory.activations.calibration_images)
    train = (ImageTensorDataset(*read_data(calibration_data, "calibration_data"))
             if calibration_data is not None else empty())  # fmt: skip
    images = x.dim() == 4
    return DatasetBundle(
        name=name, train=train, val=val, test=ImageTensorDataset(x, y.to(torch.int64)),
        num_classes=int(num_classes), in_channels=int(x.shape[1]) if images else 0,
        image_size=int(x.shape[-1]) if images else 0, mean=(), std=(), stream=False,
    )  # fmt: skip


def _data_name(data: Any) -> str:
    from torch.utils.data import DataLoader

    if isinstance(data, DataLoader):
        return type(data.dataset).__name__
    if isinstance(data, (tuple, list)):
        return "tensors"
    return type(data).__name__


def _device_of(model: torch.nn.Module) -> torch.device:
    import torch

    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


__all__ = ["READ_BATCH", "model_run", "read_data"]
