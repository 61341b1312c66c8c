"""``make gpu-check``: the GPU path checked against the CPU on one machine, in one run (issue 11 §4).

Run from the checkout with the Python that has CUDA torch; it installs nothing and needs no network:

    PYTHONPATH=. python3 scripts/gpu_check.py            # what `make gpu-check` runs (GPU_PYTHON=...)

1. the GPU-marked tests (``pytest -m gpu``), when pytest is there;
2. one small trained model (the built-in default: a 4-bit WCAT small CNN on the embedded digits,
   trained here on the CPU, or ``--run DIR``), then ``wcatsim random-flip`` at three BERs with the same
   seeds on the CPU and on the GPU: mean accuracies side by side with their 95% CIs (they must agree
   within them: same faults, only float rounding differs) and how many realisations gave the very same
   accuracy;
3. one BFA trial on each: the first flip where the two attacks diverge, if they do (float rounding
   can reorder near-equal gradients; a divergence is reported, not a failure);
4. the GPU/CPU speed ratio of one realisation (CPU seconds / GPU seconds), on that model and on an
   untrained 4-bit ResNet-20 over 500 CIFAR-shaped synthetic images;
5. several realisations in one batched forward (``montecarlo.batch_realisations``, issue 18 §6) on
   both models: the same 16 fault draws one by one on the CPU, one by one on the GPU and 8 at a time
   batched on the GPU; seconds per realisation of each, how many accuracies are identical, and the
   largest logit difference batched - one-by-one on the GPU against its recorded tolerance (beyond it
   the check fails).

Every command runs as ``python -m wcatsim.cli.main ...`` from the checkout (``PYTHONPATH=.``); on CUDA wcatsim
turns TF32 off and deterministic algorithms on (``wcatsim.train.evaluate.configure_cuda``). Exit status 1 when
a test fails or a BER's accuracies disagree beyond their CIs. ``--dry-run`` runs every step that needs no
GPU with the CPU in both columns (what the default test suite checks).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
BERS = (1e-2, 3e-2, 5e-2)  # where a 4-bit digits CNN loses accuracy measurably (issue 4's evidence)
SAMPLES = 30  # realisations per BER and device: a CI of about one accuracy point at 3e-2
BFA_FLIPS = 40  # flip budget of the BFA trial (a 4-bit digits CNN breaks within tens of flips)
SPEED_REALISATIONS = 10
# Step 5: realisations per batched forward, and realisations compared (two batched forwards' worth).
BATCH_REALISATIONS = 8
BATCHED_REALISATIONS = 16
TRAIN_EPOCHS = 10
COMMAND_TIMEOUT_S = 300

# A runner takes CLI arguments and returns (exit code, stdout + stderr).
Runner = Callable[[Sequence[str]], tuple[int, str]]


def subprocess_runner(args: Sequence[str]) -> tuple[int, str]:
    """``python -m wcatsim.cli.main ARGS`` from the checkout, with this interpreter."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS (set before CUDA starts)
    done = subprocess.run([sys.executable, "-m", "wcatsim.cli.main", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    return done.returncode, done.stdout + done.stderr


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def compare_points(cpu: list[dict[str, str]], gpu: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Per BER: both means and CIs, and whether they agree (each mean inside the other's CI, i.e. the
    difference is within the sum of the half-widths and the intervals overlap)."""
    out = []
    by_ber = {float(r["ber"]): r for r in gpu}
    for row in cpu:
        ber = float(row["ber"])
        other = by_ber[ber]
        a, b = float(row["acc_mean"]), float(other["acc_mean"])
        a_lo, a_hi = float(row["ci_low"]), float(row["ci_high"])
        b_lo, b_hi = float(other["ci_low"]), float(other["ci_high"])
        agree = a_lo <= b_hi and b_lo <= a_hi
        out.append({"ber": ber, "cpu": a, "cpu_ci": (a_lo, a_hi), "gpu": b, "gpu_ci": (b_lo, b_hi),
                    "agree": agree})
    return out


def identical_realisations(cpu: list[dict[str, str]], gpu: list[dict[str, str]]) -> tuple[int, int]:
    """(realisations with exactly the same accuracy, realisations compared), matched by BER and seed."""
    key = {(r["ber"], r["seed"]): r["accuracy"] for r in gpu}
    same = sum(1 for r in cpu if key.get((r["ber"], r["seed"])) == r["accuracy"])
    return same, len(cpu)


def first_divergence(cpu: list[dict[str, str]], gpu: list[dict[str, str]]) -> str:
    """Where two BFA flip tables part: the first flip (1-based) whose layer, weight or bit differs."""
    for i, (a, b) in enumerate(zip(cpu, gpu, strict=False)):
        if (a["layer"], a["index"], a["bit"]) != (b["layer"], b["index"], b["bit"]):
            return (f"first divergence at flip {i + 1}: cpu {a['layer']}[{a['index']}] bit {a['bit']}, "
                    f"gpu {b['layer']}[{b['index']}] bit {b['bit']}")
    if len(cpu) != len(gpu):
        return f"same flips for the first {min(len(cpu), len(gpu))}; cpu made {len(cpu)}, gpu {len(gpu)}"
    return f"no divergence: the same {len(cpu)} flips in the same order"


def realisation_seconds(run: Any, n: int, ber: float) -> float:
    """Median seconds of one realisation (fault draw + evaluation of the test set) on the run's device."""
    from wcatsim.memory.evaluator import FaultEvaluator, make_flip_model

    evaluator = FaultEvaluator.for_run(run)
    fault = make_flip_model("transient", ber)
    evaluator.evaluate(evaluator.memory.corrupt(fault, 10_000).codes)  # warm-up (CUDA kernels, caches)
    times = []
    for i in range(n):
        started = time.perf_counter()
        evaluator.evaluate(evaluator.memory.corrupt(fault, i).codes)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def check_runs(run_dir: Path, devices: tuple[str, str], resnet: bool = True) -> list[tuple[str, list[Any]]]:
    """(what, [run on each device]): the small trained model and (``resnet``) an untrained 4-bit ResNet-20
    over the CIFAR-shaped synthetic test set (the same weights on both devices)."""
    import torch

    from wcatsim.config import load_config
    from wcatsim.train.runs import LoadedRun, build_model_for, load_dataset_for, load_run

    small = [load_run(run_dir, device=d) for d in devices]
    out: list[tuple[str, list[Any]]] = [("trained small model", small)]
    if not resnet:
        return out
    cfg = load_config([], ["model.name=resnet20", "data.name=synthetic_cifar", "quant.method=wcat"])
    data = load_dataset_for(cfg)
    torch.manual_seed(0)
    model = build_model_for(cfg, data).eval()
    runs = []
    for d in devices:
        dev = torch.device(d)
        copy = copy_module(model).to(dev)
        runs.append(LoadedRun(model=copy, config=cfg, data=data, dir=run_dir, device=dev))
    out.append((f"resnet20 (untrained), {len(data.test)} CIFAR-shaped images", runs))
    return out


def copy_module(model: Any) -> Any:
    import copy

    return copy.deepcopy(model)


def speed_ratios(run_dir: Path, devices: tuple[str, str], n: int, resnet: bool = True
                 ) -> list[tuple[str, float, float]]:
    """(what, cpu seconds, gpu seconds) per realisation: the small trained model and (``resnet``) an
    untrained ResNet-20."""
    out = []
    for what, runs in check_runs(run_dir, devices, resnet):
        count = n if what.startswith("trained") else max(3, n // 3)
        ber = BERS[1] if what.startswith("trained") else 1e-3
        out.append((what, *(realisation_seconds(r, count, ber) for r in runs)))
    return out


def batched_comparison(run: Any, cpu_run: Any, n: int, batch: int, ber: float) -> dict[str, Any]:
    """Realisations 0..n-1 (the same faults everywhere) one by one on the CPU, one by one on the run's
    device, and ``batch`` at a time in one batched forward there (``FaultEvaluator.evaluate_many``).

    Returns seconds per realisation of each, how many accuracies are identical (batched against
    one-by-one on the device, and against the CPU), the largest batched - one-by-one logit difference
    on the device (first batch of reads, first 256 images) and the tolerance it is held to
    (:data:`wcatsim.memory.batched.LOGIT_ATOL` + ``LOGIT_RTOL`` x max|logit|).
    """
    import torch

    from wcatsim.memory.batched import LOGIT_ATOL, LOGIT_RTOL, logits_batched, stacked_weights
    from wcatsim.memory.evaluator import FaultEvaluator, make_flip_model

    device, cpu = FaultEvaluator.for_run(run), FaultEvaluator.for_run(cpu_run)
    fault = make_flip_model("transient", ber)
    reads = [cpu.memory.corrupt(fault, seed).codes for seed in range(n)]
    device.evaluate(reads[0])  # warm-up (CUDA kernels, caches)
    device.evaluate_many(reads[:batch])

    def timed(fn: Callable[[], list[Any]]) -> tuple[list[Any], float]:
        if device.device_type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        result = fn()
        return result, (time.perf_counter() - started) / n

    on_cpu, cpu_s = timed(lambda: [cpu.evaluate(codes)[0] for codes in reads])
    single, single_s = timed(lambda: [device.evaluate(codes)[0] for codes in reads])
    batched, batched_s = timed(lambda: [acc for start in range(0, n, batch)
                                        for acc, _, _ in device.evaluate_many(reads[start : start + batch])])
    first = reads[:batch]
    x = device.x[:256] if device.x is not None else None
    worst = bound = 0.0
    if x is not None:
        plain = []
        with torch.inference_mode():
            for codes in first:
                with device.memory.loaded(codes) as model:
                    plain.append(model.eval()(x).cpu())
        reference = torch.stack(plain)
        folded = logits_batched(device.memory.model, stacked_weights(device.memory, first), x)
        worst = float((folded - reference).abs().max())
        bound = LOGIT_ATOL + LOGIT_RTOL * float(reference.abs().max())
    return {
        "cpu_s": cpu_s, "single_s": single_s, "batched_s": batched_s,
        "same_as_single": sum(a == b for a, b in zip(batched, single, strict=True)),
        "same_as_cpu": sum(a == b for a, b in zip(batched, on_cpu, strict=True)),
        "mean_single": statistics.fmean(single), "mean_batched": statistics.fmean(batched),
        "mean_cpu": statistics.fmean(on_cpu), "worst_logit": worst, "logit_bound": bound, "n": n,
    }


def main(argv: Sequence[str] | None = None, runner: Runner | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="no GPU: the CPU in both columns")
    parser.add_argument("--work", type=Path, default=None, help="folder for runs and tables (default: temp)")
    parser.add_argument("--run", type=Path, default=None, help="a trained run to check (copied, not written)")
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--bfa-flips", type=int, default=BFA_FLIPS)
    parser.add_argument("--speed-realisations", type=int, default=SPEED_REALISATIONS)
    parser.add_argument("--skip-tests", action="store_true", help="do not run pytest -m gpu")
    parser.add_argument("--no-resnet", action="store_true", help="time the small model only")
    parser.add_argument("--batch", type=int, default=BATCH_REALISATIONS,
                        help="realisations per batched forward (step 5)")
    parser.add_argument("--batched-realisations", type=int, default=BATCHED_REALISATIONS,
                        help="realisations compared batched against one by one (step 5)")
    args = parser.parse_args(argv)
    runner = runner or subprocess_runner
    started = time.perf_counter()

    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    gpu = "cpu" if args.dry_run else "cuda"
    cuda = f"available: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "not available"
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, CUDA {cuda}")
    if not args.dry_run and not torch.cuda.is_available():
        print("error: no CUDA GPU here (torch.cuda.is_available() is False); --dry-run checks the CPU side")
        return 2
    failures = []

    # 1. GPU-marked tests
    if args.dry_run or args.skip_tests:
        print("1. GPU-marked tests: skipped (" + ("dry run" if args.dry_run else "--skip-tests") + ")")
    else:
        try:
            import pytest  # noqa: F401
        except ImportError:
            print("1. GPU-marked tests: pytest is not installed for this python; skipped")
        else:
            pytest_args = ["-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", str(REPO / "tests")]
            done = subprocess.run([sys.executable, *pytest_args], cwd=REPO, capture_output=True, text=True,
                                  timeout=COMMAND_TIMEOUT_S, check=False,
                                  env=dict(os.environ, PYTHONPATH=str(REPO)))
            tail = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
            print(f"1. GPU-marked tests: {tail}")
            if done.returncode not in (0, 5):  # 5: nothing collected
                failures.append("GPU-marked tests")
                print(done.stdout[-4000:])

    with tempfile.TemporaryDirectory(prefix="wcatsim-gpu-check-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        # 2. one small trained model, random flips on both devices
        base = work / "run"
        if args.run is not None:
            if not base.exists():
                shutil.copytree(args.run, base)
        else:
            code, text = runner(["train", "--set", f"trainer.epochs={TRAIN_EPOCHS}", "--out", str(base),
                                 "--device", "cpu", "--quiet"])
            if code != 0:
                print(f"error: training the small model failed:\n{text}")
                return 1
        devices = ("cpu", gpu)
        tables = {}
        for d, label in zip(devices, ("cpu", "gpu"), strict=True):
            out = work / f"random_flip_{label}.csv"
            code, text = runner(["random-flip", "--run", str(base), "--ber", ",".join(map(str, BERS)),
                                 "--samples", str(args.samples), "--per-realisation", "--out", str(out),
                                 "--device", d, "--quiet"])
            if code != 0:
                print(f"error: random-flip on {d} failed:\n{text}")
                return 1
            tables[label] = (read_rows(out), read_rows(out.with_name(out.stem + "_realisations.csv")))
        print(f"2. random-flip, {args.samples} realisations per BER, same seeds "
              f"({devices[0]} | {devices[1]}):")
        print(f"   {'ber':>6}  {'cpu mean':>8} {'95% CI':>15}  {'gpu mean':>8} {'95% CI':>15}  agree")
        for p in compare_points(tables["cpu"][0], tables["gpu"][0]):
            print(f"   {p['ber']:>6g}  {p['cpu']:8.2f} [{p['cpu_ci'][0]:6.2f},{p['cpu_ci'][1]:6.2f}]  "
                  f"{p['gpu']:8.2f} [{p['gpu_ci'][0]:6.2f},{p['gpu_ci'][1]:6.2f}]  "
                  f"{'yes' if p['agree'] else 'NO'}")
            if not p["agree"]:
                failures.append(f"random-flip at BER {p['ber']:g}")
        same, total = identical_realisations(tables["cpu"][1], tables["gpu"][1])
        print(f"   identical accuracy in {same} of {total} realisations (the rest differ by float rounding)")

        # 3. one BFA trial on each device (each on its own copy: bfa writes into the run directory)
        flips = {}
        for d, label in zip(devices, ("cpu", "gpu"), strict=True):
            copy = work / f"run_bfa_{label}"
            if copy.exists():
                shutil.rmtree(copy)
            shutil.copytree(base, copy)
            code, text = runner(["bfa", "--run", str(copy), "--trials", "1", "--max-flips",
                                 str(args.bfa_flips), "--device", d, "--no-progress"])
            if code != 0:
                print(f"error: bfa on {d} failed:\n{text}")
                return 1
            flips[label] = read_rows(copy / "bfa_flips.csv")
        parted = first_divergence(flips["cpu"], flips["gpu"])
        print(f"3. BFA, one trial ({args.bfa_flips} flips at most): {parted}")

        # 4. speed of one realisation
        print("4. seconds per realisation (median), GPU/CPU speed ratio = CPU seconds / GPU seconds:")
        for what, cpu_s, gpu_s in speed_ratios(base, devices, args.speed_realisations, not args.no_resnet):
            print(f"   {what}: cpu {cpu_s:.4f} s, gpu {gpu_s:.4f} s, ratio {cpu_s / gpu_s:.2f}")

        # 5. several realisations in one batched forward against one at a time, and against the CPU
        print(f"5. batched realisations ({args.batch} per forward) on {devices[1]} against one by one there "
              f"and on {devices[0]}, {args.batched_realisations} realisations, same faults:")
        for what, (cpu_run, gpu_run) in check_runs(base, devices, not args.no_resnet):
            ber = BERS[1] if what.startswith("trained") else 1e-3
            c = batched_comparison(gpu_run, cpu_run, args.batched_realisations, args.batch, ber)
            within = c["worst_logit"] <= c["logit_bound"]
            speedup = c["single_s"] / c["batched_s"]
            print(f"   {what}: s/realisation cpu {c['cpu_s']:.4f}, gpu one-by-one {c['single_s']:.4f}, "
                  f"gpu batched {c['batched_s']:.4f} (batched speed-up {speedup:.2f}x)")
            print(f"     identical accuracies: batched = gpu one-by-one in {c['same_as_single']} of "
                  f"{c['n']}, = cpu in {c['same_as_cpu']} of {c['n']}; means cpu {c['mean_cpu']:.3f}, "
                  f"one-by-one {c['mean_single']:.3f}, batched {c['mean_batched']:.3f}")
            print(f"     largest logit difference batched - one-by-one: {c['worst_logit']:.3g} "
                  f"(tolerance {c['logit_bound']:.3g}): {'within' if within else 'BEYOND'}")
            if not within:
                failures.append(f"batched logits on {what}")
    verdict = "FAILED: " + ", ".join(failures) if failures else "passed"
    print(f"gpu-check {verdict} ({'dry run, ' if args.dry_run else ''}{time.perf_counter() - started:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
