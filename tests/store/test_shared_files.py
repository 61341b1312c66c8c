"""Files colleagues can open: results follow the umask; a kept table takes its figures with it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from wcatsim.store.atomic import current_umask
from wcatsim.store.results import PointTable, ResultStore, fingerprint, kept_tables


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_table_its_sidecar_and_its_figure_get_the_mode_the_umask_gives(tmp_path: Path, umask: int) -> None:
    from wcatsim.analysis.plots.style import new_figure, save_figure

    old = os.umask(umask)
    try:
        assert current_umask() == umask
        path = tmp_path / "random_flip.csv"
        with PointTable(path, ["ber", "acc"], "ber", {"kind": "random_flip", "seed": 0}) as table:
            table.add(0.0, {"ber": 0.0, "acc": 97.5})
        fig, ax = new_figure()
        ax.plot([0, 1], [1, 0])
        written = save_figure(fig, path.with_suffix(".png"))
    finally:
        os.umask(old)
    expected = 0o666 & ~umask  # what open(..., "w") gives any other file the user writes
    files = [path, path.with_suffix(".json"), *written]
    assert [p.name for p in files] == [f"random_flip.{s}" for s in ("csv", "json", "png", "pdf")]
    assert {p.name: oct(_mode(p)) for p in files} == {p.name: oct(expected) for p in files}


def test_a_kept_table_takes_its_figures_under_the_same_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "random_flip.csv"
    with PointTable(path, ["ber", "acc"], "ber", {"kind": "random_flip", "seed": 0}) as table:
        table.add(0.0, {"ber": 0.0, "acc": 97.5})
    path.with_suffix(".png").write_bytes(b"old png")
    path.with_suffix(".pdf").write_bytes(b"old pdf")
    with PointTable(path, ["ber", "acc"], "ber", {"kind": "random_flip", "seed": 1}) as table:
        table.add(0.0, {"ber": 0.0, "acc": 90.0})
    (kept,) = kept_tables(path)
    tag = kept.name[len("random_flip.") : -len(".csv")]
    assert tag.split(".")[1] == fingerprint({"kind": "random_flip", "seed": 0})[:8]
    assert (tmp_path / f"random_flip.{tag}.png").read_bytes() == b"old png"
    assert (tmp_path / f"random_flip.{tag}.pdf").read_bytes() == b"old pdf"
    # no stale figure beside the new table (its figure is drawn anew with --plot)
    assert not path.with_suffix(".png").exists() and not path.with_suffix(".pdf").exists()
    assert kept_tables(path) == [kept]  # the kept figures are not mistaken for tables


def test_a_figure_under_another_stem_goes_with_its_result_when_named_in_also(tmp_path: Path) -> None:
    flips, summary, figure = tmp_path / "bfa_flips.csv", tmp_path / "bfa_summary.json", tmp_path / "bfa.png"
    for run in range(2):
        with ResultStore(flips, {"k": run}, sidecar=summary, also=(figure,), resume=False) as store:
            store.begin()
            flips.write_text(f"run {run}\n")
            store.write_sidecar({"fingerprint": store.fingerprint, "created": f"20260101T00000{run}Z"})
        figure.write_text(f"figure {run}\n")
    tag = f"20260101T000000Z.{fingerprint({'k': 0})[:8]}"
    assert (tmp_path / f"bfa.{tag}.png").read_text() == "figure 0\n"
    assert (tmp_path / f"bfa_flips.{tag}.csv").read_text() == "run 0\n"
    assert figure.read_text() == "figure 1\n"
