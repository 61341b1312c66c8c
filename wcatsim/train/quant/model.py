"""Model-level quantization: replace layers, list them, their ranges and statistics."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sram_models.errors import InputError
from wcatsim.config.quant import QuantConfig
from wcatsim.config.registries import QUANTIZERS

from .functions import grid_bounds
from .layers import QUANTIZED_TYPES, QConv2d, QLinear
from .quantizers import FixedRangeQuantizer

_CONFIG_ATTRIBUTE = "_wcatsim_quant_config"


def _float_layers(model: nn.Module) -> dict[str, nn.Module]:
    return {
        name: module for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and not isinstance(module, QUANTIZED_TYPES)
    }


def quantize(model: nn.Module, cfg: QuantConfig) -> nn.Module:
    """Replace every Conv2d and Linear of ``model`` by its quantized subclass; return the model.

    In place; the first and last layers are included, those named in ``cfg.exclude`` are not.

    ``method="float"`` returns the model unchanged.  Learned ranges (wcat alpha, lsq step) are initialised
    from the current weights; after loading other weights call :func:`reinit_ranges`.  plclip ranges follow
    the current weights of all the model's plclip layers in every forward.
    """
    if not isinstance(cfg, QuantConfig):
        raise TypeError(f"quantize needs a QuantConfig, got {type(cfg).__name__}")
    if quantized_layers(model):
        raise InputError("this model is already quantized: build a fresh float model and quantize it once")
    kind = QUANTIZERS.get(cfg.method)  # the method's class: builds each layer's quantizer from cfg
    setattr(model, _CONFIG_ATTRIBUTE, cfg)
    if not kind.quantizes:
        return model
    layers = _float_layers(model)
    unknown = [name for name in cfg.exclude if name not in layers]
    if unknown:
        raise InputError(
            f"quant.exclude names {unknown} that are not Conv2d/Linear layers of the model; "
            f"its layers are: {', '.join(layers)}"
        )
    chosen = {name: layer for name, layer in layers.items() if name not in cfg.exclude}
    # a subclass may compute with its weight in its own way (e.g. nn.MultiheadAttention's out_proj never
    # calls its forward): replacing it by a plain quantized layer would change the model silently
    custom = [f"{name} ({type(layer).__name__})" for name, layer in chosen.items()
              if type(layer) not in (nn.Conv2d, nn.Linear)]
    if custom:
        raise InputError(
            f"layers {', '.join(custom)} are subclasses of Conv2d/Linear that cannot be quantized safely: "
            "list them in quant.exclude to keep them float"
        )
    if not chosen:
        raise InputError("the model has no Conv2d or Linear layer left to quantize (check quant.exclude)")
    replaced = []
    for name, layer in chosen.items():
        quantizer = kind.from_config(cfg, layer.weight)
        replacement = (QConv2d if isinstance(layer, nn.Conv2d) else QLinear).from_float(layer, quantizer)
        _set_submodule(model, name, replacement)
        replaced.append(replacement)
    kind.link_layers(replaced)
    return model


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def quant_config_of(model: nn.Module) -> QuantConfig | None:
    """Return the QuantConfig a model was quantized with (None if :func:`quantize` never ran on it)."""
    return getattr(model, _CONFIG_ATTRIBUTE, None)


def quantized_layers(model: nn.Module) -> dict[str, QConv2d | QLinear]:
    """Qualified name -> quantized layer, in module (forward) order."""
    return {name: m for name, m in model.named_modules() if isinstance(m, QUANTIZED_TYPES)}


def range_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Return the learned range parameters (wcat alpha, lsq step), for their own optimiser group.

    They get their own group for its weight decay (range decay).
    """
    params = [layer.quantizer.range_parameter() for layer in quantized_layers(model).values()]
    return [p for p in params if p is not None]


def param_groups(
    model: nn.Module,
    lr: float,
    *,
    weight_decay: float | None = None,
    range_decay: float | None = None,
    range_lr: float | None = None,
    method: str | None = None,
) -> list[dict[str, Any]]:
    """Return the optimiser parameter groups WCAT training needs: the weights, and the ranges on their own.

    The learned ranges (wcat alpha, lsq step: :func:`range_parameters`) get a group of their own, as in the
    WCAT code (its ``_set_q_range_weight_decay``), so that they have their own learning rate and, for WCAT,
    their own decay: that decay is what pulls WCAT's ranges small.  Training "wcat" with one group for
    every parameter is another method.  LSQ's step keeps the ordinary weight decay, as in LSQ and in that
    code.  The trainer (:mod:`wcatsim.train.trainer`) builds its optimiser from these groups.

    Parameters
    ----------
    model : nn.Module
        A model quantized by :func:`quantize` (a float model gets the weights group only).
    lr : float
        The weights' learning rate.
    weight_decay, range_decay, range_lr : float, optional
        As ``trainer.weight_decay``, ``trainer.range_decay`` and ``trainer.range_lr``
        (:class:`wcatsim.config.TrainerConfig`), whose defaults they take when None: ``range_lr`` 0 is
        ``lr``.
    method : str, optional
        The quantization method (default: the one ``model`` was quantized with); the ranges decay by
        ``range_decay`` for ``"wcat"`` and by ``weight_decay`` otherwise.

    Returns
    -------
    list of dict
        ``[{"params", "weight_decay", "lr", "lr_scale", "name": "weights"}, {... "name": "ranges"}]`` (the
        second only where the model has learned ranges), for ``torch.optim.SGD``/``Adam``.  ``lr_scale`` is
        the group's learning rate over ``lr``: a schedule that sets ``lr`` sets each group's
        ``lr * lr_scale``.
    """
    from wcatsim.config.schema import TrainerConfig

    defaults = TrainerConfig()
    weight_decay = defaults.weight_decay if weight_decay is None else float(weight_decay)
    range_decay = defaults.range_decay if range_decay is None else float(range_decay)
    range_lr = defaults.range_lr if range_lr is None else float(range_lr)
    if method is None:
        cfg = quant_config_of(model)
        method = cfg.method if cfg is not None else "float"
    ranges = list(range_parameters(model))
    range_ids = {id(p) for p in ranges}
    weights = [p for p in model.parameters() if id(p) not in range_ids and p.requires_grad]
    groups: list[dict[str, Any]] = [
        {"params": weights, "weight_decay": weight_decay, "name": "weights", "lr_scale": 1.0}
    ]
    if ranges:
        decay = range_decay if method == "wcat" else weight_decay
        scale = range_lr / lr if range_lr > 0 else 1.0
        groups.append({"params": ranges, "weight_decay": decay, "name": "ranges", "lr_scale": scale})
    for group in groups:
        group["lr"] = lr * group["lr_scale"]
    return groups


def collapsed_ranges(model: nn.Module) -> list[str]:
    """Return the names of the layers whose learned range (wcat alpha, lsq step) is held at its floor.

    The floor is :func:`wcatsim.train.quant.quantizers.range_floor`; a range there is the sign of a range
    the optimiser drove through zero.
    """
    layers = quantized_layers(model)
    return [name for name, layer in layers.items() if layer.quantizer.range_at_floor(layer.weight)]


def reinit_ranges(model: nn.Module) -> None:
    """Re-initialise every learned range from the layers' current weights.

    Call it after loading a float checkpoint into a quantized model (e.g. ``--init-from``); plclip
    ranges follow the weights anyway.
    """
    for layer in quantized_layers(model).values():
        layer.quantizer.init_range(layer.weight)


@torch.no_grad()
def clip_weights_(model: nn.Module) -> None:
    """Clip the stored weights of wclip layers to their fixed range.

    Call it after each optimiser step, as weight clipping does in Stutz et al., MLSys 2021; other
    quantizers are left alone (plclip, as in the WCAT code, clips only in the forward).
    """
    for layer in quantized_layers(model).values():
        if isinstance(layer.quantizer, FixedRangeQuantizer):
            r = layer.quantizer.w_range
            layer.weight.clamp_(-r, r)


@torch.no_grad()
def layer_stats(model: nn.Module) -> dict[str, dict[str, Any]]:
    """Return the statistics of every quantized layer's weights.

    Per quantized layer: ``range`` (clipping range in use, = step * 2^(N-1), weight units),
    ``max_abs_weight``, ``clipped_fraction`` (share of weights with |w| > range), ``step``, ``bits``,
    ``numel``, ``code_min`` and ``code_histogram`` (counts of codes code_min, code_min+1, ..., 2^(N-1)-1).
    """
    stats = {}
    for name, layer in quantized_layers(model).items():
        q = layer.quantizer
        w = layer.weight.detach()
        step = q.step(w)
        qmin, qmax = grid_bounds(q.bits)
        codes = q.codes(w).to("cpu", torch.int64).ravel()
        w_range = float(step) * 2 ** (q.bits - 1)
        stats[name] = {
            "range": w_range,
            "max_abs_weight": float(w.abs().max()),
            "clipped_fraction": float((w.abs() > w_range).float().mean()),
            "step": float(step),
            "bits": q.bits,
            "numel": w.numel(),
            "code_min": qmin,
            "code_histogram": torch.bincount(codes - qmin, minlength=qmax - qmin + 1).tolist(),
        }
    return stats
