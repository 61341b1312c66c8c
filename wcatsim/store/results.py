"""The one result store: fingerprinted settings, resumable tables, earlier tables kept, one writer.

Every result the project computes goes through this module: the random-flip and voltage sweeps'
tables (:class:`PointTable`), the Bit-Flip Attack's flips and summary, the voltage planner's sensitivity
curves and the demo's stages (:class:`StageLedger`).  The same rules hold for all of them:

* **fingerprint.**  The settings that determine the numbers (everything that changes one, the device
  type and the evaluation batch size among them) are hashed (:func:`fingerprint`) and written beside
  the result, in its sidecar.
* **resume.**  A rerun with the same fingerprint reuses every finished point (rows are keyed by their
  operating point, read back exactly: floats are written in their shortest round-trip form).
* **keep.**  A rerun with other settings keeps every earlier result: the old table, its sidecar and the
  files that belong to it are renamed to ``NAME.<created>.<fingerprint>.SUFFIX``
  (``random_flip.20261201T091530Z.1a2b3c4d.csv``: the UTC time the table was started and the first 8 hex
  digits of its fingerprint), so any number of earlier tables survive and each sidecar still says what
  made it.
* **one writer.**  While open, a store holds its one-writer lock (:func:`wcatsim.store.atomic.exclusive`):
  a second process writing the same result is refused at once.
* **atomic.**  Every write replaces the whole file through :mod:`wcatsim.store.atomic` (a reader or a
  SIGKILL never sees half a file); per-realisation rows are written *before* their point's row, so a
  point whose row exists always has its realisations.

Nothing touches the disk before the first result is finished: opening a store only reads (and locks),
so a command that fails validation, or at its first point, leaves the directory as it was.

Beside ``NAME.csv`` lies ``NAME.json`` (by default): the fingerprint, when the table was created, the
settings, the experiment config and the package versions.
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
from wcatsim.store.files import FIGURE_SUFFIXES

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


def fingerprint(settings: Mapping[str, Any], *, spaced: bool = False) -> str:
    """SHA-256 (hex) of the settings as canonical JSON (keys sorted).

    Parameters
    ----------
    settings : Mapping
        What the numbers depend on.  Values JSON cannot hold are written as their ``str``.
    spaced : bool
        Hash the JSON with ``json.dumps``'s default separators (``", "``, ``": "``) instead of the compact
        ones.  The planner's sensitivity table and ``demo.json`` were first fingerprinted that way; their
        stores keep it so that files already written are still found.

    Returns
    -------
    str
        64 hex digits.
    """
    separators = (", ", ": ") if spaced else (",", ":")
    text = json.dumps(settings, sort_keys=True, separators=separators, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def now_stamp() -> str:
    """The current UTC time in :data:`STAMP_FORMAT` (a sidecar's ``created``)."""
    return time.strftime(STAMP_FORMAT, time.gmtime())


class ResultStore:
    """One fingerprinted result on disk: its main file, its sidecar and the files that belong to it.

    Opening the store locks the result (:func:`wcatsim.store.atomic.exclusive`) and reads the earlier
    sidecar, if any; nothing is written until :meth:`begin` (called by the first write), which keeps an
    earlier result of other settings under its creation time and fingerprint (:func:`keep_earlier_table`).
    Use it as a context manager (or call :meth:`close`).

    Parameters
    ----------
    path : path-like
        The main file (a table: ``random_flip.csv``, ``bfa_flips.csv``).
    settings : Mapping
        What the numbers depend on; hashed with :func:`fingerprint` unless ``key`` is given.
    sidecar : path-like, optional
        The file that records the fingerprint (default: ``path`` with suffix ``.json``).
    also : sequence of path-like
        Further files of the result, kept with it (per-realisation rows).
    key : str, optional
        The fingerprint itself, when the caller hashes its settings another way (kept for files written
        before this store: see :func:`fingerprint`'s ``spaced``).
    resume : bool
        False: the result is never continued, even with the same fingerprint (an attack): an earlier
        result is always kept aside by the first write.
    family : str, optional
        The command whose table this is (``random_flip``): a path that would replace a file a run needs
        or another command's table is refused (:func:`wcatsim.store.files.check_table_path`).

    ``path=None`` holds the result in memory (the Python API without a path, :mod:`wcatsim.api`): nothing
    is read, locked or written, and the result is never resumed.
    """

    def __init__(
        self,
        path: str | os.PathLike | None,
        settings: Mapping[str, Any],
        *,
        sidecar: str | os.PathLike | None = None,
        also: Sequence[str | os.PathLike] = (),
        key: str | None = None,
        resume: bool = True,
        family: str | None = None,
    ) -> None:
        self.held = path is None  # in memory only
        self.path = Path(path) if path is not None else None
        self.meta_path = (Path(sidecar) if sidecar is not None else self.path.with_suffix(".json")) if (
            path is not None) else None
        self.also = tuple(Path(p) for p in also if p is not None)
        self.settings = dict(settings)
        self.fingerprint = key if key is not None else fingerprint(settings)
        self.resume = resume
        if family is not None and not self.held:
            from wcatsim.store.files import check_table_path

            check_table_path(self.path, family)
        self._lock = exclusive(self.path) if not self.held else contextlib.nullcontext()
        self._lock.__enter__()
        self._closed = False
        self._begun = False
        try:
            self.previous = self._read_sidecar()
            # A sidecar of these settings without a table yet: killed before its first row landed.
            self.matches = resume and self.previous is not None and (
                self.previous.get("fingerprint") == self.fingerprint
            )
            self.created: str | None = self.previous.get("created") if self.matches else None  # type: ignore[union-attr]
            if self.matches and not self.created:  # a sidecar written before tables had `created`
                self.created = time.strftime(STAMP_FORMAT, time.gmtime(self.meta_path.stat().st_mtime))
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the result's lock (the files stay)."""
        if not self._closed:
            self._closed = True
            self._lock.__exit__(None, None, None)

    def _read_sidecar(self) -> dict[str, Any] | None:
        if self.held or not self.meta_path.exists():
            return None
        try:
            old = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return old if isinstance(old, dict) else {}

    def begin(self) -> None:
        """Before the first write: keep an earlier result (of other settings, or any when not resumed)."""
        if self._closed:
            raise RuntimeError(f"{self.path}: the result store is closed")
        if self._begun:
            return
        if not self.matches and not self.held:
            keep_earlier_table(self.path, meta_path=self.meta_path, also=self.also)
        self.created = self.created or now_stamp()
        self._begun = True

    def record(self, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The standard sidecar: fingerprint, creation time, settings, ``meta`` and package versions."""
        self.begin()
        return {
            "fingerprint": self.fingerprint,
            "created": self.created,
            "settings": self.settings,
            **dict(meta or {}),
            "versions": versions(),
        }

    def write_sidecar(self, content: Mapping[str, Any]) -> None:
        """Write the sidecar (atomically), beginning the result first (held in memory: nothing written)."""
        self.begin()
        if not self.held:
            atomic_write_json(self.meta_path, dict(content))


# A table's point: one float (``ber``), or a tuple of key values (``("conv1", 0.9)``).
Point = Any


class PointTable(ResultStore):
    """Rows keyed by ``key`` (e.g. ``ber``), rewritten atomically after every point; resumed point by point.

    ``key``: one column (its values read back as floats) or several (``("domain", "voltage")``; each read
    back with ``key_types``, default float).  ``sidecar``: ``"full"`` (:meth:`ResultStore.record` plus
    ``meta``) or ``"fingerprint"`` (``{"fingerprint": ...}`` only, as the planner's sensitivity table has
    always had).  ``order``: ``"sorted"`` by point (``descending`` for voltages) or ``"insertion"``.
    ``parse``: turns a row read back into the row :meth:`done` returns; a row it cannot parse (``KeyError``,
    ``ValueError``), like a row whose key does not parse, is dropped and its point computed again.
    ``family`` (default: ``settings["kind"]``): see :class:`ResultStore`.  ``path=None``: held in memory
    (:class:`ResultStore`), the rows in :attr:`rows` and :attr:`realisations`.  ``derive``: turns every row
    (and realisation row) into the row written, before it is kept, so rows resumed from a table written
    before a column existed gain it (:func:`wcatsim.store.columns.standard_row`: identity, units, old
    names).  ``also``: further files made from this table (a plan and its figures): kept aside with it.
    """

    def __init__(
        self,
        path: str | os.PathLike | None,
        columns: Sequence[str],
        key: str | Sequence[str],
        settings: Mapping[str, Any],
        meta: Mapping[str, Any] | None = None,
        descending: bool = False,
        realisation_columns: Sequence[str] | None = None,
        family: str | None = None,
        *,
        fingerprint_key: str | None = None,
        sidecar: str = "full",
        order: str = "sorted",
        key_types: Mapping[str, Callable[[str], Any]] | None = None,
        parse: Callable[[dict[str, str]], dict[str, Any]] | None = None,
        check_path: bool = True,
        derive: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
        also: Sequence[str | os.PathLike] = (),
    ) -> None:
        path = Path(path) if path is not None else None
        self.realisation_path = path.with_name(path.stem + "_realisations.csv") if path is not None else None
        self.columns = list(columns)
        self.key = key
        self.key_columns = (key,) if isinstance(key, str) else tuple(key)
        self.key_types = dict(key_types or {})
        self.descending = descending
        self.order = order
        self.sidecar = sidecar
        self.realisation_columns = list(realisation_columns or [])
        self.meta = dict(meta or {})
        self.derive = derive if derive is not None else dict
        self.rows: dict[Point, dict[str, Any]] = {}
        self.realisations: dict[Point, list[dict[str, Any]]] = {}
        self._sidecar_written = False
        super().__init__(
            path, settings, also=(self.realisation_path, *also), key=fingerprint_key,
            family=(family or dict(settings).get("kind")) if check_path else None,
        )  # fmt: skip
        try:
            if self.matches:
                for row in read_csv(self.path):
                    with contextlib.suppress(KeyError, ValueError):  # a damaged row: computed again
                        point = self.point_of(row)
                        self.rows[point] = self.derive(parse(row) if parse is not None else row)
                for row in read_csv(self.realisation_path):
                    with contextlib.suppress(KeyError, ValueError):
                        self.realisations.setdefault(self.point_of(row), []).append(self.derive(row))
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> PointTable:
        return self

    def point_of(self, row: Mapping[str, Any]) -> Point:
        """The key of ``row`` (a float, or a tuple of the key columns' values)."""
        values = tuple(self.key_types.get(c, float)(row[c]) for c in self.key_columns)
        return values[0] if isinstance(self.key, str) else values

    def _normal(self, point: Point) -> Point:
        if isinstance(self.key, str):
            return self.key_types.get(self.key, float)(point)
        return tuple(self.key_types.get(c, float)(v) for c, v in zip(self.key_columns, point, strict=True))

    def done(self, point: Point) -> dict[str, Any] | None:
        """The finished row of ``point`` (as read from the file), or None.

        When per-realisation rows are kept, a point is finished only with its realisations (a table
        made without them recomputes the point, to the same row, to add them).
        """
        point = self._normal(point)
        if self.realisation_columns and point not in self.realisations:
            return None
        return self.rows.get(point)

    def add(
        self,
        point: Point,
        row: Mapping[str, Any],
        realisations: Sequence[Mapping[str, Any]] = (),
        *,
        write: bool = True,
    ) -> None:
        """Record one finished point; rewrite the file(s) atomically (``write=False``: at :meth:`flush`)."""
        point = self._normal(point)
        if self.realisation_columns:
            self.realisations[point] = [self.derive(r) for r in realisations]
        self.rows[point] = self.derive(row)
        if write:
            self.flush()
        else:
            self.begin()  # fails on a closed table now, not at the flush

    def flush(self, realisations: bool = True) -> None:
        """Rewrite the sidecar (first time only) and the table atomically, realisation rows first."""
        self.begin()
        if self.held:  # in memory: the rows are kept in ``rows`` and ``realisations``
            return
        if not self._sidecar_written:
            content = self.record(self.meta) if self.sidecar == "full" else {"fingerprint": self.fingerprint}
            atomic_write_json(self.meta_path, content)
            self._sidecar_written = True
        if realisations and self.realisation_columns:
            atomic_write_csv(
                self.realisation_path, self.realisation_columns, self._ordered(self.realisations, True)
            )
        atomic_write_csv(self.path, self.columns, self._ordered(self.rows, False))

    def _ordered(self, table: Mapping[Point, Any], nested: bool) -> list[Mapping[str, Any]]:
        points = list(table) if self.order == "insertion" else sorted(table, reverse=self.descending)
        out: list[Mapping[str, Any]] = []
        for point in points:
            out.extend(table[point] if nested else [table[point]])
        return out


class StageLedger:
    """A JSON file of named stages, each recorded with the fingerprint of the settings it ran with.

    The demo's ``demo.json``: a stage is reused when its recorded fingerprint is that of the settings
    asked for now, and run again otherwise (its own tables then keep their earlier versions, through
    their :class:`PointTable` or :class:`ResultStore`).  While open, the ledger holds the file's one-writer
    lock, so two processes never run stages into the same place.  Every change is written atomically.

    Parameters
    ----------
    path : path-like
        The ledger (``demo.json``); read at once, written at the first :meth:`finish` or :meth:`save`.
    digits : int
        Hex digits of a stage's fingerprint kept in the ledger.
    spaced : bool
        As in :func:`fingerprint` (``demo.json`` has always been hashed that way).
    lock : bool
        Hold the one-writer lock while open (False: read-only use, e.g. to compute a fingerprint).
    """

    def __init__(
        self, path: str | os.PathLike, *, digits: int = 16, spaced: bool = True, lock: bool = True
    ) -> None:
        from wcatsim.store.atomic import read_json_object

        self.path = Path(path)
        self.digits = digits
        self.spaced = spaced
        self._lock = exclusive(self.path) if lock else None
        if self._lock is not None:
            self._lock.__enter__()
        self.data: dict[str, Any] = read_json_object(self.path) or {}
        if not isinstance(self.data.get("stages"), dict):
            self.data["stages"] = {}

    def __enter__(self) -> StageLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the ledger's lock (the file stays)."""
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.__exit__(None, None, None)

    def key(self, settings: Mapping[str, Any]) -> str:
        """The fingerprint a stage of ``settings`` is recorded under."""
        return fingerprint(settings, spaced=self.spaced)[: self.digits]

    def done(self, name: str, settings: Mapping[str, Any]) -> bool:
        """Whether stage ``name`` finished with exactly these settings."""
        return self.data["stages"].get(name, {}).get("fingerprint") == self.key(settings)

    def finish(self, name: str, settings: Mapping[str, Any], **record: Any) -> None:
        """Record stage ``name`` as finished with ``settings`` (and ``record``: its times) and save."""
        self.data["stages"][name] = {"fingerprint": self.key(settings), **record}
        self.save()

    def save(self) -> None:
        """Write the ledger atomically."""
        atomic_write_json(self.path, self.data)


def keep_earlier_table(
    path: str | os.PathLike, meta_path: str | os.PathLike | None = None, also: tuple[Path, ...] = ()
) -> list[Path]:
    """Rename the table at ``path`` and the files that come with it to ``STEM.<created>.<fp8>.SUFFIX``.

    What comes with it: its sidecar, its realisation rows and its figures.

    ``created`` and the fingerprint come from the sidecar (a sidecar without them, or a table without a
    sidecar: the file's modification time, and ``unknown``); a name already taken gets ``-2``, ``-3`` ...
    ``meta_path``: the sidecar when it is not ``NAME.json`` (e.g. ``bfa_summary.json`` beside
    ``bfa_flips.csv``); ``also``: further files that belong to the table (a figure under another stem,
    ``bfa.png``); the figures named after the table (``STEM.png``, ``.pdf``, ``.svg``) always go with it.
    All get the same tag.
    Returns the new paths (nothing when there was nothing to keep).
    """
    path = Path(path)
    meta_path = Path(meta_path) if meta_path is not None else path.with_suffix(".json")
    realisation_path = path.with_name(path.stem + "_realisations.csv")
    present = [p for p in (path, meta_path, realisation_path, *map(Path, also)) if p.exists()]
    if not present:
        return []
    # The table's figures (``STEM.png``/``.pdf``/``.svg``, where ``--plot`` draws them by default) go with
    # it: left under the plain name they would stand beside the new table while showing the old numbers.
    present += [
        f for f in (path.with_suffix(s) for s in FIGURE_SUFFIXES) if f.exists() and f not in present
    ]
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


__all__ = [
    "STAMP_FORMAT",
    "PointTable",
    "ResultStore",
    "StageLedger",
    "fingerprint",
    "keep_earlier_table",
    "kept_tables",
    "now_stamp",
    "typed_row",
    "versions",
]
