"""plan-voltage's sensitivity stage on the whole test set against the nested design (issue 18 section 1).

Setting: the embedded-digits small CNN, 4-bit maxabs, trained with the test suite's recipe (15 epochs,
``tests/conftest.py``'s ``DIGITS_RUN_EPOCHS``; about 7 s here) unless ``--run`` names a run, its 539
test images, ``chandramoorthy14``, per-layer domains (4), 20 planning chips (the plan's default) and the
grid 1.0:0.75:0.05.  The same plan runs four times in this process, in the order whole, nested, nested,
whole (ABBA, so that a drift of the shared machine's load hits both alike): ``images="all"`` (every chip
on the whole test set, the clean prefix replayed: today's default) and ``images=N`` (each planning chip
on its own stratified subset of N images, each chip's clean prefix on its own images replayed).  The
sensitivity stage is timed from the planner's own log lines (``benchmarks/plan_prefix.py``'s
:func:`timed_plan`), in wall and CPU seconds of this process (CPU: the steadier measure on a shared
machine).  Each run writes into a fresh directory (no point is reused from disk).

Also printed: the curves' largest difference (accuracy points, nested minus whole, same chips) and
whether the two designs chose the same plan (they need not: the nested curves carry image-sampling
noise, which is why the default stays ``all``).

Last line: ``plan_images: ratio=R`` (CPU seconds with ``all`` / CPU seconds with ``images=N``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import torch  # noqa: E402
from plan_prefix import timed_plan  # noqa: E402  (benchmarks/plan_prefix.py, run as a script)

from wcatsim.experiments.plan.planner import PlanSettings  # noqa: E402
from wcatsim.train.runs import load_run  # noqa: E402


def digits_run(root: Path) -> Path:
    """A 4-bit maxabs small CNN on the embedded digits, trained as the test suite trains its runs."""
    from wcatsim.config import load_config
    from wcatsim.store.runs import run_dir_for
    from wcatsim.train.trainer import train

    cfg = load_config([], ["quant.method=maxabs", "quant.bits=4", "trainer.epochs=15"])
    return Path(train(cfg, out_dir=run_dir_for(cfg, root), device="cpu", progress=False).run_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="a run directory (default: train one)")
    parser.add_argument("--images", type=int, default=200, help="images per planning chip, nested design")
    parser.add_argument("--chips", type=int, default=20, help="planning chips (the plan's default)")
    parser.add_argument("--voltages", default="1.0,0.95,0.9,0.85,0.8,0.75", help="the grid, comma-separated")
    parser.add_argument("--budget", type=float, default=1.0, help="accuracy points the plan may lose")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (both runs alike)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    grid = [float(v) for v in args.voltages.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = load_run(args.run if args.run is not None else digits_run(root / "runs"), device="cpu")
        n_test = len(run.data.test_tensors()[1])
        print(f"{run.config.model.name} {run.config.quant.bits}-bit {run.config.quant.method} on "
              f"{run.config.data.name} ({n_test} test images), chandramoorthy14, per-layer domains, "
              f"{args.chips} planning chips, grid {grid}, {torch.get_num_threads()} thread(s)")  # fmt: skip
        seconds: dict[str, list[tuple[float, float]]] = {"all": [], "nested": []}
        plans = {}
        for i, design in enumerate(("all", "nested", "nested", "all")):
            images = "all" if design == "all" else args.images
            settings = PlanSettings(planning_chips=args.chips, verification_chips=1, max_verification_sets=1,
                                    budget=args.budget, images=images)  # fmt: skip
            spent, plan = timed_plan(run, grid, settings, True, root / f"plan_{i}")
            seconds[design].append(spent)
            plans[design] = plan
            print(f"  run {i + 1}: images={images!s:5} {spent[0]:.2f} s wall, {spent[1]:.2f} s CPU, "
                  f"{plan.search_info['evaluations']} chip reads, {len(plan.sensitivity)} sensitivity points")
    whole = {(r["domain"], r["voltage"]): r["acc_mean"] for r in plans["all"].sensitivity}
    nested = {(r["domain"], r["voltage"]): r["acc_mean"] for r in plans["nested"].sensitivity}
    shared = sorted(set(whole) & set(nested))
    gap = max((abs(nested[k] - whole[k]) for k in shared), default=float("nan"))
    same = plans["all"].voltages == plans["nested"].voltages
    print(f"curves: {len(shared)} points in both, largest |nested - whole| {gap:.3f} points; plans "
          f"{'the same' if same else 'differ'}: all {plans['all'].voltages}, "
          f"images={args.images} {plans['nested'].voltages}")  # fmt: skip
    wall = {k: sum(w for w, _ in v) / 2 for k, v in seconds.items()}
    cpu = {k: sum(c for _, c in v) / 2 for k, v in seconds.items()}
    print(f"sensitivity stage, mean of 2: images=all {wall['all']:.2f} s wall / {cpu['all']:.2f} s CPU, "
          f"images={args.images} {wall['nested']:.2f} s wall / {cpu['nested']:.2f} s CPU; wall ratio "
          f"{wall['all'] / wall['nested']:.2f}")  # fmt: skip
    print(f"plan_images: ratio={cpu['all'] / cpu['nested']:.2f}")


if __name__ == "__main__":
    main()
