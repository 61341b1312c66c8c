"""Models from the user's own code and weights from the user's own files, with their SHA-256 on record.

``model.name = "path/to/file.py:factory"`` (a Python file) or ``"package.module:factory"`` (an
importable module) names a callable that returns an ``nn.Module``. It is called with the keyword
arguments of ``[model.args]``, plus ``num_classes``, ``in_channels`` and ``image_size`` from the dataset
where its signature takes them and ``[model.args]`` does not set them.

**A model file is code that runs**: building the model executes the file (or imports the module) with
the user's rights, unlike a checkpoint or weights file, which is only ever read as data
(``torch.load(..., weights_only=True)`` or safetensors). So that a run directory always means the same
model, the file's SHA-256 is recorded in the resolved config (``model.factory_sha256``, part of the
run-directory hash), and a later command refuses to run the factory once the file no longer has that
hash. The weights file's SHA-256 is recorded likewise (``model.weights_sha256``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sram_models.errors import InputError

if TYPE_CHECKING:

    from wcatsim.config import ExperimentConfig

SEPARATOR = ":"


def is_factory_name(name: str) -> bool:
    """True for ``"file.py:function"`` and ``"package.module:function"`` (registry names have no colon)."""
    return SEPARATOR in name


def split_factory_name(name: str) -> tuple[str, str]:
    """``"a/b.py:make"`` -> ``("a/b.py", "make")`` (split at the last colon)."""
    target, _, attribute = name.rpartition(SEPARATOR)
    return target, attribute


def check_factory_name(name: str) -> None:
    """ValueError with the fix when ``name`` is not of the form ``file.py:function`` / ``module:function``."""
    target, attribute = split_factory_name(name)
    form = 'use "path/to/file.py:function" or "package.module:function"'
    if not target or not attribute:
        raise ValueError(f"{name!r} names no factory; {form}")
    if not all(part.isidentifier() for part in attribute.split(".")):
        raise ValueError(f"{attribute!r} in {name!r} is not a Python name; {form}")
    if not _is_file_target(target) and not all(part.isidentifier() for part in target.split(".")):
        raise ValueError(f"{target!r} in {name!r} is neither a .py file nor a module name; {form}")


def _is_file_target(target: str) -> bool:
    return target.endswith(".py") or os.sep in target or "/" in target


def short_name(name: str) -> str:
    """A file-system-safe label for run directory names: ``"nets/my_net.py:build"`` -> ``"my_net.build"``."""
    if not is_factory_name(name):
        return name
    target, attribute = split_factory_name(name)
    stem = Path(target).stem if _is_file_target(target) else target
    return re.sub(r"[^A-Za-z0-9_.]+", "_", f"{stem}.{attribute}")


def source_file(name: str) -> Path:
    """The Python file a factory name's code lives in (InputError when there is none)."""
    target, _ = split_factory_name(name)
    if _is_file_target(target):
        path = Path(target).expanduser()
        if not path.is_file():
            raise InputError(
                f"model file {target} (model.name = {name!r}) does not exist; a relative path is read from "
                f"the working directory {Path.cwd()}"
            )
        return path
    try:
        spec = importlib.util.find_spec(target)
    except (ImportError, ValueError) as exc:
        raise InputError(f"model module {target!r} (model.name = {name!r}) cannot be found: {exc}") from None
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise InputError(
            f"model module {target!r} (model.name = {name!r}) is not an importable module with a source "
            "file; check PYTHONPATH, or give the file: model.name = \"path/to/file.py:function\""
        )
    return Path(spec.origin)


_HASHES: dict[tuple[str, int, int], str] = {}
# Only large files (weights) are cached: a small file rewritten within one tick of the file system's clock
# could keep its size and time, and hashing it again costs nothing.
_CACHE_FROM_BYTES = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (cached per path, size and modification time within a process)."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    found = _HASHES.get(key)
    if found is None:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        found = digest.hexdigest()
        if stat.st_size >= _CACHE_FROM_BYTES:
            _HASHES[key] = found
    return found


def weights_file(path: str) -> Path:
    """``model.weights`` as a path that exists (InputError naming the fix otherwise)."""
    found = Path(path).expanduser()
    if not found.is_file():
        raise InputError(
            f"weights file {path} (model.weights) does not exist; a relative path is read from the working "
            f"directory {Path.cwd()}. A trained run no longer needs it: pass `option.run` DIR"
        )
    return found


def record_file_hashes(cfg: ExperimentConfig) -> ExperimentConfig:
    """``cfg`` with ``model.factory_sha256`` and ``model.weights_sha256`` filled from the files named,
    where they are empty (a hash already given, e.g. by a run's config.toml, is kept and checked when
    the file is used)."""
    model = cfg.model
    changes: dict[str, str] = {}
    if is_factory_name(model.name) and not model.factory_sha256:
        changes["factory_sha256"] = file_sha256(source_file(model.name))
    if model.weights and not model.weights_sha256:
        changes["weights_sha256"] = file_sha256(weights_file(model.weights))
    if not changes:
        return cfg
    return cfg.replace(model=dataclasses.replace(model, **changes))


def check_recorded(what: str, path: Path, recorded: str, setting: str) -> str:
    """The file's SHA-256; InputError when ``recorded`` is set and differs (the file changed)."""
    now = file_sha256(path)
    if recorded and now != recorded:
        raise InputError(
            f"{what} {path} has changed since this run's config was resolved (SHA-256 {recorded[:12]}… "
            f"recorded, {now[:12]}… now): restore the file, or retrain with the new one (a new "
            f"config, e.g. `option.set` {setting}=\"\", records the new hash)"
        )
    return now


__all__ = [
    "check_factory_name",
    "check_recorded",
    "file_sha256",
    "is_factory_name",
    "record_file_hashes",
    "short_name",
    "source_file",
    "weights_file",
]
