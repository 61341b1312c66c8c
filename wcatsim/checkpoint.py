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
from wcatsim.atomic import atomic_write_bytes
from wcatsim.errors import CheckpointError

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
    try:
        with warnings.catch_warnings():  # torch warns about a foreign pickle protocol before it fails
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        # torch's own text advises weights_only=False, i.e. running code from the file: never repeat it.
        if "Unsupported global" in str(exc):
            raise CheckpointError(
                f"{path} holds Python objects besides tensors and plain values; wcatsim loads checkpoints "
                "safely (tensors, numbers, strings, lists, dicts only) and never runs code from a file: "
                "save a plain state dict instead, or retrain with `wcatsim train`"
            ) from None
        raise CheckpointError(
            f"{path} is not a readable wcatsim checkpoint ({type(exc).__name__}; truncated, or not a .pt "
            "file); retrain it with `wcatsim train`"
        ) from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise CheckpointError(f"{path} holds no model state dict; it is not a wcatsim checkpoint")
    return payload


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
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected {_few(unexpected)}")
        if wrong:
            k = wrong[0]
            parts.append(f"shape of {k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}")
        raise CheckpointError(
            f"{path} does not fit this model ({'; '.join(parts)}): it is of another architecture or "
            "bit width; retrain with `wcatsim train`"
        )
    model.load_state_dict(state, strict=True)


def _few(keys: list[str]) -> str:
    shown = ", ".join(keys[:3])
    return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
