"""A sweep's result table, appended point by point, atomically, and resumable.

Beside ``NAME.csv`` lies ``NAME.json``: the settings that determine the numbers
(fingerprinted), the experiment config and the package versions.  A rerun with
the same settings reuses every finished point (rows are keyed by their
operating point, read back exactly: floats are written in their shortest
round-trip form); a rerun with other settings first moves the old table to
``NAME.previous.csv`` so nothing computed is lost.  Each new point rewrites the
whole file through :mod:`wcatsim.atomic` (a reader or a SIGKILL never sees half
a file); the optional per-realisation table is written *before* the point's
row, so a point whose row exists always has its realisations.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from wcatsim.atomic import atomic_write_csv, atomic_write_json, read_csv


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
    """Rows keyed by ``key`` (e.g. ``ber``), kept sorted, rewritten atomically after every point."""

    def __init__(
        self,
        path: str | os.PathLike,
        columns: Sequence[str],
        key: str,
        settings: Mapping[str, Any],
        meta: Mapping[str, Any] | None = None,
        descending: bool = False,
        realisation_columns: Sequence[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.meta_path = self.path.with_suffix(".json")
        self.realisation_path = self.path.with_name(self.path.stem + "_realisations.csv")
        self.columns = list(columns)
        self.key = key
        self.descending = descending
        self.realisation_columns = list(realisation_columns or [])
        self.fingerprint = fingerprint(settings)
        self.rows: dict[float, dict[str, Any]] = {}
        self.realisations: dict[float, list[dict[str, Any]]] = {}
        if self._matches_existing():
            for row in read_csv(self.path):
                self.rows[float(row[key])] = row
            for row in read_csv(self.realisation_path):
                self.realisations.setdefault(float(row[key]), []).append(row)
        else:
            self._keep_previous()
        atomic_write_json(
            self.meta_path,
            {
                "fingerprint": self.fingerprint,
                "settings": dict(settings),
                **dict(meta or {}),
                "versions": versions(),
            },
        )

    def _matches_existing(self) -> bool:
        if not self.path.exists() or not self.meta_path.exists():
            return False
        try:
            old = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return old.get("fingerprint") == self.fingerprint

    def _keep_previous(self) -> None:
        # Results of other settings are moved aside, never overwritten.
        for path in (self.path, self.meta_path, self.realisation_path):
            if path.exists():
                os.replace(path, path.with_name(f"{path.stem}.previous{path.suffix}"))

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


def typed_row(row: Mapping[str, Any], parsers: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
    """A row read back from CSV with its numeric columns parsed ('' -> None)."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if isinstance(value, str) and name in parsers:
            out[name] = None if value == "" else parsers[name](value)
        else:
            out[name] = value
    return out
