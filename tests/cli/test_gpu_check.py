"""scripts/gpu_check.py (``make gpu-check``): its CPU-side logic, run with the CPU in both columns."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _in_process(args):
    from wcatsim.cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def test_dry_run_prints_every_step_and_agrees_with_itself(digits_runs, tmp_path: Path, capsys) -> None:
    gpu_check = _script()
    code = gpu_check.main(["--dry-run", "--work", str(tmp_path), "--run", str(digits_runs["wcat"]),
                           "--samples", "3", "--bfa-flips", "3", "--speed-realisations", "1", "--no-resnet"],
                          runner=_in_process)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "1. GPU-marked tests: skipped (dry run)" in out
    for ber in gpu_check.BERS:
        rows = [line for line in out.splitlines() if line.split()[:1] == [f"{ber:g}"]]
        assert len(rows) == 1 and rows[0].rstrip().endswith("yes"), out
    assert "identical accuracy in 9 of 9 realisations" in out, "the CPU against itself is exact"
    assert "no divergence: the same" in out
    assert "trained small model: cpu" in out and "ratio" in out
    assert out.strip().splitlines()[-1].startswith("gpu-check passed (dry run")
    assert not (Path(digits_runs["wcat"]) / "bfa_flips.csv").exists(), "the given run is copied, not written"


def test_comparisons_report_disagreement_and_divergence() -> None:
    gpu_check = _script()
    row = {"ber": "0.01", "acc_mean": "90", "ci_low": "89", "ci_high": "91"}
    near = {"ber": "0.01", "acc_mean": "91.5", "ci_low": "90.5", "ci_high": "92.5"}
    far = {"ber": "0.01", "acc_mean": "95", "ci_low": "94", "ci_high": "96"}
    assert gpu_check.compare_points([row], [near])[0]["agree"]
    assert not gpu_check.compare_points([row], [far])[0]["agree"]
    flip = [{"layer": "conv1", "index": "3", "bit": "3"}, {"layer": "fc", "index": "7", "bit": "0"}]
    other = [flip[0], {"layer": "fc", "index": "8", "bit": "0"}]
    assert "first divergence at flip 2" in gpu_check.first_divergence(flip, other)
    assert "cpu made 2, gpu 1" in gpu_check.first_divergence(flip, flip[:1])
    same = gpu_check.identical_realisations(
        [{"ber": "0.01", "seed": "1", "accuracy": "90.0"}, {"ber": "0.01", "seed": "2", "accuracy": "80.0"}],
        [{"ber": "0.01", "seed": "1", "accuracy": "90.0"}, {"ber": "0.01", "seed": "2", "accuracy": "80.5"}],
    )
    assert same == (1, 2)
