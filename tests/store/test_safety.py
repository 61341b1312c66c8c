"""Nothing computed is ever lost, and the commands behave as one tool (issue 10, sections 2 and 4).

Kept tables, tables that touch the disk only at their first point, one writer per table (two real
processes), workers that die with a SIGKILLed parent, checkpoints checked against config.toml, the
--out guards, --plot [FILE], --quiet everywhere, progress off a terminal, and CSV floats that are short
and read back exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from sram_models.errors import InputError
from tests.processes import interruptible
from wcatsim.store.atomic import read_csv
from wcatsim.store.columns import IDENTITY_COLUMNS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def run(digits_runs, tmp_path) -> Path:
    """A private copy of the trained 4-bit WCAT digits run (tests write into it)."""
    return Path(shutil.copytree(digits_runs["wcat"], tmp_path / "run"))


def _cli(*args: str):
    from cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ------------------------------------------------------------------------------------ kept tables


def test_three_runs_with_other_samples_keep_all_three_tables(run) -> None:
    from wcatsim.store.results import kept_tables

    tables = []
    for samples in (2, 3, 4):
        result = _cli("random-flip", "--run", run, "--ber", "0,1e-2", "--samples", samples, "--quiet",
                      "--device", "cpu")  # fmt: skip
        assert result.exit_code == 0, result.output
        tables.append((run / "random_flip.csv").read_text())
    kept = kept_tables(run / "random_flip.csv")
    assert [p.read_text() for p in kept] == tables[:2], "an earlier table was lost or changed"
    sidecars = [json.loads(p.with_suffix(".json").read_text()) for p in kept]
    current = json.loads((run / "random_flip.json").read_text())
    assert [s["settings"]["rule"]["samples"] for s in [*sidecars, current]] == [2, 3, 4]
    fingerprints = [s["fingerprint"] for s in [*sidecars, current]]
    assert len(set(fingerprints)) == 3
    for path, sidecar in zip(kept, sidecars, strict=True):
        # NAME.<created>.<first 8 hex digits of the fingerprint>.csv
        assert path.name == f"random_flip.{sidecar['created']}.{sidecar['fingerprint'][:8]}.csv"
    # the same settings again resume the current table: nothing is moved
    again = _cli("random-flip", "--run", run, "--ber", "0,1e-2", "--samples", 4, "--device", "cpu")
    assert again.exit_code == 0 and again.output.count("(resumed)") == 2
    assert len(kept_tables(run / "random_flip.csv")) == 2


def test_a_sweep_failing_at_its_first_point_touches_nothing(run) -> None:
    # The library's own check of protect_msb fires in the first realisation, i.e. after the table is
    # open: the table of other settings must still be there, untouched, sidecar included.
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep

    random_flip_sweep(str(run), [0.0], samples=2, device="cpu")
    before = _files(run)
    with pytest.raises(InputError, match="protect_msb"):
        random_flip_sweep(str(run), [1e-2], samples=3, protect_msb=2.0, device="cpu")
    assert _files(run) == before


def test_a_table_without_sidecar_is_kept_as_unknown(tmp_path) -> None:
    from wcatsim.store.results import PointTable, kept_tables

    path = tmp_path / "t.csv"
    path.write_text("ber,acc\n0.0,97.0\n")
    with PointTable(path, ["ber", "acc"], "ber", {"kind": "test"}) as table:
        assert table.done(0.0) is None
        table.add(0.0, {"ber": 0.0, "acc": 96.0})
    (kept,) = kept_tables(path)
    assert kept.name.endswith(".unknown.csv") and kept.read_text() == "ber,acc\n0.0,97.0\n"


# -------------------------------------------------------------------------- one writer per table


def test_two_writers_of_one_table_the_second_refuses_others_work_side_by_side(run, tmp_path) -> None:
    # The first writer is a real `wcatsim random-flip` process that never finishes its first point;
    # the others run here, in this (second) process, while it holds its table.
    holder = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "random-flip", "--run", str(run), "--ber", "1e-2",
         "--samples", "100000", "--quiet", "--device", "cpu"],
        env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=interruptible,
    )  # fmt: skip
    try:
        lock_info = run / "random_flip.csv.lock.json"
        deadline = time.monotonic() + 120
        while not lock_info.exists() and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock_info.exists(), holder.stderr.read() if holder.poll() is not None else "no lock"
        holder.send_signal(signal.SIGSTOP)  # a stopped process keeps its lock and leaves the cores free
        same = _cli("random-flip", "--run", run, "--ber", "0", "--samples", "2", "--device", "cpu")
        other = _cli("sweep-voltage", "--run", run, "--voltages", "1.0,0.95", "--chips", "1",
                     "--device", "cpu")  # fmt: skip
        mine = _cli("random-flip", "--run", run, "--ber", "0", "--samples", "2", "--out", run / "mine.csv",
                    "--device", "cpu")  # fmt: skip
        assert holder.poll() is None, "the first writer ended early"
    finally:
        holder.send_signal(signal.SIGCONT)
        time.sleep(0.5)  # sent together with SIGCONT, SIGINT once ended the process as a signal (1 in 4)
        holder.send_signal(signal.SIGINT)
        holder.communicate(timeout=60)
    assert same.exit_code == 2, same.output
    (line,) = same.stderr.strip().splitlines()
    assert f"being written by process {holder.pid}" in line and "random-flip" in line, line
    for result in (other, mine):
        assert result.exit_code == 0, result.output
        assert "\r" not in result.stderr, "a progress bar was drawn although stderr is not a terminal"
    # off a terminal: one line per finished point (header + rows), no bar
    out_lines = other.stdout.strip().splitlines()
    assert len(out_lines) == 4 and out_lines[-1].startswith("table: "), out_lines
    assert len(read_csv(run / "sweep_voltage.csv")) == 2 and len(read_csv(run / "mine.csv")) == 1
    assert holder.returncode == 130
    assert not list(run.glob("*.lock*")), "a lock file outlived its holder"
    assert not (run / "random_flip.csv").exists(), "the stopped writer had no finished point to write"


# --------------------------------------------------------------------------- orphan workers


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_sigkill_of_the_parent_leaves_no_worker_and_no_resource_tracker(tmp_path) -> None:
    script = tmp_path / "pool.py"
    script.write_text(textwrap.dedent("""
        import os, sys, time
        from wcatsim.experiments.montecarlo.executors import ProcessExecutor

        def pid(_):
            time.sleep(0.5)  # both workers busy at once: both exist
            return os.getpid()

        if __name__ == "__main__":
            executor = ProcessExecutor(workers=2)
            print(sorted(set(executor.map(pid, [0, 1]))), flush=True)
            time.sleep(600)
    """))
    parent = subprocess.Popen([sys.executable, str(script)], env=_env(), cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        workers = json.loads(parent.stdout.readline())
        children = _children(parent.pid)
        assert set(workers) <= children and len(children) >= 3, (workers, children)  # + resource tracker
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in children if _alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"processes {left} outlived their SIGKILLed parent"


# ----------------------------------------------------------------- runs, checkpoints and --set


def test_load_run_refuses_a_checkpoint_of_another_run(digits_runs, run) -> None:
    from wcatsim.errors import CheckpointError
    from wcatsim.train.runs import load_run

    shutil.copy(Path(digits_runs["maxabs"]) / "checkpoint.pt", run / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="belongs to another run"):
        load_run(run, device="cpu")


def test_an_explicit_run_takes_data_root_and_attack_settings_only(run, tmp_path) -> None:
    # --set data.root is allowed with --run (the data moved) and reaches the dataset loader: a root
    # that does not hold MNIST fails there, naming it.
    from wcatsim.train.runs import load_run

    assert load_run(run, device="cpu", data_root="/elsewhere").config.data.root == "/elsewhere"
    out = _cli("random-flip", "--run", run, "--ber", "0", "--samples", "2", "--quiet", "--device", "cpu",
               "--set", "attack.random_flip.seed=7")  # fmt: skip
    assert out.exit_code == 0, out.output
    sidecar = json.loads((run / "random_flip.json").read_text())
    saved = json.loads(json.dumps(load_run(run, device="cpu").config.to_dict()))
    # the recorded config is the run's own model with the attack settings asked for
    assert sidecar["settings"]["seed"] == 7 and sidecar["config"]["attack"]["random_flip"]["seed"] == 7
    assert {k: sidecar["config"][k] for k in ("model", "data", "quant", "trainer")} == {
        k: saved[k] for k in ("model", "data", "quant", "trainer")
    }


def test_layers_and_set_without_a_run_still_select_the_run(digits_runs, tmp_path, monkeypatch) -> None:
    # `-c`/`--set` with no --run name the run directory as `wcatsim train` did (runs/<name-hash>)
    from wcatsim.config import load_config
    from wcatsim.store.runs import run_dir_for

    cfg = load_config([], ["quant.method=wcat", "quant.bits=4", "trainer.epochs=15"])
    target = tmp_path / run_dir_for(cfg)
    shutil.copytree(digits_runs["wcat"], target)
    monkeypatch.chdir(tmp_path)
    out = _cli("random-flip", "--set", "trainer.epochs=15", "--ber", "0", "--samples", "2", "--quiet",
               "--device", "cpu")  # fmt: skip
    assert out.exit_code == 0, out.output
    assert (target / "random_flip.csv").exists()


def test_out_guard_names_every_derived_file(tmp_path) -> None:
    from wcatsim.store.files import check_figure_path, check_table_path

    check_table_path(tmp_path / "random_flip.csv", "random_flip")  # its own name: fine
    check_table_path(tmp_path / "mine.csv", "random_flip")
    check_figure_path(tmp_path / "random_flip.png", "random_flip")
    with pytest.raises(InputError, match="per-epoch training metrics"):
        check_table_path(tmp_path / "metrics.csv", "random_flip")
    with pytest.raises(InputError, match="would also write bfa_summary.json"):
        check_table_path(tmp_path / "bfa_summary.csv", "random_flip")
    with pytest.raises(InputError, match="would also write checkpoint.pdf|checkpoint"):
        check_figure_path(tmp_path / "checkpoint.pt", "random_flip")


def test_output_names_agree_with_the_modules_that_write_them() -> None:
    from wcatsim.analysis.plots import bfa
    from wcatsim.experiments.sweeps import sweep as sweeps
    from wcatsim.store import runs
    from wcatsim.store.files import OUTPUTS, RUN_FILES
    from wcatsim.train import checkpoints as checkpoint

    assert {runs.CONFIG_FILE, runs.SUMMARY_FILE, runs.METRICS_FILE, runs.LOG_FILE, checkpoint.BEST,
            checkpoint.LAST} == set(RUN_FILES)  # fmt: skip
    assert OUTPUTS["random_flip"][0] == sweeps.RANDOM_FLIP_FILE
    assert OUTPUTS["sweep_voltage"][0] == sweeps.SWEEP_VOLTAGE_FILE
    assert {bfa.FLIPS_FILE, bfa.SUMMARY_FILE} <= set(OUTPUTS["bfa"])


# ------------------------------------------------------------------------- one tool, one style


def test_every_command_has_quiet_with_the_no_progress_alias() -> None:
    import click

    from cli.main import COMMANDS, cli

    ctx = click.Context(cli)
    commands = []
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        commands += list(command.commands.values()) if hasattr(command, "commands") else [command]
    for command in commands:
        quiet = [p for p in command.params if p.name == "quiet"]
        assert quiet and {"--quiet", "--no-progress"} <= set(quiet[0].opts), command.name


def test_plot_file_is_optional(run, tmp_path) -> None:
    out = _cli("random-flip", "--run", run, "--ber", "0,1e-2", "--samples", "2", "--plot", "--quiet",
               "--device", "cpu")  # fmt: skip
    assert out.exit_code == 0, out.output
    assert (run / "random_flip.png").stat().st_size > 0 and (run / "random_flip.pdf").exists()
    out = _cli("random-flip", "--run", run, "--ber", "0,1e-2", "--samples", "2", "--plot",
               tmp_path / "f.png", "--no-progress", "--device", "cpu")  # fmt: skip
    assert out.exit_code == 0, out.output
    assert (tmp_path / "f.png").exists()


def test_train_off_a_terminal_prints_one_line_per_epoch(tmp_path) -> None:
    # CliRunner's stderr is not a terminal, as a log file is not: no bar, one line per epoch instead
    result = _cli("train", "--set", "trainer.epochs=2", "--set", "trainer.steps_per_epoch=2",
                  "--out", tmp_path / "r", "--device", "cpu")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "\r" not in result.stderr
    epochs = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/2", "2/2"], result.stderr
    quiet = _cli("train", "--set", "trainer.epochs=2", "--set", "trainer.steps_per_epoch=2",
                 "--out", tmp_path / "r", "--device", "cpu", "--fresh", "--quiet")  # fmt: skip
    assert quiet.exit_code == 0 and quiet.stderr == "", quiet.stderr


def test_csv_accuracies_are_short_and_read_back_exactly(run) -> None:
    import torch

    from wcatsim.train.evaluate import accuracy

    class Fixed(torch.nn.Module):  # predicts class 0 for the first 974 images of 1000, else 1
        def forward(self, x):
            logits = torch.zeros(x.shape[0], 2)
            logits[:, 1] = (x[:, 0] >= 974).float()
            return logits

    x = torch.arange(1000, dtype=torch.float32)[:, None]
    y = torch.zeros(1000, dtype=torch.int64)
    assert repr(accuracy(Fixed(), x, y)) == "97.4"  # 100 * (974 / 1000) would be 97.39999999999999

    out = _cli("random-flip", "--run", run, "--ber", "0,2e-2", "--samples", "3", "--quiet", "--device", "cpu")
    assert out.exit_code == 0, out.output
    from wcatsim.train.runs import load_run

    n = int(load_run(run, device="cpu").data.test_tensors()[1].shape[0])
    counts_and_names = ("realisations", "images_per_realisation", "ci_nominal", *IDENTITY_COLUMNS)
    for row in read_csv(run / "random_flip.csv"):
        for name, text in row.items():
            if text and name not in counts_and_names:
                assert repr(float(text)) == text, f"{name} {text!r} is not written in its shortest form"
        clean = float(row["clean_acc"])
        correct = round(clean * n / 100)
        assert clean == float(Fraction(100 * correct, n)), "clean_acc is not the correctly rounded k/n"
    zero = read_csv(run / "random_flip.csv")[0]
    assert zero["acc_mean"] == zero["clean_acc"] == zero["acc_min"]


def test_pareto_of_many_runs_has_its_legend_outside_and_no_layout_warning(tmp_path) -> None:
    import matplotlib

    from wcatsim.analysis.pareto import Sweep
    from wcatsim.analysis.plots.pareto import plot_pareto

    matplotlib.use("Agg")
    import numpy as np

    volts = np.linspace(0.75, 1.0, 6)
    sweeps = [
        Sweep(label=f"{q} 4-bit, chandramoorthy14, ECC {'secded' if k % 2 else 'off'} [run_{k}/sweep.csv]",
              voltage=volts, energy_norm=volts**2, acc_mean=97 - 20 * (1 - volts) * (k + 1),
              ci_low=96 - 20 * (1 - volts) * (k + 1), clean_acc=97.0, info={"quantizer": q})
        for k, q in enumerate(["wcat", "maxabs", "lsq", "wcat", "maxabs", "lsq", "wclip", "plclip"])
    ]  # fmt: skip
    import wcatsim.analysis.plots.style as style

    captured = {}
    save = style.save_figure

    def keep(fig, path, pdf=True):
        fig.canvas.draw()
        captured["fig"] = fig
        axes = [ax.get_window_extent() for ax in fig.axes]
        legend = fig.legends[0].get_window_extent()
        captured["overlap"] = [a.overlaps(legend) for a in axes]
        return save(fig, path, pdf)

    import wcatsim.analysis.plots.pareto as pareto_plots

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a layout warning fails the test
        pareto_plots.save_figure = keep
        try:
            plot_pareto(sweeps, tmp_path / "p.png")
        finally:
            pareto_plots.save_figure = save
    assert captured["overlap"] == [False, False], "the legend covers an axes"
    assert not captured["fig"].axes[0].get_legend(), "the legend must sit outside the axes"


def test_every_ber_is_ticked_and_labelled(tmp_path) -> None:
    import wcatsim.analysis.plots.faults as faults

    bers = [1e-4, 4e-4, 8e-4, 1e-3, 2e-3, 4e-3, 6e-3, 8e-3, 1e-2, 2e-2, 3e-2, 5e-2]
    rows = [{"ber": b, "acc_mean": 90.0, "ci_low": 89.0, "ci_high": 91.0, "clean_acc": 95.0}
            for b in [0, *bers]]  # fmt: skip
    seen = {}
    save = faults.save_figure

    def keep(fig, path, pdf=True):
        fig.canvas.draw()
        ax = fig.axes[1]  # the collapsed-share panel below the accuracy carries the shared BER axis's labels
        seen["ticks"] = list(ax.get_xticks())
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        seen["labels"] = [t.get_text() for t in labels]
        boxes = [t.get_window_extent() for t in labels]
        seen["overlaps"] = sum(a.overlaps(b) for a, b in zip(boxes, boxes[1:], strict=False))
        return save(fig, path, pdf)

    faults.save_figure = keep
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            faults.plot_accuracy_vs_ber({"wcat4": rows}, tmp_path / "rf.png")
    finally:
        faults.save_figure = save
    assert seen["ticks"] == pytest.approx(bers)
    assert seen["labels"] == ["1e-4", "4e-4", "8e-4", "1e-3", "2e-3", "4e-3", "6e-3", "8e-3", "1e-2", "2e-2",
                              "3e-2", "5e-2"]  # fmt: skip
    assert seen["overlaps"] == 0, "two BER labels overlap"


def test_bfa_compare_legend_sits_below_the_axes(tmp_path) -> None:
    import wcatsim.analysis.plots.bfa as bfa_plots
    from wcatsim.store.atomic import atomic_write_csv, atomic_write_json

    runs = []
    for name, method, flips in (("a", "maxabs", 12), ("b", "wcat", 30)):
        folder = tmp_path / name
        rows = [{"trial": 0, "iteration": i, "flip": i + 1, "acc": 95.0 - 85.0 * (i + 1) / flips}
                for i in range(flips)]  # fmt: skip
        atomic_write_csv(folder / "bfa_flips.csv", ["trial", "iteration", "flip", "acc"], rows)
        atomic_write_json(folder / "bfa_summary.json", {
            "trials": 1, "clean_acc": 95.0, "threshold": 10.1, "broken": [True], "stalled": [False],
            "flips_to_break": [flips], "quant_method": method, "bits": [4], "model": "small_cnn",
            "flips_to_break_mean": flips, "flips_to_break_std": None,
        })  # fmt: skip
        runs.append(folder)
    seen = {}
    save = bfa_plots.save_figure

    def keep(fig, path, pdf=True):
        fig.canvas.draw()
        legend = fig.legends[0].get_window_extent()
        seen["overlap"] = fig.axes[0].get_window_extent().overlaps(legend)
        seen["axes_legend"] = fig.axes[0].get_legend()
        return save(fig, path, pdf)

    bfa_plots.save_figure = keep
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            bfa_plots.plot_bfa_compare(runs[0], runs[1], tmp_path / "c.png")
    finally:
        bfa_plots.save_figure = save
    assert seen == {"overlap": False, "axes_legend": None}
