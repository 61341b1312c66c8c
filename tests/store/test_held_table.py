"""A result store without a path (the Python API's default) holds its rows in memory and writes nothing."""

from __future__ import annotations

from pathlib import Path

from wcatsim.store.results import PointTable, ResultStore


def test_a_table_without_a_path_holds_its_rows_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = {"kind": "random_flip", "seed": 3}
    with PointTable(None, ("ber", "acc_mean"), "ber", settings, realisation_columns=("ber", "accuracy")) as t:
        assert t.held and t.path is None and t.done(0.01) is None
        t.add(0.01, {"ber": 0.01, "acc_mean": 90.5}, [{"ber": 0.01, "accuracy": 90.0},
                                                       {"ber": 0.01, "accuracy": 91.0}])  # fmt: skip
        t.add(0.0, {"ber": 0.0, "acc_mean": 95.0}, [{"ber": 0.0, "accuracy": 95.0}])
        t.flush()
        assert t.done(0.01) == {"ber": 0.01, "acc_mean": 90.5}
        assert [r["accuracy"] for r in t.realisations[0.01]] == [90.0, 91.0]
        assert t.created is not None  # begun like a written table: its sidecar would carry this stamp
    # the fingerprint is the written table's: the same settings hash the same with and without a path
    with PointTable(tmp_path / "t.csv", ("ber", "acc_mean"), "ber", settings) as written:
        assert written.fingerprint == t.fingerprint
    store = ResultStore(None, settings, resume=False)
    store.write_sidecar({"fingerprint": store.fingerprint})
    store.close()
    assert sorted(tmp_path.iterdir()) == []
