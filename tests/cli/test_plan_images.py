"""``plan-voltage --images`` (``plan.images``): the nested sensitivity curves from the command line.

Every bad value is one line on stderr naming the flag (or the setting key where ``--set`` gave it), exit
code 2, nothing written; a good one records the design in the sensitivity table and ``plan_voltage.json``.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

BAD = [
    ("--images -1", "--images"),
    ("--images lots", "--images"),
    ("--images auto", "--images"),
    ("--set plan.images=-3", "plan.images: must be a count >= 0 or 'all'"),
    ("--set plan.images=lots", "plan.images"),
    ("--set plan.images=auto", "plan.images"),
    ("--images 5", "--images must be between 20"),  # below 2 per class of the digits' 10
    ("--images 100000", "--images must be between 20"),  # above the 539 test images
]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("flags", "expect"), BAD, ids=[flags for flags, _ in BAD])
def test_a_bad_images_value_is_one_line_naming_it(digits_runs, tmp_path, flags, expect) -> None:
    from wcatsim.cli.main import cli

    run = Path(digits_runs["maxabs"])
    out = tmp_path / "out"
    out.mkdir()
    before = _files(run)
    argv = ["plan-voltage", "--run", str(run), "--preset", "chandramoorthy14", "--voltages", "0.9:1.0:0.1",
            "--chips", "2", "--verify-chips", "2", "--device", "cpu", "--out", str(out), "--quiet",
            *shlex.split(flags)]  # fmt: skip
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    lines = result.stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expect.lower() in lines[0].lower(), f"{expect!r} not in: {lines[0]}"
    assert _files(run) == before
    assert not any(p.suffix in (".csv", ".json") for p in out.rglob("*")), "a refused plan wrote a table"


def test_plan_voltage_images_records_the_design(digits_runs, tmp_path) -> None:
    from wcatsim.cli.main import cli
    from wcatsim.store.atomic import read_csv

    out = tmp_path / "plan"
    result = CliRunner().invoke(cli, [
        "plan-voltage", "--run", str(digits_runs["maxabs"]), "--preset", "chandramoorthy14",
        "--voltages", "0.8:1.0:0.1", "--chips", "3", "--verify-chips", "2", "--max-sets", "1",
        "--device", "cpu", "--out", str(out), "--quiet", "--images", "100",
    ])  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    rows = read_csv(out / "plan_voltage_sensitivity.csv")
    assert rows and all(r["images_per_realisation"] == "100" for r in rows)
    assert all(float(r["acc_std_between_pct"]) >= 0 for r in rows)
    design = json.loads((out / "plan_voltage.json").read_text())["search"]["sensitivity_design"]
    assert design["images_per_realisation"] == 100 and design["of"] == 539 and design["nested"] is True
    # another design, another sensitivity table: the whole-set curves are not mixed with the nested ones
    again = CliRunner().invoke(cli, [
        "plan-voltage", "--run", str(digits_runs["maxabs"]), "--preset", "chandramoorthy14",
        "--voltages", "0.8:1.0:0.1", "--chips", "3", "--verify-chips", "2", "--max-sets", "1",
        "--device", "cpu", "--out", str(out), "--quiet",
    ])  # fmt: skip
    assert again.exit_code in (0, 1), again.output
    whole = json.loads((out / "plan_voltage.json").read_text())
    assert whole["search"]["sensitivity_points_reused"] == 0
    assert all(r["images_per_realisation"] == "539" for r in read_csv(out / "plan_voltage_sensitivity.csv"))
