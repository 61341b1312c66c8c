"""Building a model from the user's own factory (``model.name = "file.py:function"``).

The factory's file is code that runs; its SHA-256 is recorded and checked by
:mod:`wcatsim.config.model_source` before it is executed here.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sram_models.errors import InputError
from wcatsim.config.model_source import (
    _is_file_target,
    check_recorded,
    source_file,
    split_factory_name,
)

if TYPE_CHECKING:
    from torch import nn


# What the dataset tells a factory, passed where its signature takes them.
DATASET_ARGUMENTS = ("num_classes", "in_channels", "image_size")



def load_factory(name: str, recorded_sha256: str = "") -> Callable[..., Any]:
    """The callable ``name`` points to; its file must still have ``recorded_sha256`` (when given).

    A file target is executed as a module of its own (named after its hash, so that two versions never
    mix in one process); a module target is imported.
    """
    target, attribute = split_factory_name(name)
    path = source_file(name)
    sha = check_recorded("model file", path, recorded_sha256, "model.factory_sha256")
    if _is_file_target(target):
        module_name = f"_wcatsim_model_{sha[:16]}"
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise InputError(f"model file {path} cannot be loaded as Python source")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
            try:
                spec.loader.exec_module(module)
            except Exception as exc:  # noqa: BLE001 - the user's code: one line, not a traceback
                del sys.modules[module_name]
                raise InputError(f"running model file {path} failed: {_one_line(exc, path)}") from None
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"importing model module {target!r} failed: {_one_line(exc, path)}") from None
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            public = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
            raise InputError(
                f"{path} has no {attribute!r} (model.name = {name!r}); callables it defines: "
                f"{', '.join(public[:8]) or 'none'}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError(f"{attribute!r} in {path} is not callable; model.name must name a factory function")
    return obj



def build_from_factory(
    name: str,
    recorded_sha256: str,
    args: Mapping[str, Any],
    num_classes: int,
    in_channels: int,
    image_size: int,
) -> nn.Module:
    """Call the factory ``name`` names and check that it returned an ``nn.Module``."""
    from torch import nn

    factory = load_factory(name, recorded_sha256)
    kwargs = _dataset_kwargs(
        factory, {"num_classes": num_classes, "in_channels": in_channels, "image_size": image_size}, args
    )
    kwargs.update(args)
    code = getattr(factory, "__code__", None)  # the file the code was compiled from
    where = Path(code.co_filename) if code is not None else source_file(name)
    try:
        model = factory(**kwargs)
    except Exception as exc:  # noqa: BLE001 - the user's code: one line, not a traceback
        given = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise InputError(
            f"model factory {name} raised {_one_line(exc, where)} (called with {given})"
        ) from None
    if not isinstance(model, nn.Module):
        raise InputError(f"model factory {name} returned a {type(model).__name__}, not a torch nn.Module")
    _check_input_size(model, name, in_channels, image_size, where)
    return model


def _check_input_size(model: nn.Module, name: str, in_channels: int, image_size: int, where: Path) -> None:
    """Run one zero image of the data's size through ``model``; one that does not take it is told so.

    A factory that ignores ``image_size`` (a network written for 32 px, an image folder resampled to the
    default 224) would otherwise fail on a shape error deep in the first training step.  The forward runs
    in eval mode under ``no_grad`` (no batch statistics, no gradient), with the model's mode restored.
    """
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, in_channels, image_size, image_size))
    except Exception as exc:  # noqa: BLE001 - the user's code: one line, not a traceback
        raise InputError(
            f"model factory {name} builds a model that does not take the data's {in_channels}x{image_size}x"
            f"{image_size} images ({_one_line(exc, where)}): set `data.image_size` to the size the model "
            "expects (an image folder is resampled to it), or let the factory take image_size"
        ) from None
    finally:
        model.train(was_training)



def _dataset_kwargs(factory: Callable[..., Any], sizes: dict[str, int], args: Mapping[str, Any]) -> dict:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # no signature (a builtin): pass nothing the user did not ask for
        return {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    named = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in sizes.items() if k not in args and (takes_any or k in named)}



def _one_line(exc: BaseException, path: Path) -> str:
    """``TypeError: message (file.py:12)``: the exception and the last line of the user's file it passed."""
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    try:
        mine = [f for f in frames if Path(f.filename).resolve() == path.resolve()]
    except OSError:
        mine = []
    if mine:
        where = f" ({path.name}:{mine[-1].lineno})"
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}{where}"


__all__ = ["DATASET_ARGUMENTS", "build_from_factory", "load_factory"]
