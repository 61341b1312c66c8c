"""plan-voltage's sensitivity stage with and without the clean prefix replayed (issue 18 §5).

Setting: a 4-bit maxabs ResNet-20 on the synthetic CIFAR-shaped set (``synthetic_cifar``: its 500
test images), untrained convolutions with batch norm calibrated on training images and a
least-squares readout (``benchmarks/bfa.py``'s helpers: a model that classifies, in seconds), the
``chandramoorthy14`` technology, per-layer domains, a few planning chips and a small voltage grid.
The same plan runs four times in this process, in the order whole, replayed, replayed, whole (ABBA,
so that a drift of the shared machine's load hits both alike): with whole forwards
(``share_prefix=False``, the code before §5) and with the activations before each domain computed
once per test batch and replayed (``share_prefix=True``); the sensitivity stage is timed from the
planner's own log lines (from "[plan] N domains" to "[plan] greedy descent"), and every run's curves
and table must be identical.  Both wall and CPU seconds of this process are measured: with one torch
thread they agree on an idle machine, and on a machine shared with other jobs the CPU seconds are the
steadier measure (wall seconds of the same run varied by 1.5x here while other agents ran).

Last line: ``plan_prefix: ratio=R`` (CPU seconds without / CPU seconds with the prefix replayed);
the line before gives the wall-clock ratio too.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import torch  # noqa: E402
from bfa import calibrate_batch_norm, fit_readout  # noqa: E402  (benchmarks/bfa.py, run as a script)

from wcatsim.config import load_config  # noqa: E402
from wcatsim.experiments.plan.planner import PlanSettings, plan_voltage  # noqa: E402
from wcatsim.train.runs import LoadedRun, build_model_for, load_dataset_for  # noqa: E402


def make_run(seed: int, out: Path) -> LoadedRun:
    """The benchmark's ResNet-20 as a run (nothing is trained: see the module docstring)."""
    cfg = load_config([], ["model.name=resnet20", "data.name=synthetic_cifar", "quant.method=maxabs",
                           "quant.bits=4", f"data.seed={seed}"])  # fmt: skip
    data = load_dataset_for(cfg)
    torch.manual_seed(seed)
    model = build_model_for(cfg, data)
    x_train, y_train = data.train_tensors()
    calibrate_batch_norm(model, x_train[:512])
    fit_readout(model, x_train, y_train)
    model.eval()
    return LoadedRun(model=model, config=cfg, data=data, dir=out, device=torch.device("cpu"))


def timed_plan(run: LoadedRun, grid: list[float], settings: PlanSettings, share: bool, out: Path) -> tuple:
    """(sensitivity-stage seconds, the plan) of one plan-voltage run."""
    marks: dict[str, tuple[float, float]] = {}

    def log(text: str) -> None:
        if text.startswith("[plan]") and "domains x" in text:
            marks["start"] = (time.perf_counter(), time.process_time())
        elif text.startswith("[plan] greedy descent"):
            marks["end"] = (time.perf_counter(), time.process_time())

    plan = plan_voltage(run, "chandramoorthy14", grid, settings=settings, out_dir=out, log=log,
                        share_prefix=share)  # fmt: skip
    (wall0, cpu0), (wall1, cpu1) = marks["start"], marks["end"]
    return (wall1 - wall0, cpu1 - cpu0), plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=2, help="planning chips")
    parser.add_argument("--voltages", default="1.0,0.95,0.9,0.85", help="the grid, comma-separated")
    # The untrained network is fragile (1.8 points lost at 1.0 V on the planning chips): a budget of 5
    # points lets the curves go down a few voltages, which is what is timed.
    parser.add_argument("--budget", type=float, default=5.0, help="accuracy points the plan may lose")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (both runs alike)")
    # N: the nested curves (each chip's clean prefix on its own images); benchmarks/plan_images.py times
    # all against N
    parser.add_argument("--images", default="all", help="sensitivity curves' images per chip: all or N")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    grid = [float(v) for v in args.voltages.split(",")]
    images = args.images if args.images == "all" else int(args.images)
    settings = PlanSettings(planning_chips=args.chips, verification_chips=1, max_verification_sets=1,
                            budget=args.budget, images=images)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = make_run(args.seed, root / "run")
        print(f"resnet20 4-bit maxabs on synthetic_cifar ({len(run.data.test_tensors()[1])} test images), "
              f"chandramoorthy14, per-layer domains, {args.chips} planning chips, grid {grid}, "
              f"{torch.get_num_threads()} thread(s), images per chip {images}")
        seconds: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        curves, tables = [], []
        for i, share in enumerate((False, True, True, False)):
            out = root / f"plan_{i}"  # a fresh directory: no sensitivity point is reused from disk
            spent, plan = timed_plan(run, grid, settings, share, out)
            seconds[share].append(spent)
            curves.append(plan.sensitivity)
            tables.append((out / "plan_voltage_sensitivity.csv").read_bytes())
            print(f"  run {i + 1}: {'clean prefix replayed' if share else 'whole forwards':22} "
                  f"{spent[0]:.2f} s wall, {spent[1]:.2f} s CPU")
        assert all(c == curves[0] for c in curves), "the curves differ"
        assert all(t == tables[0] for t in tables), "the tables differ"
        points = len(curves[0])
    wall = {k: sum(w for w, _ in v) / 2 for k, v in seconds.items()}
    cpu = {k: sum(c for _, c in v) / 2 for k, v in seconds.items()}
    print(f"sensitivity stage ({points} points; identical curves and table), mean of 2: whole forwards "
          f"{wall[False]:.2f} s wall / {cpu[False]:.2f} s CPU, clean prefix replayed {wall[True]:.2f} s wall "
          f"/ {cpu[True]:.2f} s CPU; wall ratio {wall[False] / wall[True]:.2f}")
    print(f"plan_prefix: ratio={cpu[False] / cpu[True]:.2f}")


if __name__ == "__main__":
    main()
