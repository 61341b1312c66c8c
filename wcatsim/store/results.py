"""A sweep's result table, appended point by point, atomically, resumable, and never destroyed.

Beside ``NAME.csv`` lies ``NAME.json``: the settings that determine the numbers
(fingerprinted), when the table was created, the experiment config and the package
versions.  A rerun with the same settings reuses every finished point (rows are
keyed by their operating point, read back exactly: floats are written in their
shortest round-trip form).  A rerun with other settings keeps every earlier table:
the old table, its sidecar and its per-realisation rows are renamed to
``NAME.<created>.<fingerprint>.csv`` (``random_flip.20261201T091530Z.1a2b3c4d.csv``,
the UTC time the table was started and the first 8 hex digits of its settings'
fingerprint), so any number of earlier tables survive and each sidecar still says
what made it.

Nothing touches the disk before the first point is finished: opening a table only
reads, so a command that fails validation, or at its first point, leaves the
directory as it was.  While open, the table holds its one-writer lock
(:func:`wcatsim.store.atomic.exclusive`): a second process writing the same table is
refused at once.  Each new point rewrites the whole file through
:mod:`wcatsim.store.atomic` (a reader or a SIGKILL never sees half a file); the optional
per-realisation table is written *before* the point's row, so a point whose row
exists always has its realisations.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from wcatsim.store.atomic import atomic_write_csv, atomic_write_json, exclusive, read_csv

# The sidecar's time format (UTC): also the <created> part of a kept table's name.
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


def versions() -> dict[str, str]:
    """Versions of what produced a number: Python, wcatsim, torch, numpy, scipy, numba."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("wcatsim", "torch", "numpy", "scipy", "numba"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def fingerprint(settings: Mapping[str, Any]) -> str:
    """SHA-256 of the settings as canonical JSON."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PointTable:
    """Rows keyed by ``key`` (e.g. ``ber``), kept sorted, rewritten atomically after every point.

    Use it as a context manager (or call :meth:`close`): it holds the table's lock while open.
    ``family`` names the command whose table this is (``random_flip``; default: ``settings["kind"]``):
    a path that would replace a file a run needs or another command's table is refused
    (:func:`wcatsim.store.files.check_table_path`).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        columns: Sequence[str],
        key: str,
        settings: Mapping[str, Any],
        meta: Mapping[str, Any] | None = None,
        descending: bool = False,
        realisation_columns: Sequence[str] | None = None,
        family: str | None = None,
    ) -> None:
        from wcatsim.store.files import check_table_path

        self.path = Path(path)
        self.meta_path = self.path.with_suffix(".json")
        self.realisation_path = self.path.with_name(self.path.stem + "_realisations.csv")
        self.columns = list(columns)
        self.key = key
        self.descending = descending
        self.realisation_columns = list(realisation_columns or [])
        self.settings = dict(settings)
        self.meta = dict(meta or {})
        self.fingerprint = fingerprint(settings)
        self.rows: dict[float, dict[str, Any]] = {}
        self.realisations: dict[float, list[dict[str, Any]]] = {}
        check_table_path(self.path, family or self.settings.get("kind"))
        self._lock = exclusive(self.path)
        self._lock.__enter__()
        self._closed = False
        try:
            old = self._existing_sidecar()
            # A sidecar of these settings without a table yet: killed before its first row landed.
            self._matches = old is not None and old.get("fingerprint") == self.fingerprint
            self._created = (old or {}).get("created") if self._matches else None
            if self._matches and not self._created:  # a sidecar written before tables had `created`
                self._created = time.strftime(STAMP_FORMAT, time.gmtime(self.meta_path.stat().st_mtime))
            if self._matches:
                for row in read_csv(self.path):
                    self.rows[float(row[key])] = row
                for row in read_csv(self.realisation_path):
                    self.realisations.setdefault(float(row[key]), []).append(row)
            self._begun = False
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> PointTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the table's lock (the files stay)."""
        if not self._closed:
            self._closed = True
            self._lock.__exit__(None, None, None)

    def _existing_sidecar(self) -> dict[str, Any] | None:
        if not self.meta_path.exists():
            return None
        try:
            old = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return old if isinstance(old, dict) else {}

    def _begin(self) -> None:
        """First write: keep an earlier table of other settings under its own name, write the sidecar."""
        if self._begun:
            return
        if not self._matches:
            keep_earlier_table(self.path)
        self._created = self._created or time.strftime(STAMP_FORMAT, time.gmtime())
        atomic_write_json(
            self.meta_path,
            {
                "fingerprint": self.fingerprint,
                "created": self._created,
                "settings": self.settings,
                **self.meta,
                "versions": versions(),
            },
        )
        self._begun = True

    def done(self, point: float) -> dict[str, Any] | None:
        """The finished row of ``point`` (as read from the file), or None.

        When per-realisation rows are kept, a point is finished only with its realisations (a table
        made without them recomputes the point, to the same row, to add them).
        """
        point = float(point)
        if self.realisation_columns and point not in self.realisations:
            return None
        return self.rows.get(point)

    def add(
        self, point: float, row: Mapping[str, Any], realisations: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """Record one finished point and rewrite the file(s) atomically."""
        if self._closed:
            raise RuntimeError(f"{self.path}: the table is closed")
        self._begin()
        point = float(point)
        if self.realisation_columns:
            self.realisations[point] = [dict(r) for r in realisations]
            atomic_write_csv(
                self.realisation_path, self.realisation_columns, self._sorted(self.realisations, True)
            )
        self.rows[point] = dict(row)
        atomic_write_csv(self.path, self.columns, self._sorted(self.rows, False))

    def _sorted(self, table: Mapping[float, Any], nested: bool) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        for point in sorted(table, reverse=self.descending):
            out.extend(table[point] if nested else [table[point]])
        return out


def keep_earlier_table(
    path: str | os.PathLike, meta_path: str | os.PathLike | None = None, also: tuple[Path, ...] = ()
) -> list[Path]:
    """Rename the table at ``path``, its sidecar and realisation rows to ``STEM.<created>.<fp8>.SUFFIX``.

    ``created`` and the fingerprint come from the sidecar (a sidecar without them, or a table without a
    sidecar: the file's modification time, and ``unknown``); a name already taken gets ``-2``, ``-3`` ...
    ``meta_path``: the sidecar when it is not ``NAME.json`` (e.g. ``bfa_summary.json`` beside
    ``bfa_flips.csv``); ``also``: further files that belong to the table.  All get the same tag.
    Returns the new paths (nothing when there was nothing to keep).
    """
    path = Path(path)
    meta_path = Path(meta_path) if meta_path is not None else path.with_suffix(".json")
    realisation_path = path.with_name(path.stem + "_realisations.csv")
    present = [p for p in (path, meta_path, realisation_path, *map(Path, also)) if p.exists()]
    if not present:
        return []
    meta: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(meta_path.read_text(encoding="utf-8"))
        meta = loaded if isinstance(loaded, dict) else {}
    created = meta.get("created")
    if not isinstance(created, str) or not created:
        created = time.strftime(STAMP_FORMAT, time.gmtime(min(p.stat().st_mtime for p in present)))
    fp = str(meta.get("fingerprint") or "unknown")[:8]
    for attempt in range(1, 1000):
        tag = f"{created}.{fp}" + ("" if attempt == 1 else f"-{attempt}")
        targets = {p: p.with_name(f"{p.stem}.{tag}{p.suffix}") for p in present}
        if not any(t.exists() for t in targets.values()):
            break
    else:  # pragma: no cover - a thousand tables of one fingerprint in one second
        raise RuntimeError(f"no free name to keep {path} under")
    for source, target in targets.items():
        os.replace(source, target)
    return list(targets.values())


def kept_tables(path: str | os.PathLike) -> list[Path]:
    """Earlier tables kept beside ``path`` (``STEM.<created>.<fp8>.SUFFIX``), oldest first."""
    path = Path(path)
    found = [p for p in path.parent.glob(f"{path.stem}.*{path.suffix}") if p != path and _is_kept(p, path)]
    # by creation stamp, then (two tables started in one second) by when each was last written
    return sorted(found, key=lambda p: (p.name[len(path.stem) + 1 :][:16], p.stat().st_mtime_ns))


def _is_kept(candidate: Path, path: Path) -> bool:
    middle = candidate.name[len(path.stem) + 1 : -len(path.suffix) or None]
    stamp, _, fp = middle.partition(".")
    return len(stamp) == 16 and stamp.endswith("Z") and bool(fp)


def typed_row(row: Mapping[str, Any], parsers: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
    """A row read back from CSV with its numeric columns parsed ('' -> None)."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if isinstance(value, str) and name in parsers:
            out[name] = None if value == "" else parsers[name](value)
        else:
            out[name] = value
    return out
