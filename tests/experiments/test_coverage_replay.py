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


def _replay_module():
    # benchmarks/ is no package: load benchmarks/replay.py by path, as coverage.py imports it
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_replay", ROOT / "benchmarks" / "replay.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _made_matrix(seed: int = 3, rows: int = 40, images: int = 97):
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, size=images)
    labels[:10] = np.arange(10) % 5  # every class present at least twice
    rate = rng.uniform(0.3, 0.95, size=(rows, 5))
    return rng.random((rows, images)) < rate[:, labels], labels


def test_stratified_picks_take_each_class_its_allocation_without_repeats() -> None:
    import numpy as np

    from wcatsim.experiments.montecarlo.nested import allocation

    replay = _replay_module()
    _, labels = _made_matrix()
    counts = np.unique(labels, return_counts=True)[1]
    picks = replay.stratified_picks(labels, 31, 25, np.random.default_rng(0))
    assert picks.shape == (25, 31)
    want = allocation(counts, 31)
    for row in picks:
        assert np.unique(row).size == 31  # distinct positions
        assert np.bincount(labels[row], minlength=5).tolist() == want.tolist()
    # a class's column block holds that class in every row (subset_estimates relies on it)
    assert (labels[picks] == labels[picks[0]]).all()


def test_subset_estimates_equal_the_one_by_one_estimator() -> None:
    import numpy as np

    from wcatsim.experiments.montecarlo.nested import subset_estimate

    replay = _replay_module()
    correct, labels = _made_matrix()
    rows = np.array([0, 5, 5, 39, 12])
    picks = replay.stratified_picks(labels, 23, rows.size, np.random.default_rng(1))
    est, var = replay.subset_estimates(correct, labels, rows, picks)
    for i, row in enumerate(rows):
        want = subset_estimate(correct[row, picks[i]], labels[picks[i]], labels)
        assert abs(est[i] - want[0]) < 1e-9 and abs(var[i] - want[1]) < 1e-9, (i, est[i], var[i], want)
    # the whole set: each row's own accuracy, no sampling variance
    whole, zero = replay.read_rows(correct, labels, rows, labels.size, np.random.default_rng(2))
    assert np.array_equal(whole, 100.0 * correct[rows].mean(axis=1)) and not zero.any()


def test_read_rows_is_unbiased_for_the_row_accuracy() -> None:
    import numpy as np

    replay = _replay_module()
    correct, labels = _made_matrix()
    draws = 4000
    est, var = replay.read_rows(correct, labels, np.full(draws, 7), 20, np.random.default_rng(4))
    truth = 100.0 * correct[7].mean()
    # the standard error of the mean of 4000 estimates, from their own spread; 5 of them as the bound
    bound = 5.0 * est.std(ddof=1) / np.sqrt(draws)
    assert abs(est.mean() - truth) < bound, (est.mean(), truth, bound)
    # and the variance estimator is unbiased for the estimates' spread (relative bound 15%)
    assert abs(var.mean() / est.var(ddof=1) - 1.0) < 0.15, (var.mean(), est.var(ddof=1))


def test_recorded_matrix_replay_has_the_whole_matrix_mean_as_truth(tmp_path: Path) -> None:
    import numpy as np

    correct, labels = _made_matrix(rows=60, images=97)
    path = tmp_path / "made_0.01.npz"
    np.savez_compressed(path, correct=np.packbits(correct, axis=1), images=correct.shape[1], labels=labels)
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "coverage.py"), "--smoke", "--matrix", str(path),
         "--replays", "20", "--nested-images", "30", "--nested-realisations", "40"],
        capture_output=True, text=True, timeout=300, check=True, cwd=ROOT,
    )  # fmt: skip
    found = re.findall(r"replay made_0\.01 (\w+): true=([\d.]+) coverage=[\d.]+ images=(\d+)", done.stdout)
    assert [name for name, _, _ in found] == ["paper", "adaptive", "nested", "allocated"], done.stdout
    truth = 100.0 * correct.mean()
    assert all(abs(float(t) - truth) < 5e-4 for _, t, _ in found), (found, truth)  # printed to 3 decimals
    assert int(found[0][2]) == 50 * 97 and int(found[2][2]) == 40 * 30
