"""Batch norm and max pooling that hold less memory during inference, with the same floats.

On an ImageNet-sized network the stem's convolution output is the largest tensor of the forward
(ResNet-18: 64 x 112 x 112 floats per image, 196 MiB at batch 64). A plain batch norm holds it and its
own output of the same size together; CPU max pooling always computes int64 argmax indices (ATen's
``max_pool2d`` calls ``max_pool2d_with_indices``), twice the size of its output (98 MiB for ResNet-18's
stem at batch 64; 392 MiB for VGG-16's first pool). These two layers are the peak of a streamed
ImageNet evaluation (``benchmarks/scale.py``).

:class:`InplaceBatchNorm2d` normalises in place, only where it changes nothing but memory: eval mode
with running statistics, autograd off (evaluation, fault sweeps; training and the Bit-Flip Attack's
gradients take the ordinary path), a float32 CPU tensor in one dense layout. There
``torch.native_batch_norm`` is an elementwise ``x * a + b`` per channel and gives the same floats
written over its input as into a new tensor (tested bit for bit against ``nn.BatchNorm2d``). The
contract is that of an in-place ReLU: the caller's input tensor is overwritten, so use it, like the
torchvision layouts it serves, only where the input is a fresh convolution output nothing else reads.

:class:`BatchChunkedMaxPool2d` pools :data:`POOL_CHUNK` images at a time into one preallocated output in
inference, so the indices exist for those images only. A maximum involves no rounding, and every image
is pooled on its own, so the output is the same floats as one call over the batch (tested).
"""

from __future__ import annotations

import torch
from torch import nn


def _dense(x: torch.Tensor) -> bool:
    return x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)


class InplaceBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` (same parameters, buffers and state-dict keys) that overwrites its input in
    inference; see the module docstring for when."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            self.training
            or torch.is_grad_enabled()
            or self.running_mean is None
            or x.device.type != "cpu"
            or x.dtype != torch.float32
            or x.requires_grad
            or not _dense(x)
        ):
            return super().forward(x)
        self._check_input_dim(x)
        empty = x.new_empty(0)
        torch.native_batch_norm(
            x, self.weight, self.bias, self.running_mean, self.running_var, False, 0.0, self.eps,
            out=(x, empty, empty.clone()),
        )  # fmt: skip
        return x


# Images pooled per call in inference: ResNet-18's stem at 8 images holds 12 MiB of indices (against 98
# MiB for a batch of 64), and 8 calls per batch cost nothing measurable against the convolutions.
POOL_CHUNK = 8


class BatchChunkedMaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` that, in inference on CPU, pools :data:`POOL_CHUNK` images at a time."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            torch.is_grad_enabled()
            or self.return_indices
            or x.dim() != 4
            or x.shape[0] <= POOL_CHUNK
            or x.device.type != "cpu"
            or not _dense(x)
        ):
            return super().forward(x)
        head = super().forward(x[:POOL_CHUNK])  # the output's shape and layout (batch outermost in both)
        out = torch.empty_strided((x.shape[0], *head.shape[1:]), head.stride(), dtype=head.dtype)
        out[:POOL_CHUNK] = head
        indices = torch.empty_strided(head.shape, head.stride(), dtype=torch.int64)
        for start in range(POOL_CHUNK, x.shape[0], POOL_CHUNK):
            stop = min(start + POOL_CHUNK, x.shape[0])
            torch._C._nn.max_pool2d_with_indices(
                x[start:stop], self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                out=(out[start:stop], indices[: stop - start]),
            )  # fmt: skip
        return out


__all__ = ["POOL_CHUNK", "BatchChunkedMaxPool2d", "InplaceBatchNorm2d"]
