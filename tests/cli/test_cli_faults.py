"""`wcatsim random-flip` and `wcatsim sweep-voltage`: tables, figures, bad input, and SIGKILL + resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from wcatsim.store.atomic import read_csv

REPO = Path(__file__).resolve().parents[2]


def _invoke(command, args: list[str]):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


def test_random_flip_writes_table_sidecar_and_figure(digits_runs, tmp_path) -> None:
    from cli.random_flip import random_flip

    out = tmp_path / "rf.csv"
    layer = REPO / "configs" / "attack" / "random_flip.toml"
    result = _invoke(random_flip, [
        "-c", layer, "--set", "attack.random_flip.samples=2", "--run", digits_runs["wcat"],
        "--ber", "0,2e-2", "--out", out, "--plot", "--per-realisation", "--device", "cpu",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert [r["ber"] for r in rows] == ["0.0", "0.02"]
    assert all(r["realisations"] == "2" for r in rows), "attack.random_flip.samples from --set must apply"
    assert rows[0]["acc_mean"] == rows[0]["clean_acc"]
    assert "ci_high" in result.output.splitlines()[0] or "mean" in result.output
    assert (tmp_path / "rf.png").stat().st_size > 0 and (tmp_path / "rf.pdf").exists()
    assert len(read_csv(tmp_path / "rf_realisations.csv")) == 4
    assert (tmp_path / "rf.json").exists()


def test_images_and_the_paper_protocol_from_the_command_line(digits_runs, tmp_path) -> None:
    """--images N: each realisation on N test images (nested, issue 18 §1); --protocol paper: 50 x all."""
    from cli.random_flip import random_flip
    from cli.sweep_voltage import sweep_voltage

    out = tmp_path / "nested.csv"
    result = _invoke(random_flip, [
        "--run", digits_runs["wcat"], "--ber", "0,2e-2", "--samples", "4", "--images", "100",
        "--out", out, "--quiet", "--device", "cpu",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    low, high = read_csv(out)
    assert high["images_per_realisation"] == "100" and high["realisations"] == "4"
    assert float(high["acc_std_between"]) >= 0.0
    assert low["acc_mean"] == low["clean_acc"], "no fault: the clean accuracy, exactly, with no image spent"
    # the same through a config layer's key
    layered = tmp_path / "layered.csv"
    result = _invoke(random_flip, [
        "--run", digits_runs["wcat"], "--set", "attack.random_flip.images=100", "--ber", "2e-2",
        "--samples", "4", "--out", layered, "--quiet", "--device", "cpu",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read_csv(layered)[0]["acc_mean"] == high["acc_mean"], "the same seeds give the same subsets"
    paper = tmp_path / "paper.csv"
    result = _invoke(random_flip, [
        "--run", digits_runs["wcat"], "--ber", "2e-2", "--protocol", "paper", "--out", paper, "--quiet",
        "--device", "cpu",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = read_csv(paper)
    assert row["realisations"] == "50" and row["images_per_realisation"] == "539"
    # --images auto: the allocated design; a point whose reads change nothing stays exact and free
    auto = tmp_path / "auto.csv"
    result = _invoke(random_flip, [
        "--run", digits_runs["wcat"], "--ber", "0", "--images", "auto", "--out", auto, "--quiet",
        "--device", "cpu",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = read_csv(auto)
    assert (row["realisations"], row["images_per_realisation"]) == ("200", "539")
    assert row["acc_mean"] == row["clean_acc"]
    sweep = tmp_path / "sv_nested.csv"
    result = _invoke(sweep_voltage, [
        "--run", digits_runs["maxabs"], "--voltages", "0.8,1.0", "--chips", "3", "--images", "100",
        "--out", sweep, "--quiet", "--device", "cpu",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {r["images_per_realisation"] for r in read_csv(sweep)} <= {"100", "0"}


def test_sweep_voltage_writes_table_and_twin_axis_figure(digits_runs, tmp_path) -> None:
    from cli.sweep_voltage import sweep_voltage

    out = tmp_path / "sv.csv"
    result = _invoke(sweep_voltage, [
        "--run", digits_runs["maxabs"], "--preset", "chandramoorthy14", "--voltages", "0.8:1.0:0.1",
        "--chips", "2", "--ecc", "secded", "--out", out, "--plot", "--device", "cpu",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert [r["voltage"] for r in rows] == ["1.0", "0.9", "0.8"]
    # Normalised to the same weights WITHOUT ECC at nominal voltage (sram_models.energy), so SECDED's
    # 8 check bits per 64-bit word show: 72/64 at nominal.
    assert float(rows[0]["energy_norm"]) == pytest.approx(72 / 64)
    assert rows[0]["energy_per_inference_pj"] == ""
    assert (tmp_path / "sv.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("random_flip", ["--ber", "0,1.5"], "outside [0, 1]"),
        ("random_flip", ["--ber", "0,abc"], "not a number"),
        ("random_flip", ["--fault", "cosmic"], "unknown fault model"),
        ("random_flip", ["--executor", "dask"], "--scheduler"),
        ("sweep_voltage", ["--voltages", "0.1:0.2:0.1"], "outside"),
        ("sweep_voltage", ["--preset", "no_such_preset"], "no_such_preset"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_keeps_results(
    digits_runs, tmp_path, command, args, message
) -> None:
    from cli.random_flip import random_flip
    from cli.sweep_voltage import sweep_voltage

    out = tmp_path / "kept.csv"
    out.write_text("ber,acc_mean\n0.0,97.0\n")
    cmd = random_flip if command == "random_flip" else sweep_voltage
    result = _invoke(cmd, ["--run", digits_runs["wcat"], "--out", out, "--quiet", "--device", "cpu", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert out.read_text() == "ber,acc_mean\n0.0,97.0\n"


def test_run_directory_without_checkpoint_is_exit_2(tmp_path) -> None:
    from cli.random_flip import random_flip

    empty = tmp_path / "untrained"
    empty.mkdir()
    result = _invoke(random_flip, ["--run", empty, "--ber", "0", "--quiet"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "wcatsim train" in lines[0], lines


def _command(run_dir: str, out: Path) -> list[str]:
    code = "from cli.random_flip import random_flip; random_flip(prog_name='wcatsim random-flip')"
    return [
        sys.executable, "-c", code, "--run", run_dir, "--ber", "1e-2,2e-2,3e-2,5e-2", "--samples", "3",
        "--per-realisation", "--device", "cpu", "--out", str(out),
    ]  # fmt: skip


def test_random_flip_killed_with_sigkill_resumes_to_the_uninterrupted_table(digits_runs, tmp_path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONPATH": str(REPO)}
    run_dir = str(digits_runs["wcat"])
    full = tmp_path / "full" / "random_flip.csv"
    subprocess.run(_command(run_dir, full), check=True, env=env, capture_output=True, cwd=REPO)

    part = tmp_path / "part" / "random_flip.csv"
    proc = subprocess.Popen(_command(run_dir, part), env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    try:
        while not read_csv(part) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)  # as soon as the first point has landed
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    landed = len(read_csv(part))
    assert 1 <= landed < 4, f"{landed} points had landed when the kill arrived"

    again = subprocess.run(
        _command(run_dir, part), check=True, env=env, capture_output=True, text=True, cwd=REPO
    )
    assert again.stdout.count("(resumed)") == landed, again.stdout  # finished points are not recomputed
    assert part.read_text() == full.read_text()
    assert (part.parent / "random_flip_realisations.csv").read_text() == (
        full.parent / "random_flip_realisations.csv"
    ).read_text()
