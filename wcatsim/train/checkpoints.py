"""Checkpoint files: state dicts, the resolved config and the version, saved atomically.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it
loads with ``torch.load(..., weights_only=True)``: opening a checkpoint never
runs code from it. The resolved config travels inside, so a checkpoint is
checked against the model it is loaded into (architecture, dataset shape,
quantizer and bit width) before any tensor is copied, and refused with a
message that says what differs.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from wcatsim import __version__
from wcatsim.errors import CheckpointError
from wcatsim.store.atomic import atomic_write_bytes

FORMAT = "wcatsim-checkpoint-1"

# File names inside a run directory. BEST is what evaluation and attacks load.
BEST = "checkpoint.pt"
LAST = "last.pt"


def save_checkpoint(path: str | Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` (plus format and version) to ``path`` in one atomic step."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": __version__, **payload}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint dict on CPU with ``weights_only=True``; unreadable files are a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    payload = _torch_load_safely(
        path, CheckpointError,
        unsafe_fix="save a plain state dict instead, or retrain with `wcatsim train`",
        unreadable=f"{path} is not a readable wcatsim checkpoint ({{kind}}; truncated, or not a .pt file); "
        "retrain it with `wcatsim train`",
    )  # fmt: skip
    if not isinstance(payload, dict) or "model" not in payload:
        raise CheckpointError(f"{path} holds no model state dict; it is not a wcatsim checkpoint")
    return payload


def _torch_load_safely(path: Path, error: type[Exception], unsafe_fix: str, unreadable: str) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU; a failure is one line of ``error``. torch's own text
    advises weights_only=False, i.e. running code from the file: it is never repeated. ``unreadable`` is
    the message for a file that is not a torch file (``{kind}``: the exception's type)."""
    try:
        with warnings.catch_warnings():  # torch warns about a foreign pickle protocol before it fails
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad or unsafe file
        if "Unsupported global" in str(exc):
            raise error(
                f"{path} holds Python objects besides tensors and plain values; wcatsim loads files with "
                f"torch.load(weights_only=True) (tensors, numbers, strings, lists, dicts only) and never "
                f"runs code from a file: "
                f"{unsafe_fix}"
            ) from None
        # replace, not .format: a path may hold braces
        raise error(unreadable.replace("{kind}", type(exc).__name__)) from None


def describe(config: Mapping[str, Any]) -> str:
    """``"small_cnn on digits, 4-bit wcat"`` from a config dict."""
    model = config.get("model", {}).get("name", "?")
    data = config.get("data", {}).get("name", "?")
    quant = config.get("quant", {})
    method = quant.get("method", "?")
    quant_text = "float" if method == "float" else f"{quant.get('bits', '?')}-bit {method}"
    return f"{model} on {data}, {quant_text}"


def check_same_model(saved: Mapping[str, Any], wanted: Mapping[str, Any], path: str | Path) -> None:
    """Refuse a checkpoint whose architecture, dataset, quantizer or bit width differs from ``wanted``."""
    checks = [
        ("model", "name"),
        ("data", "name"),
        ("quant", "method"),
        ("quant", "bits"),
    ]
    for section, key in checks:
        a = saved.get(section, {}).get(key)
        b = wanted.get(section, {}).get(key)
        bits_of_float = section == "quant" and key == "bits" and "float" in (_method(saved), _method(wanted))
        if a != b and not bits_of_float:
            raise CheckpointError(
                f"{path} holds {describe(saved)}, but this run is {describe(wanted)} ({section}.{key}: "
                f"{a!r} vs {b!r}); use a checkpoint of the same architecture and bit width, or retrain"
            )


def _method(config: Mapping[str, Any]) -> Any:
    return config.get("quant", {}).get("method")


def load_model_state(model: torch.nn.Module, state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """Copy ``state`` into ``model`` strictly; a key or shape mismatch is a CheckpointError."""
    problem = describe_mismatch(model.state_dict(), state)
    if problem:
        raise CheckpointError(
            f"{path} does not fit this model ({problem}): it is of another architecture or "
            "bit width; retrain with `wcatsim train`"
        )
    model.load_state_dict(state, strict=True)


def describe_mismatch(own: Mapping[str, torch.Tensor], state: Mapping[str, Any]) -> str:
    """What keeps ``state`` from loading into a model whose state dict is ``own`` ("" when it fits):
    the first few missing and unexpected keys and the first mis-shaped one."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    parts = []
    if missing:
        parts.append(f"missing {_few(missing)}")
    if unexpected:
        parts.append(f"unexpected {_few(unexpected)}")
    if wrong:
        k = wrong[0]
        more = f" (and {len(wrong) - 1} more mis-shaped)" if len(wrong) > 1 else ""
        parts.append(f"shape of {k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}{more}")
    return "; ".join(parts)


def _few(keys: list[str]) -> str:
    shown = ", ".join(keys[:3])
    return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


# ---------------------------------------------------------------- pretrained weights (model.weights)

# Keys under which released checkpoints nest their state dict, tried in this order: {"state_dict": ...}
# (Lightning and many training scripts), {"model": ...} (the DeiT release files, timm's train script and
# wcatsim's own checkpoints), {"model_state_dict": ...} and {"module": ...} (other common scripts).
STATE_DICT_CONTAINERS = ("state_dict", "model", "model_state_dict", "module")
# The prefix DataParallel / DistributedDataParallel put on every key; removed when every key has it.
PARALLEL_PREFIX = "module."


def read_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a ``.safetensors`` file or a torch file (``weights_only=True``, never unpickling
    code), unwrapped from the usual containers; InputError (one line) for anything else."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        try:
            payload: Any = load_file(str(path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
            raise WeightsError(f"{path} is not a readable safetensors file ({_first_line(exc)})") from None
    else:
        fix = "save a plain state dict (torch.save(model.state_dict(), FILE)) or a .safetensors file"
        payload = _torch_load_safely(
            path, WeightsError, unsafe_fix=fix,
            unreadable=f"{path} does not load with torch.load(weights_only=True) ({{kind}}; truncated, or "
            f"not a torch file): {fix}",
        )  # fmt: skip
    state = _unwrap(payload, path)
    if state and all(k.startswith(PARALLEL_PREFIX) for k in state):
        state = {k[len(PARALLEL_PREFIX):]: v for k, v in state.items()}
    return state


def _unwrap(payload: Any, path: Path) -> dict[str, torch.Tensor]:
    for _ in range(3):  # {"model": {"state_dict": ...}} at most
        if not isinstance(payload, Mapping):
            break
        if payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
            return {str(k): v for k, v in payload.items()}
        inner = next((payload[k] for k in STATE_DICT_CONTAINERS if isinstance(payload.get(k), Mapping)), None)
        if inner is None:
            break
        payload = inner
    if isinstance(payload, Mapping):
        odd = [str(k) for k, v in payload.items() if not isinstance(v, torch.Tensor)]
        raise WeightsError(
            f"{path} holds no state dict of tensors (entries that are not tensors: {_few(odd) or 'none'}; "
            f"containers tried: {', '.join(STATE_DICT_CONTAINERS)})"
        )
    raise WeightsError(f"{path} holds a {type(payload).__name__}, not a state dict")


def load_weights(model: torch.nn.Module, state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """Copy a pretrained ``state`` into the float ``model``: every parameter and buffer must be there with
    its shape (a missing batch-norm ``num_batches_tracked`` counter keeps the model's own), values are
    cast to the model's dtypes; anything else is one line listing the first few offending keys."""
    own = model.state_dict()
    state = dict(state)
    for key, value in own.items():
        if key not in state and key.endswith("num_batches_tracked"):
            state[key] = value  # a counter, not a weight: files saved without it are fine
    problem = describe_mismatch(own, state)
    if problem:
        raise WeightsError(f"weights file {path} does not fit the model ({problem})")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)


class WeightsError(CheckpointError):
    """A weights file that cannot be read or does not fit the model (exit 2)."""


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
