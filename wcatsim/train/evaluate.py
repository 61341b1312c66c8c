"""Clean accuracy of a model on tensors or streamed images, and device selection."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from sram_models.errors import InputError

# CPU batch size for inference.  Measured for a 4-bit ResNet-20 on 512 CIFAR-shaped images on the 2-core
# development machine (best of 4, machine shared): contiguous batch 64 7.6 s, channels_last batch 64
# 5.2 s, batch 128 4.8 s, batch 256 3.1 s, batch 512 3.8 s; so channels_last at batch 256
CPU_BATCH = 256
# on a GPU the whole batch of a few thousand images fits easily
GPU_BATCH = 1024


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> cuda when available, else cpu; "cpu"; "cuda" / "cuda:N" (InputError without a GPU)."""
    if isinstance(device, torch.device):
        device = str(device)
    text = str(device).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            configure_cuda()
            return torch.device("cuda")
        return torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or text.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(
                f"device {device!r} requested but no CUDA GPU is available: use `option.device` cpu or auto"
            )
        try:
            resolved = torch.device(text)
        except RuntimeError:
            raise InputError(f"device {device!r} is not a CUDA device name, e.g. cuda or cuda:0") from None
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise InputError(f"device {device!r}: only {torch.cuda.device_count()} GPU(s) present")
        configure_cuda()
        return resolved
    raise InputError(f"device {device!r} is unknown: use auto, cpu or cuda")


def configure_cuda() -> None:
    """FP32 numbers on a GPU, reproducible run to run: TF32 off (cuDNN's convolutions use TF32 by default,
    which changes accuracies against the CPU), cuDNN autotuning off, deterministic algorithms on (with a
    warning, not an error, for an operation that has none) and the cuBLAS workspace setting they need."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def _model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def _has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def predict(model: nn.Module, x: torch.Tensor, batch_size: int | None = None,
            device: str | torch.device | None = None) -> torch.Tensor:
    """Predicted classes (int64, CPU) in eval mode, without autograd."""
    target = _model_device(model) if device is None else resolve_device(device)
    if target != _model_device(model):
        model.to(target)
    if batch_size is None:
        batch_size = GPU_BATCH if target.type == "cuda" else CPU_BATCH
    channels_last = x.dim() == 4 and _has_conv(model)
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, x.shape[0], batch_size):
            batch = x[start : start + batch_size].to(target, non_blocking=True)
            if channels_last:
                # channels_last inputs make the CPU conv kernels run NHWC (faster); the weights are untouched
                batch = batch.contiguous(memory_format=torch.channels_last)
            out.append(model(batch).argmax(dim=1).cpu())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.int64)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int | None = None,
             device: str | torch.device | None = None) -> float:
    """Top-1 accuracy in percent on (x, y), model in eval mode, under torch.inference_mode.

    ``device`` None uses the model's device (the model is moved when another one is named)."""
    if x.shape[0] != y.shape[0]:
        raise InputError(f"{x.shape[0]} images but {y.shape[0]} labels")
    if x.shape[0] == 0:
        raise InputError("accuracy of an empty set is undefined: pass at least one image")
    predicted = predict(model, x, batch_size, device)
    correct = int((predicted == y.cpu()).sum())
    # (100 * correct) / n is one correctly rounded division: 974 of 1000 gives 97.4 exactly as written
    # in a table, where 100 * (974 / 1000) gives 97.39999999999999.
    return 100.0 * correct / int(y.shape[0])


def accuracy_on(model: nn.Module, images: Any, batch_size: int | None = None,
                device: str | torch.device | None = None) -> float:
    """Top-1 accuracy in percent on a :class:`wcatsim.train.datasets.streaming.EvalImages` (held in memory or
    streamed): in-memory images go through :func:`accuracy` exactly as tensors do; streamed ones are
    counted batch by batch in the fixed order."""
    if images.n_images == 0:
        raise InputError("accuracy of an empty set is undefined: pass at least one image")
    if images.x is not None:
        return accuracy(model, images.x, images.y, batch_size, device)
    from wcatsim.train.datasets.streaming import release_free_memory

    predicted = torch.cat([predict(model, xb, batch_size or len(xb), device) for xb, _ in images.batches()])
    release_free_memory()  # the pass's activations, so that the next pass does not start on top of them
    # the same expression as accuracy(), so both paths give the same float for the same answers
    return 100.0 * int((predicted == images.y.cpu()).sum()) / int(images.y.shape[0])
