"""Atomic file writes (a reader, or a killed process, never sees half a file) and one writer per file.

Every result file of the project is written through these helpers: write to a
temporary file in the same folder, flush and fsync, then ``os.replace``.
:func:`exclusive` makes sure that only one process writes a given result at a
time: a second one is refused at once, with one line naming the first.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shlex
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sram_models.atomicio import atomic_file
from sram_models.atomicio import current_umask as current_umask  # re-exported: its old home
from sram_models.errors import InputError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step.

    The file gets the mode any file the user writes gets (``0o666`` less the umask): ``mkstemp`` creates
    its temporary file ``0o600`` whatever the umask, and colleagues sharing a results folder must be able
    to read the tables and figures (:func:`sram_models.atomicio.atomic_file`, which the fault-map writer
    shares).
    """
    with atomic_file(path) as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) in one step."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Replace ``path`` with ``obj`` as indented JSON."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def atomic_write_csv(
    path: str | os.PathLike, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> None:
    """Replace ``path`` with a CSV of ``rows`` (missing keys written empty, ``None`` as empty)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    atomic_write_text(path, buf.getvalue())


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a CSV written by :func:`atomic_write_csv` (empty list if the file is absent)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays, Paths: the usual things a result dict holds.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


# ---------------------------------------------------------------------------------------------- locks


class BusyError(InputError):
    """Another process is writing the same result; this one must not (exit code 2)."""


LOCK_SUFFIX = ".lock"  # NAME.lock: the filelock lock file
HOLDER_SUFFIX = ".lock.json"  # NAME.lock.json: pid, command and start of the process that holds it

# Locks this process holds: resolved path -> [filelock, nesting count, folders created for it].
_HELD: dict[str, list[Any]] = {}
_HELD_GUARD = threading.Lock()


def lock_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """The lock file and the holder file of the result at ``path``."""
    path = Path(path)
    return path.with_name(path.name + LOCK_SUFFIX), path.with_name(path.name + HOLDER_SUFFIX)


def holder_of(path: str | os.PathLike) -> dict[str, Any] | None:
    """What the holder of ``path``'s lock wrote about itself (None when nothing readable is there)."""
    try:
        data = json.loads(lock_paths(path)[1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _describe_holder(info: dict[str, Any] | None) -> str:
    if not info:
        return "another process (it has not said which yet)"
    since = info.get("since", "?")
    pid, host, command = info.get("pid", "?"), info.get("host", "?"), info.get("command", "?")
    return f"process {pid} on {host} since {since} ({command})"


@contextlib.contextmanager
def exclusive(path: str | os.PathLike, what: str | None = None) -> Iterator[None]:
    """Hold the one-writer lock of the result at ``path`` (not yet existing results too).

    Another process holding it: :class:`BusyError` at once, naming that process.  The same process may
    nest it (a command locks its table before the sweep it calls locks it again).  The lock file
    ``NAME.lock`` (filelock, released by the kernel even when the holder is killed) and ``NAME.lock.json``
    (who holds it) are removed on release, and so are folders made for them that stayed empty, so a
    command that fails leaves nothing behind.
    """
    from filelock import FileLock, Timeout

    path = Path(path)
    key = str(path.resolve())
    with _HELD_GUARD:
        if key in _HELD:
            _HELD[key][1] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD[key][1] -= 1
        return

    lock_file, holder_file = lock_paths(path)
    created = _make_parents(lock_file.parent)
    lock = FileLock(str(lock_file), timeout=0)
    try:
        try:
            lock.acquire()
        except Timeout:
            info = holder_of(path)
            if info is None:
                time.sleep(0.2)  # the holder writes who it is right after locking
                info = holder_of(path)
            raise BusyError(
                f"{path} is being written by {_describe_holder(info)}; wait for it to finish, or write "
                "this result elsewhere (`option.out`)"
            ) from None
    except BaseException:
        _remove_empty(created)
        raise
    with _HELD_GUARD:
        _HELD[key] = [lock, 1, created]
    try:
        atomic_write_json(holder_file, {
            "pid": os.getpid(),
            "host": os.uname().nodename if hasattr(os, "uname") else "?",
            "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "command": what or _command_line(),
        })  # fmt: skip
        yield
    finally:
        with _HELD_GUARD:
            del _HELD[key]
        # Unlink while still holding the lock: a process that opened the old file before the unlink
        # finds it unlinked after locking it, and filelock then takes a fresh one.
        for stale in (holder_file, lock_file):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        lock.release()
        _remove_empty(created)


def _command_line() -> str:
    argv = list(sys.argv) or ["python"]
    argv[0] = Path(argv[0]).name
    return shlex.join(argv)


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: Iterable[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:  # not empty (results were written), or gone
            return


def remove_empty_created(folders: Iterable[Path]) -> None:
    """Remove ``folders`` (deepest first) where they are empty: what a failed command made and left empty."""
    _remove_empty(folders)


def missing_parents(path: str | os.PathLike) -> list[Path]:
    """The folders of ``path`` (itself included) that do not exist yet, deepest first."""
    missing = []
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    return missing


def read_json_object(path: str | Path) -> dict[str, Any]:
    """A JSON file's top-level object, or {} when it is absent or unreadable (best-effort metadata)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_toml_file(path: str | Path) -> dict[str, Any]:
    """A TOML file as a dict, or {} when it is absent or unreadable (best-effort metadata for legends)."""
    from sram_models.tomlio import read_toml

    try:
        return read_toml(path)
    except (OSError, ValueError):  # InputError is a ValueError
        return {}
