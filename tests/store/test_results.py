"""The one result store (wcatsim.store.results) on its own: keys, resume, keep, sidecars, the lock."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wcatsim.store.atomic import BusyError, read_csv
from wcatsim.store.results import PointTable, ResultStore, StageLedger, fingerprint, kept_tables

ROOT = Path(__file__).resolve().parents[2]


def _naive_hash(settings: dict, separators: tuple[str, str]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, separators=separators).encode()).hexdigest()


def test_fingerprint_is_sha256_of_sorted_json_compact_or_spaced() -> None:
    settings = {"b": [1, 2.5], "a": {"y": None, "x": "z"}}
    assert fingerprint(settings) == _naive_hash(settings, (",", ":"))
    assert fingerprint(settings, spaced=True) == _naive_hash(settings, (", ", ": "))
    assert fingerprint(settings) != fingerprint(settings, spaced=True)


def _open(path: Path, settings: dict, **kw) -> PointTable:
    return PointTable(
        path, ["domain", "voltage", "acc"], ("domain", "voltage"), settings, order="insertion",
        key_types={"domain": str}, check_path=False, **kw,
    )  # fmt: skip


def test_a_table_with_two_key_columns_resumes_point_by_point_in_insertion_order(tmp_path: Path) -> None:
    path = tmp_path / "sens.csv"
    with _open(path, {"seed": 0}, sidecar="fingerprint") as table:
        table.add(("fc", 1.0), {"domain": "fc", "voltage": 1.0, "acc": 97.5}, write=False)
        table.add(("conv1", 0.9), {"domain": "conv1", "voltage": 0.9, "acc": 96.0}, write=False)
        assert not path.exists()  # batched: nothing written before the flush
        table.flush()
    assert [(r["domain"], r["voltage"]) for r in read_csv(path)] == [("fc", "1.0"), ("conv1", "0.9")]
    assert json.loads(path.with_suffix(".json").read_text()) == {"fingerprint": fingerprint({"seed": 0})}
    with _open(path, {"seed": 0}, parse=lambda r: {**r, "acc": float(r["acc"])}) as again:
        assert again.done(("fc", 1.0)) == {"domain": "fc", "voltage": "1.0", "acc": 97.5}
        assert again.done(("conv1", 0.9))["acc"] == 96.0
        assert again.done(("conv1", 0.8)) is None
    assert kept_tables(path) == []  # same settings: resumed, nothing kept aside


def test_a_damaged_row_is_computed_again_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "sens.csv"
    with _open(path, {"seed": 0}, sidecar="fingerprint") as table:
        table.add(("fc", 1.0), {"domain": "fc", "voltage": 1.0, "acc": 97.5})
    path.write_text(path.read_text() + "conv1,not-a-voltage,1.0\n")
    with _open(path, {"seed": 0}) as again:
        assert set(again.rows) == {("fc", 1.0)}


def test_other_settings_keep_the_earlier_table_and_sidecar_under_its_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "sens.csv"
    with _open(path, {"seed": 0}, sidecar="fingerprint") as table:
        table.add(("fc", 1.0), {"domain": "fc", "voltage": 1.0, "acc": 97.5})
    with _open(path, {"seed": 1}, sidecar="fingerprint") as table:
        assert table.done(("fc", 1.0)) is None
        table.add(("fc", 1.0), {"domain": "fc", "voltage": 1.0, "acc": 90.0})
    (kept,) = kept_tables(path)
    assert kept.name.split(".")[2] == fingerprint({"seed": 0})[:8]
    assert read_csv(kept)[0]["acc"] == "97.5" and read_csv(path)[0]["acc"] == "90.0"
    assert json.loads(kept.with_suffix(".json").read_text())["fingerprint"] == fingerprint({"seed": 0})


def test_a_store_that_is_not_resumed_keeps_even_a_result_of_the_same_settings(tmp_path: Path) -> None:
    table, side = tmp_path / "flips.csv", tmp_path / "summary.json"
    for run in range(2):
        with ResultStore(table, {"k": 1}, sidecar=side, resume=False) as store:
            assert not store.matches
            store.begin()
            table.write_text(f"run {run}\n")
            store.write_sidecar({"fingerprint": store.fingerprint, "created": f"20260101T00000{run}Z"})
    assert table.read_text() == "run 1\n"
    (kept,) = kept_tables(table)
    assert kept.read_text() == "run 0\n"
    assert kept.name == f"flips.20260101T000000Z.{fingerprint({'k': 1})[:8]}.csv"


def test_nothing_is_written_before_the_first_result(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "sub" / "t.csv", {"k": 1}):
        pass
    with StageLedger(tmp_path / "sub2" / "demo.json"):
        pass
    assert list(tmp_path.iterdir()) == []  # lock files and the folders made for them are gone


def test_a_ledger_reuses_a_stage_only_with_the_same_settings(tmp_path: Path) -> None:
    path = tmp_path / "demo.json"
    with StageLedger(path) as ledger:
        ledger.finish("sweep:wcat", {"chips": 3, "device": "cpu"}, seconds=1.5)
    data = json.loads(path.read_text())
    expected = _naive_hash({"chips": 3, "device": "cpu"}, (", ", ": "))[:16]
    assert data["stages"]["sweep:wcat"] == {"fingerprint": expected, "seconds": 1.5}
    ledger = StageLedger(path, lock=False)
    assert ledger.done("sweep:wcat", {"chips": 3, "device": "cpu"})
    assert not ledger.done("sweep:wcat", {"chips": 3, "device": "cuda"})
    assert not ledger.done("sweep:lsq", {"chips": 3, "device": "cpu"})


@pytest.mark.parametrize("kind", ["ledger", "table"])
def test_a_second_process_is_refused_while_one_holds_the_result(tmp_path: Path, kind: str) -> None:
    path = tmp_path / ("demo.json" if kind == "ledger" else "t.csv")
    opener = (
        f"StageLedger({str(path)!r})" if kind == "ledger" else f"ResultStore({str(path)!r}, {{'k': 1}})"
    )
    script = (
        "import sys\nfrom wcatsim.store.results import ResultStore, StageLedger\n"
        f"held = {opener}\nprint('held', flush=True)\nsys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        deadline = time.monotonic() + 30  # the holder writes who it is right after locking
        while not (path.parent / (path.name + ".lock.json")).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(BusyError, match=f"being written by process {holder.pid}"):
            StageLedger(path) if kind == "ledger" else ResultStore(path, {"k": 1})
    finally:
        holder.communicate("", timeout=60)
    with ResultStore(path, {"k": 1}):  # released with its holder
        pass
