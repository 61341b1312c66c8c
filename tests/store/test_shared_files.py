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


def _write_dense(folder: Path, name: str, rows: list[list[int]]) -> None:
    # a NeuralFuse-style fault-map listing: one 0/1 text file per voltage and stuck value
    (folder / name).write_text("\n".join(",".join(str(x) for x in row) for row in rows) + "\n")


@pytest.mark.parametrize("umask", [0o022, 0o007])
def test_every_file_of_a_run_directory_follows_the_umask(digits_runs, tmp_path: Path, umask: int) -> None:
    """random-flip, sweep-voltage, pareto, the run report and import-map, with one umask: every file's mode.

    The run directory is a copy of a trained run (tests must not write into the shared ones); what the
    commands add or rewrite must get ``0o666 & ~umask``; under umask 022 every file of the directory is
    0644.
    """
    import shutil

    from click.testing import CliRunner

    from cli.pareto import pareto
    from cli.random_flip import random_flip
    from cli.sram import sram
    from cli.sweep_voltage import sweep_voltage
    from wcatsim.analysis.report.writer import write_run_report

    run = tmp_path / "run"
    shutil.copytree(digits_runs["wcat"], run)
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    listing = tmp_path / "chip_n"
    listing.mkdir()
    _write_dense(listing, "fmap_sa0_v_0.9.txt", [[0, 1], [0, 0]])
    _write_dense(listing, "fmap_sa1_v_0.9.txt", [[0, 0], [1, 0]])
    old = os.umask(umask)
    try:
        for command, args in (
            (random_flip, ["--run", run, "--ber", "0,1e-2", "--samples", "1", "--plot", "--per-realisation"]),
            (sweep_voltage, ["--run", run, "--voltages", "0.9,1.0", "--chips", "1", "--plot"]),
            (pareto, [run, "--out", run / "pareto.png"]),
            (sram, ["import-map", listing, "--rows", "2", "--cols", "2", "--out", run / "chip_n.npz"]),
        ):
            args = [str(a) for a in args] + ([] if command is sram or command is pareto else
                                             ["--device", "cpu", "--quiet"])  # fmt: skip
            result = CliRunner().invoke(command, args, catch_exceptions=False)
            assert result.exit_code == 0, result.output
        write_run_report(run)
    finally:
        os.umask(old)
    expected = 0o666 & ~umask
    written = sorted(p for p in run.rglob("*") if p.is_file() and before.get(p) != p.stat().st_mtime_ns)
    names = {p.relative_to(run).as_posix() for p in written}
    assert {"random_flip.csv", "random_flip.json", "random_flip_realisations.csv", "random_flip.png",
            "sweep_voltage.csv", "sweep_voltage.json", "sweep_voltage.png", "pareto.png", "pareto.csv",
            "pareto_iso.csv", "report.md", "chip_n.npz"} <= names, names  # fmt: skip
    assert {p.name: oct(_mode(p)) for p in written} == {p.name: oct(expected) for p in written}
    if umask == 0o022:  # the copied training files too: the whole directory reads 0644
        assert {oct(_mode(p)) for p in run.rglob("*") if p.is_file()} == {"0o644"}


def test_an_imported_fault_map_is_not_owner_only(tmp_path: Path) -> None:
    """ChipMeasurement.save (the import-map writer) goes through the shared atomic writer."""
    import numpy as np

    from sram_models.measured import ChipMeasurement

    chip = ChipMeasurement(rows=2, cols=2, banks=1, voltages=(0.9,), stuck0=(np.array([1], np.int64),),
                           stuck1=(np.array([2], np.int64),))  # fmt: skip
    old = os.umask(0o002)
    try:
        path = chip.save(tmp_path / "map.npz")
    finally:
        os.umask(old)
    assert oct(_mode(path)) == oct(0o664)
    assert ChipMeasurement.load(path).fingerprint() == chip.fingerprint()
    assert [p.name for p in tmp_path.iterdir()] == ["map.npz"]  # no temporary file left
