"""Several fault realisations in one forward: realisations folded into the batch, grouped convolutions.

A realisation changes only the weights of the quantized layers held in the faulty memory; every other
layer (batch norm in eval mode, activations, pooling, the residual adds, the layers kept in protected
memory) computes each image on its own.  So B realisations of a batch of n images run as one forward
over B x n images, realisation-major (image j of realisation b at row ``b * n + j``), where each faulty
layer applies realisation b's weights to its own rows:

* a convolution as one grouped convolution: the rows of the B realisations side by side as channels
  (``[n, B * C, H, W]``), the B weight tensors stacked along the output channels and ``groups`` times B;
* a linear layer as one batched matrix product (``torch.baddbmm``) over the B realisations.

This is what ``torch.func.vmap`` over stacked weights computes for a convolution (its batching rule
is the same grouped convolution), without vmap's limits: the memory-lean inference layers of the
ImageNet layouts (:mod:`wcatsim.train.models.lean_inference`) query memory formats and write in place,
which vmap refuses, but run unchanged on a folded batch.  On a GPU, B small forwards become one large
one; on CPU the kernels are already busy and one realisation at a time is the default.

The floats may differ from one realisation at a time only by the kernels' summation order (a grouped
against a plain convolution kernel): :data:`LOGIT_ATOL` is the tolerance the tests hold them to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

    from wcatsim.memory.evaluator import ModelMemory

# Largest |batched - one-by-one| logit difference the tests accept, relative to the largest |logit|
# (float32 has 24 bits, ~6e-8 per rounding; a convolution sums hundreds of products per output and a
# ResNet stacks tens of them: 1e-5 leaves two orders of magnitude above the 1e-7 measured on CPU).
LOGIT_RTOL = 1e-5
LOGIT_ATOL = 1e-5


def stacked_weights(memory: ModelMemory, reads: Sequence[Mapping[str, np.ndarray]]
                    ) -> dict[str, torch.Tensor]:
    """The dequantized weights of each read, stacked per layer: ``{layer: [B, *weight.shape]}``.

    Each read's weights are the ones :func:`wcatsim.image.run_from_image` computes with (taken from it,
    so the dequantization is the same expression).
    """
    import torch

    from wcatsim.train.quant import quantized_layers

    layers = quantized_layers(memory.model)
    per_read = []
    for codes in reads:
        with memory.loaded(codes):
            per_read.append({name: layers[name]._image_weight for name in memory.layers})
    return {name: torch.stack([weights[name] for weights in per_read]) for name in memory.layers}


def _fold_channels(x: torch.Tensor, b: int) -> torch.Tensor:
    """``[b * n, C, ...]`` (realisation-major rows) as ``[n, b * C, ...]`` (realisations side by side)."""
    import torch

    n = x.shape[0] // b
    channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    shape = (n, b * x.shape[1], *x.shape[2:])
    out = torch.empty(shape, dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    out.view(n, b, *x.shape[1:]).copy_(x.view(b, n, *x.shape[1:]).transpose(0, 1))
    return out


def _unfold_channels(y: torch.Tensor, b: int) -> torch.Tensor:
    """The inverse of :func:`_fold_channels`: ``[n, b * C, ...]`` back to ``[b * n, C, ...]``."""
    import torch

    n, c = y.shape[0], y.shape[1] // b
    channels_last = y.dim() == 4 and y.is_contiguous(memory_format=torch.channels_last)
    out = torch.empty((b * n, c, *y.shape[2:]), dtype=y.dtype, device=y.device,
                      memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    out.view(b, n, c, *y.shape[2:]).copy_(y.view(n, b, c, *y.shape[2:]).transpose(0, 1))
    return out


def _conv_forward(layer: nn.Conv2d, weights: torch.Tensor) -> Any:
    import torch.nn.functional as F

    b = weights.shape[0]
    weight = weights.reshape(b * weights.shape[1], *weights.shape[2:])
    bias = layer.bias.repeat(b) if layer.bias is not None else None

    def forward(x: torch.Tensor) -> torch.Tensor:
        folded = _fold_channels(x, b)
        if layer.padding_mode != "zeros":
            folded = F.pad(folded, layer._reversed_padding_repeated_twice, mode=layer.padding_mode)
            padding: Any = 0
        else:
            padding = layer.padding
        y = F.conv2d(folded, weight, bias, layer.stride, padding, layer.dilation, layer.groups * b)
        return _unfold_channels(y, b)

    return forward


def _linear_forward(layer: nn.Linear, weights: torch.Tensor) -> Any:
    import torch

    b = weights.shape[0]
    transposed = weights.transpose(1, 2)  # [B, in, out]

    def forward(x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(b, -1, x.shape[-1])
        if layer.bias is None:
            y = torch.bmm(rows, transposed)
        else:
            y = torch.baddbmm(layer.bias.expand(b, 1, -1), rows, transposed)
        return y.reshape(*x.shape[:-1], y.shape[-1])

    return forward


@contextmanager
def realisations_in_batch(model: nn.Module, weights: Mapping[str, torch.Tensor]) -> Iterator[int]:
    """Within the block, ``model`` computes B realisations at once; yields B.

    ``weights``: ``{layer: [B, *weight.shape]}`` (:func:`stacked_weights`).  The model's input must then
    hold B copies (or B sets) of the images, realisation-major; its output has the same row order.  The
    named layers' ``forward`` is replaced on the instance for the block and restored after it.
    """
    from torch import nn

    from wcatsim.train.quant import quantized_layers

    layers = quantized_layers(model)
    sizes = {int(w.shape[0]) for w in weights.values()}
    if len(sizes) != 1:
        raise ValueError(f"stacked weights must hold one count of realisations, got {sorted(sizes)}")
    b = sizes.pop()
    replaced = []
    try:
        for name, stacked in weights.items():
            layer = layers[name]
            stacked = stacked.to(layer.weight.device)
            if isinstance(layer, nn.Conv2d):
                layer.forward = _conv_forward(layer, stacked)
            elif isinstance(layer, nn.Linear):
                layer.forward = _linear_forward(layer, stacked)
            else:  # pragma: no cover - QUANTIZED_TYPES holds only these two
                raise TypeError(f"no batched forward for {type(layer).__name__}")
            replaced.append(layer)
        yield b
    finally:
        for layer in replaced:
            del layer.forward  # the class's forward again


def predict_batched(model: nn.Module, weights: Mapping[str, torch.Tensor], batches: Any, shared: bool = True,
                    channels_last: bool = False) -> torch.Tensor:
    """Predicted classes ``[B, n]`` (int64, CPU) of B realisations over a sequence of image batches.

    ``batches``: tensors already on the model's device (what :func:`wcatsim.train.evaluate.predict`
    feeds one realisation).  ``shared``: each batch ``[m, ...]`` is read by every realisation (repeated
    B times); otherwise each is ``[B, m, ...]``, realisation b reading its own images.  ``channels_last``:
    a folded batch of images (4-D) is laid out NHWC, as ``predict`` lays out a batch for a convolutional
    model.  Eval mode, under ``torch.inference_mode``.
    """
    import torch

    model.eval()
    out = []
    with torch.inference_mode(), realisations_in_batch(model, weights) as b:
        for batch in batches:
            if shared:
                batch = batch.unsqueeze(0).expand(b, *batch.shape)
            folded = batch.reshape(b * batch.shape[1], *batch.shape[2:])
            if channels_last and folded.dim() == 4:
                folded = folded.contiguous(memory_format=torch.channels_last)
            out.append(model(folded).argmax(dim=-1).reshape(b, -1).cpu())
    return torch.cat(out, dim=1) if out else torch.zeros((b, 0), dtype=torch.int64)


def logits_batched(model: nn.Module, weights: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits ``[B, n, classes]`` of B realisations on the images ``x`` (one batch; for tests and checks)."""
    import torch

    model.eval()
    with torch.inference_mode(), realisations_in_batch(model, weights) as b:
        folded = x.unsqueeze(0).expand(b, *x.shape).reshape(b * x.shape[0], *x.shape[1:])
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            folded = folded.contiguous(memory_format=torch.channels_last)
        return model(folded).reshape(b, x.shape[0], -1).cpu()


__all__ = ["LOGIT_ATOL", "LOGIT_RTOL", "logits_batched", "predict_batched", "realisations_in_batch",
           "stacked_weights"]
