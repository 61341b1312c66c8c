"""Faster CPU forwards for fault evaluation (issue 18 §6): torch.compile, oneDNN and threads, measured.

Each model is timed on the evaluation path wcatsim uses (``ModelMemory.loaded`` = ``run_from_image`` on
the clean model, channels_last, ``torch.inference_mode``), one realisation after another, each reading
its own faulty weights (transient faults at BER 1e-3, seeds 0, 1, ...) -- so a compiled model that
recompiles for new weights pays for it here.  Variants, side by side in one run on the same images and
the same reads:

* ``eager``: today's path (channels_last, torch's default threads);
* ``eager-nchw``: the same with contiguous (NCHW) inputs;
* ``eager-1thread``: ``torch.set_num_threads(1)``;
* ``mkldnn-off``: ``torch.backends.mkldnn`` disabled (the oneDNN convolutions off: ATen's own kernels);
* ``compile``: ``torch.compile(model)`` (inductor, default mode; gcc builds its C++ kernels); its first
  call's seconds (the compile) are printed apart and counted in ``amortised``, the seconds per
  realisation over the realisations run.  Inductor caches compiled kernels on disk; the benchmark uses a
  fresh cache (what a first run pays) unless ``--warm-cache`` (what a later run of the same model pays).
* ``batched-4``: four realisations in one forward (``wcatsim.memory.batched``), seconds per realisation.

``ratio`` = eager seconds / variant seconds per realisation (steady state: median after the first
call); ``max|dlogit|`` = the largest logit difference from eager on the same read, against the tolerance
``1e-5 + 1e-5 x max|logit|`` (``wcatsim.memory.batched.LOGIT_ATOL``/``LOGIT_RTOL``).  A variant is
worth keeping when its ratio is above 1 with compile time counted and its logits are within tolerance.

Models: ResNet-20 (CIFAR layout, 4-bit, untrained, 32 px, 256 images in batches of 64: the
evaluator's CPU batch for 32 px) and ResNet-18 (ImageNet layout, 4-bit, untrained, 224 px, 16 images in
batches of 16).  ``--short`` uses fewer realisations and images and skips ResNet-18's compile (under
~3 minutes on two busy cores); ``--short --skip-resnet20 --compile-resnet18`` times ResNet-18's compile.
Prints the load average (``os.getloadavg``) at the start and the end.
Last line: ``forward: resnet20 compile_steady_ratio=R compile_breakeven=N best_amortised=NAME:R resnet18
[compile_...] best_amortised=NAME:R`` (N: realisations after which compiling has paid for
its compile time, from the measured first-call and steady seconds; best_amortised: the best variant
within tolerance over the realisations run, compile time counted).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as wcatsim sets it (wcatsim/cli/main.py)


def _model(name: str, size: int):
    import torch

    from wcatsim.train.models import build_model
    from wcatsim.train.quant import QuantConfig, quantize

    torch.manual_seed(0)
    return quantize(build_model(name, 10, 3, size), QuantConfig(method="wcat", bits=4)).eval()


def _forward(model, batches):  # -> torch.Tensor (imported lazily)
    import torch

    with torch.inference_mode():
        return torch.cat([model(b) for b in batches])


def measure(name: str, size: int, images: int, batch: int, realisations: int, compile_too: bool
            ) -> list[dict]:
    """Rows (variant, first-call s, steady s per realisation, amortised s, max logit difference)."""
    import torch

    from wcatsim.memory.batched import LOGIT_ATOL, LOGIT_RTOL, logits_batched, stacked_weights
    from wcatsim.memory.evaluator import ModelMemory, make_flip_model

    model = _model(name, size)
    memory = ModelMemory(model)
    fault = make_flip_model("transient", 1e-3)
    reads = [memory.corrupt(fault, seed).codes for seed in range(realisations)]
    x = torch.randn(images, 3, size, size, generator=torch.Generator().manual_seed(1))
    nhwc = [x[s : s + batch].contiguous(memory_format=torch.channels_last) for s in range(0, images, batch)]
    nchw = [x[s : s + batch].contiguous() for s in range(0, images, batch)]
    threads = torch.get_num_threads()

    def run(fn: Callable[[], torch.Tensor]) -> tuple[list[float], list[torch.Tensor]]:
        seconds, logits = [], []
        for codes in reads:
            with memory.loaded(codes) as loaded:
                started = time.perf_counter()
                logits.append(fn(loaded))
                seconds.append(time.perf_counter() - started)
        return seconds, logits

    variants: dict[str, Callable] = {
        "eager": lambda m: _forward(m, nhwc),
        "eager-nchw": lambda m: _forward(m, nchw),
    }

    def one_thread(m):
        torch.set_num_threads(1)
        try:
            return _forward(m, nhwc)
        finally:
            torch.set_num_threads(threads)

    def mkldnn_off(m):
        with torch.backends.mkldnn.flags(enabled=False):
            return _forward(m, nhwc)

    variants["eager-1thread"] = one_thread
    variants["mkldnn-off"] = mkldnn_off
    if compile_too:
        compiled = torch.compile(model)
        variants["compile"] = lambda m: _forward(compiled, nhwc)
    results = {}
    for variant, fn in variants.items():
        results[variant] = run(fn)
    # four realisations per forward (the GPU path's batching, timed on CPU for the record)
    seconds, logits = [], []
    for start in range(0, len(reads), 4):
        group = reads[start : start + 4]
        started = time.perf_counter()
        weights = stacked_weights(memory, group)
        out = torch.cat([logits_batched(model, weights, b) for b in nhwc], dim=1)
        seconds.extend([(time.perf_counter() - started) / len(group)] * len(group))
        logits.extend(out)
    results["batched-4"] = (seconds, logits)

    reference = results["eager"][1]
    eager_steady = statistics.median(results["eager"][0][1:])
    rows = []
    for variant, (seconds, logits) in results.items():
        worst = max(float((a - b).abs().max()) for a, b in zip(logits, reference, strict=True))
        bound = LOGIT_ATOL + LOGIT_RTOL * max(float(r.abs().max()) for r in reference)
        steady = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
        rows.append({
            "model": name, "variant": variant, "first_s": seconds[0], "steady_s": steady,
            "amortised_s": sum(seconds) / len(seconds), "ratio": eager_steady / steady,
            "ratio_amortised": statistics.fmean(results["eager"][0]) / (sum(seconds) / len(seconds)),
            "max_dlogit": worst, "bound": bound,
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true",
                        help="fewer realisations and images; no ResNet-18 compile")
    parser.add_argument("--realisations", type=int, default=None)
    parser.add_argument("--skip-resnet20", action="store_true", help="time ResNet-18 only")
    parser.add_argument("--compile-resnet18", action="store_true", help="compile ResNet-18 in --short too")
    parser.add_argument("--warm-cache", action="store_true",
                        help="keep inductor's on-disk cache (default: a fresh one, the first compile's cost)")
    args = parser.parse_args(argv)
    if not args.warm_cache:  # a cached compile of the same graph takes seconds instead of a minute or more
        import tempfile

        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="wcatsim-inductor-")
    import torch

    realisations = args.realisations or (4 if args.short else 6)
    load = os.getloadavg()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (start)")
    started = time.perf_counter()
    rows = [] if args.skip_resnet20 else measure("resnet20", 32, 128 if args.short else 256, 64, realisations,
                                                  compile_too=True)
    rows += measure("resnet18", 224, 8 if args.short else 16, 8 if args.short else 16,
                    max(3, realisations - 2), compile_too=args.compile_resnet18 or not args.short)
    print(f"{'model':9} {'variant':14} {'first s':>8} {'steady s':>9} {'amort. s':>9} {'ratio':>6} "
          f"{'ratio am.':>9} {'max|dlogit|':>11} {'tolerance':>9}")
    for r in rows:
        print(f"{r['model']:9} {r['variant']:14} {r['first_s']:8.3f} {r['steady_s']:9.3f} "
              f"{r['amortised_s']:9.3f} {r['ratio']:6.2f} {r['ratio_amortised']:9.2f} "
              f"{r['max_dlogit']:11.3g} {r['bound']:9.3g}")
    load = os.getloadavg()
    elapsed = time.perf_counter() - started
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (end), {elapsed:.0f} s")

    def best(model: str) -> str:
        ok = [r for r in rows if r["model"] == model and r["max_dlogit"] <= r["bound"]]
        top = max(ok, key=lambda r: r["ratio_amortised"])
        return f"{top['variant']}:{top['ratio_amortised']:.2f}"

    def compiled(model: str) -> str:
        eager = [r for r in rows if r["model"] == model and r["variant"] == "eager"]
        done = [r for r in rows if r["model"] == model and r["variant"] == "compile"]
        if not done:
            return ""
        # realisations after which the compile has paid for itself: its one-off extra seconds (first
        # call beyond a steady one) over the seconds it saves per realisation (from the two rows)
        saved = eager[0]["steady_s"] - done[0]["steady_s"]
        breakeven = (done[0]["first_s"] - done[0]["steady_s"]) / saved if saved > 0 else float("inf")
        return f"compile_steady_ratio={done[0]['ratio']:.2f} compile_breakeven={breakeven:.0f} "

    parts = [f"{m} {compiled(m)}best_amortised={best(m)}" for m in ("resnet20", "resnet18")
             if any(r["model"] == m for r in rows)]
    print("forward: " + " ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
