"""benchmarks/coverage.py's replay of protocols on a correctness matrix (issue 18 section 2), smoke size."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_replay_reports_every_protocol_with_its_images() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "coverage.py"), "--smoke", "--replays", "30",
         "--nested-images", "60", "--nested-realisations", "40"],
        capture_output=True, text=True, timeout=300, check=True, cwd=ROOT,
    )  # fmt: skip
    found = dict(re.findall(r"replay smoke (\w+): true=[\d.]+ coverage=[\d.]+ images=(\d+)", done.stdout))
    assert set(found) == {"paper", "adaptive", "nested", "allocated"}, done.stdout
    # images spent: the paper's 50 x 539, the nested design's 40 x 60; the adaptive rule at least 50 x 539
    assert (int(found["paper"]), int(found["nested"])) == (50 * 539, 40 * 60)
    assert int(found["adaptive"]) >= 50 * 539
    # the allocated design: its pilot (10 x 539 + 10 x 67 on 539 images) and at least 200 x n_min (20)
    assert int(found["allocated"]) >= 10 * 539 + 10 * 67 + 200 * 20
