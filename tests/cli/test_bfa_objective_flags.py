"""``wcatsim bfa --objective targeted --target-class T [--source-class S] [--defence NAME]``: bad
combinations are one line on stderr with exit code 2 and leave the run untouched; a good one writes the
targeted summary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner


@pytest.fixture(scope="module")
def run_copy(digits_runs, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bfa_objective") / "run"
    shutil.copytree(digits_runs["maxabs"], path)
    return path


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("flags", "expect"),
    [
        ("--objective targeted --target-class 10",
         "--target-class 10 is not a class of this model: use 0..9"),
        ("--objective targeted --target-class 3 --source-class 10", "--source-class 10 is not a class"),
        ("--objective targeted --target-class 3 --source-class 3", "needs two classes"),
        ("--objective targeted", "needs --target-class"),
        ("--target-class 3", "belong to --objective targeted"),
        ("--objective targetted --target-class 3", "did you mean 'targeted'"),
        ("--objective targeted --target-class -1", "--target-class"),
        ("--defence checksums", "did you mean 'checksum'"),
        ("--defended-break", "--defended-break needs a defence: --defence other than none"),
        ("--defence secdedd", "did you mean 'secded'"),
        ("--objective targeted --target-class 3 --to-original-threshold", "--to-original-threshold belongs"),
        ("--k-top-max 5", "--k-top-max: must be 0 (every weight) or >= attack.bfa.k_top (100)"),
    ],
)
def test_bad_objective_flags_are_one_line_exit_2(run_copy: Path, flags: str, expect: str) -> None:
    from wcatsim.cli.main import cli

    before = _files(run_copy)
    result = CliRunner().invoke(cli, ["bfa", "--run", str(run_copy), "--quiet", *flags.split()])
    assert result.exit_code == 2, result.output
    lines = result.stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], result.stderr
    assert _files(run_copy) == before, "a refused command touched the run"


def test_targeted_cli_writes_the_targeted_summary(run_copy: Path) -> None:
    from wcatsim.cli.main import cli

    result = CliRunner().invoke(cli, ["bfa", "--run", str(run_copy), "--quiet", "--trials", "1",
                                      "--objective", "targeted", "--target-class", "3",
                                      "--defence", "checksum", "--k-top-max", "200"])  # fmt: skip
    assert result.exit_code == 0, result.output
    # a targeted attack against a defence keeps its own summary, beside the untargeted and undefended ones
    assert not any((run_copy / name).exists() for name in ("bfa_summary.json", "bfa_checksum_summary.json"))
    summary = json.loads((run_copy / "bfa_targeted_checksum_summary.json").read_text())
    assert (summary["objective"], summary["target_class"], summary["source_class"]) == ("targeted", 3, None)
    assert len(summary["attack_success_rate"]) == len(summary["other_classes_accuracy"]) == 1
    assert "attack success" in result.output
    assert summary["defence"] == "checksum" and len(summary["detected_flips"]) == 1
    assert summary["k_top_max"] == 200  # a cap is recorded (and fingerprinted) only when set
