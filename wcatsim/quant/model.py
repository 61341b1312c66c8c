"""Model-level quantization: replace layers, list them, their ranges and statistics."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sram_models.errors import InputError

from .config import QuantConfig
from .functions import grid_bounds
from .layers import QUANTIZED_TYPES, QConv2d, QLinear
from .quantizers import FixedRangeQuantizer, LsqQuantizer, MaxAbsQuantizer, WcatQuantizer, WeightQuantizer
from .range_init import max_abs_range

# plclip: a layer's share of the largest layer max|w| is never taken below this floor (the WCAT code's
# per-layer clipping baseline), so that layers with small weights keep a usable range
PLCLIP_FLOOR = 0.2

_CONFIG_ATTRIBUTE = "_wcatsim_quant_config"


def _float_layers(model: nn.Module) -> dict[str, nn.Module]:
    return {
        name: module for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and not isinstance(module, QUANTIZED_TYPES)
    }


def _make_quantizer(cfg: QuantConfig, weight: torch.Tensor, plclip_range: float | None) -> WeightQuantizer:
    if cfg.method == "maxabs":
        return MaxAbsQuantizer(cfg.bits, cfg.train_ber)
    if cfg.method == "wclip":
        return FixedRangeQuantizer(cfg.bits, cfg.w_max, "wclip", cfg.train_ber)
    if cfg.method == "plclip":
        return FixedRangeQuantizer(cfg.bits, plclip_range, "plclip", cfg.train_ber)
    if cfg.method == "lsq":
        quantizer = LsqQuantizer(cfg.bits, cfg.train_ber)
    else:
        quantizer = WcatQuantizer(cfg.bits, cfg.clamp_grad, cfg.range_init, cfg.range_init_ber, cfg.train_ber)
    quantizer.init_range(weight)
    return quantizer


def plclip_ranges(weights: dict[str, torch.Tensor], base: float) -> dict[str, float]:
    """plclip: range_l = base * max(PLCLIP_FLOOR, max|w_l| / max over layers of max|w|)."""
    tops = {name: max_abs_range(w) for name, w in weights.items()}
    largest = max(tops.values())
    return {name: base * max(PLCLIP_FLOOR, top / largest) for name, top in tops.items()}


def quantize(model: nn.Module, cfg: QuantConfig) -> nn.Module:
    """Replace every Conv2d and Linear of ``model`` (in place; first and last included) by its quantized
    subclass, except those named in ``cfg.exclude``; returns the model.

    ``method="float"`` returns the model unchanged.  Learned ranges (wcat alpha, lsq step) and plclip
    ranges are initialised from the current weights; after loading other weights call
    :func:`reinit_ranges`.
    """
    if not isinstance(cfg, QuantConfig):
        raise TypeError(f"quantize needs a QuantConfig, got {type(cfg).__name__}")
    if quantized_layers(model):
        raise InputError("this model is already quantized: build a fresh float model and quantize it once")
    setattr(model, _CONFIG_ATTRIBUTE, cfg)
    if not cfg.quantized:
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
    ranges = {}
    if cfg.method == "plclip":
        ranges = plclip_ranges({n: m.weight for n, m in chosen.items()}, cfg.plclip_base)
    for name, layer in chosen.items():
        quantizer = _make_quantizer(cfg, layer.weight, ranges.get(name))
        replacement = (QConv2d if isinstance(layer, nn.Conv2d) else QLinear).from_float(layer, quantizer)
        _set_submodule(model, name, replacement)
    return model


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def quant_config_of(model: nn.Module) -> QuantConfig | None:
    """The QuantConfig a model was quantized with (None if :func:`quantize` never ran on it)."""
    return getattr(model, _CONFIG_ATTRIBUTE, None)


def quantized_layers(model: nn.Module) -> dict[str, QConv2d | QLinear]:
    """Qualified name -> quantized layer, in module (forward) order."""
    return {name: m for name, m in model.named_modules() if isinstance(m, QUANTIZED_TYPES)}


def range_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The learned range parameters (wcat alpha, lsq step), for their own optimiser group (range decay)."""
    params = [layer.quantizer.range_parameter() for layer in quantized_layers(model).values()]
    return [p for p in params if p is not None]


def reinit_ranges(model: nn.Module) -> None:
    """Re-initialise every learned or per-layer range from the layers' current weights (after loading a
    float checkpoint into a quantized model, e.g. ``--init-from``)."""
    layers = quantized_layers(model)
    cfg = quant_config_of(model)
    plclip = [n for n, m in layers.items() if isinstance(m.quantizer, FixedRangeQuantizer)
              and m.quantizer.method == "plclip"]
    if plclip:
        base = cfg.plclip_base if cfg is not None else QuantConfig().plclip_base
        for name, value in plclip_ranges({n: layers[n].weight for n in plclip}, base).items():
            layers[name].quantizer.set_range(value)
    for layer in layers.values():
        layer.quantizer.init_range(layer.weight)


@torch.no_grad()
def clip_weights_(model: nn.Module) -> None:
    """Clip the stored weights of wclip/plclip layers to their fixed range (call after each optimiser
    step, as weight clipping does in Stutz et al., MLSys 2021); other quantizers are left alone."""
    for layer in quantized_layers(model).values():
        if isinstance(layer.quantizer, FixedRangeQuantizer):
            r = layer.quantizer.w_range
            layer.weight.clamp_(-r, r)


@torch.no_grad()
def layer_stats(model: nn.Module) -> dict[str, dict[str, Any]]:
    """Per quantized layer: ``range`` (clipping range in use, = step * 2^(N-1), weight units),
    ``max_abs_weight``, ``clipped_fraction`` (share of weights with |w| > range), ``step``, ``bits``,
    ``numel``, ``code_min`` and ``code_histogram`` (counts of codes code_min, code_min+1, ..., 2^(N-1)-1)."""
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
