"""Shared pytest fixtures and settings.

Trained models that several tests need are built once per test session here
(session-scoped fixtures), never per test.
"""

from __future__ import annotations

import os

# Two cores on CI: keep torch and numba from oversubscribing them.
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# Idle OpenMP threads sleep rather than spin (what `wcatsim` itself sets; see wcatsim/cli/main.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# ---------------------------------------------------------------- trained runs (wcatsim.train.trainer)

import pytest  # noqa: E402

# Epochs of the shared digits runs: ~2 s each on 2 cores, long enough for WCAT's ranges to fall well
# below max|w| (the full default recipe is 30 epochs).
DIGITS_RUN_EPOCHS = 15


@pytest.fixture(scope="session")
def digits_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run directories of 4-bit ``maxabs``, ``lsq`` and ``wcat`` small CNNs trained on the embedded digits.

    Built once per test session with :func:`wcatsim.train.trainer.train` (the default recipe, shortened to
    ``DIGITS_RUN_EPOCHS`` epochs); each holds config.toml, checkpoint.pt, summary.json, metrics.csv.
    Load one with ``wcatsim.train.runs.load_run(digits_runs["wcat"])``. Tests must not write into them.
    """
    import torch

    from wcatsim.config import load_config
    from wcatsim.store.runs import run_dir_for
    from wcatsim.train.trainer import train

    root = tmp_path_factory.mktemp("digits_runs")
    runs = {}
    # One thread: these models are too small to gain from a second one, and when several test sessions
    # share the 2 cores, OpenMP threads waiting on each other made training 5x slower (measured).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for method in ("maxabs", "lsq", "wcat"):
            overrides = [f"quant.method={method}", "quant.bits=4", f"trainer.epochs={DIGITS_RUN_EPOCHS}"]
            cfg = load_config([], overrides)
            runs[method] = train(cfg, out_dir=run_dir_for(cfg, root), device="cpu", progress=False).run_dir
    finally:
        torch.set_num_threads(threads)
    return runs
