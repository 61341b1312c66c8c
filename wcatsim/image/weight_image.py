"""The deployable integer weights of a quantized model, and running the model from such an image.

``weight_image(model)`` gives per layer the int16 codes (CPU), the step and N.  ``run_from_image``
makes the named layers use ``codes.to(float32) * step`` (computed once on entry) instead of their own
weights, without touching any parameter: the same product as the fake-quant forward, so running from
the model's own image is bit-for-bit the fake-quant forward on CPU.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sram_models.errors import InputError
from wcatsim.train.quant.functions import dequantize, grid_bounds
from wcatsim.train.quant.model import quantized_layers


@dataclass(frozen=True)
class LayerImage:
    """One layer's deployable weights: ``weight = codes * step``."""

    codes: torch.Tensor  # int16, CPU, the layer's weight shape, values in [-2^(N-1), 2^(N-1)-1]
    step: float  # weight units per code (a float32 value held exactly as a Python float)
    bits: int  # N

    def dequantized(self) -> torch.Tensor:
        """Return codes * step as float32 (the weights the layer computes with)."""
        return dequantize(self.codes, torch.tensor(self.step, dtype=torch.float32))


def weight_image(model: nn.Module) -> dict[str, LayerImage]:
    """Return every quantized layer's codes, step and N, in module order.

    Raises
    ------
    InputError
        For a float (unquantized) model, which has no integer image.
    """
    layers = quantized_layers(model)
    if not layers:
        raise InputError(
            "the model has no quantized layers (method 'float'?): an integer weight image needs a quantized "
            "model, e.g. quant.method = 'wcat'"
        )
    image = {}
    with torch.no_grad():
        for name, layer in layers.items():
            w = layer.weight.detach()
            codes = layer.quantizer.codes(w).to("cpu", torch.int16)
            image[name] = LayerImage(codes=codes, step=float(layer.quantizer.step(w)), bits=layer.bits)
    return image


def _as_codes(name: str, value: object, layer: nn.Module) -> torch.Tensor:
    if isinstance(value, LayerImage):
        value = value.codes
    if isinstance(value, np.ndarray):
        if not np.issubdtype(value.dtype, np.integer):
            raise InputError(f"codes for layer {name!r} must be integers, got dtype {value.dtype}")
        value = torch.from_numpy(np.ascontiguousarray(value).astype(np.int16, copy=False))
    if not isinstance(value, torch.Tensor):
        raise InputError(f"codes for layer {name!r} must be a tensor or an integer array, got {type(value)}")
    if value.is_floating_point() or value.is_complex():
        raise InputError(f"codes for layer {name!r} must be integers, got dtype {value.dtype}")
    if tuple(value.shape) != tuple(layer.weight.shape):
        raise InputError(
            f"codes for layer {name!r} have shape {tuple(value.shape)}, the layer's weight has "
            f"{tuple(layer.weight.shape)}"
        )
    qmin, qmax = grid_bounds(layer.bits)
    if value.numel() and (int(value.min()) < qmin or int(value.max()) > qmax):
        raise InputError(
            f"codes for layer {name!r} leave the {layer.bits}-bit grid [{qmin}, {qmax}] "
            f"(min {int(value.min())}, max {int(value.max())})"
        )
    return value


@contextmanager
def run_from_image(model: nn.Module, codes: Mapping[str, object]) -> Iterator[nn.Module]:
    """Run the named quantized layers from ``codes`` within the block.

    Within the block, the named quantized layers compute with ``codes * step`` (their own current
    step); other layers run as usual.  Values may be int tensors, integer NumPy arrays or LayerImages.
    The dequantized weights are computed once on entry, without autograd; parameters are untouched and
    the previous state is restored on exit (blocks may nest).
    """
    layers = quantized_layers(model)
    unknown = [name for name in codes if name not in layers]
    if unknown:
        raise InputError(f"image names {unknown} are not quantized layers of the model: {', '.join(layers)}")
    previous = {}
    weights = {}
    with torch.no_grad():
        for name, value in codes.items():
            layer = layers[name]
            tensor = _as_codes(name, value, layer)
            step = layer.quantizer.step(layer.weight)
            weights[name] = dequantize(tensor.to(layer.weight.device), step).to(layer.weight.dtype)
    for name, weight in weights.items():
        previous[name] = layers[name]._image_weight
        layers[name]._image_weight = weight
    try:
        yield model
    finally:
        for name, weight in previous.items():
            layers[name]._image_weight = weight
