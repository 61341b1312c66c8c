"""Atomic file writes that follow the user's umask: the one writer both sram_models and wcatsim use.

A file is written to a temporary file in its folder, flushed, fsynced and renamed over the target, so a
reader (or a killed process) never sees half of it.  ``tempfile.mkstemp`` creates that temporary file
with mode ``0o600`` whatever the umask; left so, a fault map or a result table would be readable by its
owner only, and colleagues sharing a results folder could not open it.  :func:`atomic_file` gives it
the mode any other file the user writes gets: ``0o666`` less the umask.

This module sits in ``sram_models`` (the lowest layer, no torch, no wcatsim) so that the fault-map writer
(:meth:`sram_models.faults.measured.ChipMeasurement.save`) and ``wcatsim.store.atomic`` share it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_UMASK_GUARD = threading.Lock()


def current_umask() -> int:
    """The process's file-mode creation mask (``umask``), read without changing it for other threads.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting and restoring it under a
    lock (the only way POSIX offers).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_GUARD:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a binary file that replaces ``path`` in one step when the block ends without an error.

    Parameters
    ----------
    path : path-like
        The file to write; its folder is created if missing.

    Yields
    ------
    BinaryIO
        The temporary file (mode ``0o666`` less the umask).  On an error inside the block it is removed
        and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # POSIX; on Windows the mode bits do not apply
            os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


__all__ = ["atomic_file", "current_umask"]
