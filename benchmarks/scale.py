"""Memory and time of a fault point on an ImageNet-sized network over streamed images (issue 11 §3).

One random-flip point (5 transient realisations at BER 1e-3, the sweep's own realisation task,
``wcatsim.experiments.montecarlo.tasks.FlipTask``) on a 4-bit max-abs ``resnet18`` (11.7 M weights;
``--model`` picks another registry model or a factory file), untrained
(seeded initialisation: memory and time do not depend on the weights' values), over an imagefolder of
generated 224 x 224 JPEGs (8 classes), streamed (``data.stream = true``, 2 DataLoader workers) at batch
64: once with 512 images, once with 2,048, each in a fresh child process.

Memory is the proportional set size (PSS, /proc/PID/smaps_rollup) summed over the child process and its
loader workers, polled every 20 ms: resident memory with every shared page counted once (a plain sum of
RSS would count the pages a forked worker shares with its parent twice; it is printed beside it). The
baseline is the child's PSS after importing torch and wcatsim, counting as imported the code wcatsim
imports lazily on this path (SciPy; numba and sram_models' kernels, loaded from numba's cache): ~150
MiB that do not depend on the model or the images (``_load_code``). The ratio against the bare imports
is printed too.

- rss_ratio = (peak - baseline at 2,048 images) / (float parameter bytes + packed image bytes +
  64 x (input + largest activation) bytes), the activation being the largest output of any module for
  one image: what the evaluation must hold at the least. Goal <= 2.5.
- stream_growth = (peak - baseline at 2,048 images) / (peak - baseline at 512 images): 1 when memory
  does not grow with the number of images. Goal <= 1.1. (Peaks above the baseline, the stricter form.)
- realisation_s: median seconds of one realisation (fault draw, unpack, one pass over the 2,048 images).

Linux only (/proc). Timing on a shared machine is noisy: rerun on an idle one. Last line:
``scale: rss_ratio=X stream_growth=G realisation_s=Y``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the wcatsim command sets it

CLASSES = 8
SIZE = 224  # the generated JPEGs are already 224 x 224: resize 224, centre crop 224
POLL_S = 0.02


# ---------------------------------------------------------------- memory of a process tree (/proc)


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(p) for p in fh.read().split())
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(_children(p))
    return found


def _kb(pid: int, field: str, name: str) -> int:
    try:
        with open(f"/proc/{pid}/{name}") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_memory(pid: int) -> tuple[int, int, int]:
    """(PSS sum, RSS sum, number of processes) in bytes over ``pid`` and its descendants."""
    pids = _tree(pid)
    pss = sum(_kb(p, "Pss", "smaps_rollup") for p in pids)
    rss = sum(_kb(p, "VmRSS", "status") for p in pids)
    return 1024 * pss, 1024 * rss, len(pids)


class PeakMonitor:
    """Polls :func:`tree_memory` of this process in a thread and keeps the peaks."""

    def __init__(self) -> None:
        self.peak_pss = self.peak_rss = self.most_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pss, rss, n = tree_memory(os.getpid())
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
            self.most_processes = max(self.most_processes, n)
            self._stop.wait(POLL_S)

    def __enter__(self) -> PeakMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------- the data


def write_jpegs(root: Path, n: int, seed: int = 0) -> Path:
    """``n`` generated 224 x 224 JPEGs in ``root/val/<class>/`` (a smooth random colour field plus noise)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(n):
        c = i % CLASSES
        folder = root / "val" / f"n{c:07d}"
        folder.mkdir(parents=True, exist_ok=True)
        coarse = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize(
            (SIZE, SIZE), Image.Resampling.BILINEAR
        )
        noise = rng.normal(0, 12, (SIZE, SIZE, 3))
        pixels = np.clip(np.asarray(coarse, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"img_{i:05d}.JPEG", quality=90)
    return root


# ---------------------------------------------------------------- one measurement (child process)


def measure(root: Path, model_name: str, realisations: int, ber: float, batch: int, workers: int) -> dict:
    import torch  # noqa: F401 - part of the baseline

    import wcatsim.experiments.montecarlo.tasks  # noqa: F401
    import wcatsim.memory.evaluator  # noqa: F401
    import wcatsim.train.datasets  # noqa: F401

    imports_pss, _, _ = tree_memory(os.getpid())
    _load_code()
    baseline_pss, baseline_rss, _ = tree_memory(os.getpid())
    with PeakMonitor() as monitor:
        result = _point(root, model_name, realisations, ber, batch, workers)
    result.update(
        imports_pss=imports_pss, baseline_pss=baseline_pss, baseline_rss=baseline_rss,
        peak_pss=monitor.peak_pss, peak_rss=monitor.peak_rss, processes=monitor.most_processes,
    )  # fmt: skip
    return result


def _load_code() -> None:
    """Load the code wcatsim loads lazily on this path: the modules that import SciPy, and numba with
    sram_models' compiled kernels read from numba's cache (one pack and one fault pass on a 64-weight
    image). About 150 MiB of libraries and LLVM's JIT, the same for every model and image count: code
    like torch's, not memory the evaluation's data takes, so it belongs to the baseline (wcatsim defers
    these imports only so that ``wcatsim --help`` stays fast)."""
    import numpy as np

    import wcatsim.config  # noqa: F401
    import wcatsim.train.quant  # noqa: F401
    import wcatsim.train.runs  # noqa: F401 - imports SciPy
    from sram_models import MemoryImage, WordLayout, make_fault_model

    image = MemoryImage.pack({"w": np.zeros(64, dtype=np.int16)}, WordLayout(bits=4, word_bits=64))
    make_fault_model("transient", ber=0.25).corrupt(image, seed=0)


def _point(root: Path, model_name: str, realisations: int, ber: float, batch: int, workers: int) -> dict:
    import torch

    from wcatsim.config import load_config
    from wcatsim.experiments.montecarlo.tasks import EvalSpec, FlipTask, register, unregister
    from wcatsim.memory.evaluator import FaultEvaluator
    from wcatsim.train.quant import quantize
    from wcatsim.train.runs import LoadedRun, build_float_model, load_dataset_for

    cfg = load_config([], [
        f"model.name={json.dumps(model_name)}", "data.name=imagefolder", f"data.root={json.dumps(str(root))}",
        f"data.resize={SIZE}", f"data.image_size={SIZE}", "data.stream=true", f"data.workers={workers}",
        "quant.method=maxabs", "quant.bits=4",
    ])  # fmt: skip
    data = load_dataset_for(cfg)
    torch.manual_seed(0)
    float_model = build_float_model(cfg, data).eval()
    param_bytes = sum(4 * p.numel() for p in float_model.parameters())
    largest = _largest_activation(float_model, data)
    model = quantize(float_model, cfg.quant).eval()  # the config's 4-bit maxabs
    run = LoadedRun(model=model, config=cfg, data=data, dir=root, device=torch.device("cpu"))
    started = time.perf_counter()
    evaluator = FaultEvaluator.for_run(run, batch_size=batch)
    clean_s = time.perf_counter() - started
    spec = EvalSpec(run_dir=str(root), device="cpu", batch_size=batch)
    register(spec, evaluator)
    task = FlipTask(spec, "transient", ber, base_seed=0)
    seconds, accuracies = [], []
    try:
        for i in range(realisations):
            t = time.perf_counter()
            accuracies.append(task(i).accuracy)
            seconds.append(time.perf_counter() - t)
    finally:
        unregister(spec)
    return {
        "images": evaluator.n_images, "streamed": evaluator.streamed, "data": evaluator.data_description,
        "param_bytes": param_bytes, "packed_bytes": evaluator.memory.image.n_bits // 8,
        "input_bytes": 4 * 3 * SIZE * SIZE, "largest_activation_bytes": largest, "batch": batch,
        "weights": evaluator.memory.n_weights, "clean_s": clean_s, "realisation_s": seconds,
        "clean_acc": evaluator.clean_acc, "accuracies": accuracies,
    }  # fmt: skip


def _largest_activation(model, data) -> int:
    """Bytes of the largest output of any module of ``model`` for one image."""
    import torch

    largest = [0]

    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor):
            largest[0] = max(largest[0], output.numel() * output.element_size())

    handles = [m.register_forward_hook(hook) for m in model.modules() if m is not model]
    try:
        with torch.inference_mode():
            model(data.test[0][0].unsqueeze(0))
    finally:
        for h in handles:
            h.remove()
    return largest[0]


# ---------------------------------------------------------------- driver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet18",
                        help="registry model (default resnet18) or a factory file.py:function")
    parser.add_argument("--images", default="512,2048", help="the two image counts, small,large")
    parser.add_argument("--realisations", type=int, default=5)
    parser.add_argument("--ber", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", type=Path, default=None, help="keep the generated images here")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:  # one measurement, printed as JSON
        out = measure(args.child, args.model, args.realisations, args.ber, args.batch, args.workers)
        print(json.dumps(out))
        return 0

    from wcatsim.config.model_source import is_factory_name
    from wcatsim.train.models import MODEL_NAMES

    if args.model not in MODEL_NAMES and not is_factory_name(args.model):
        print(f"error: model {args.model!r} is not in this checkout's registry ({', '.join(MODEL_NAMES)}); "
              "pass e.g. --model resnet20, or a factory --model path/to/file.py:function", file=sys.stderr)
        return 2
    small, large = (int(v) for v in args.images.split(","))
    with tempfile.TemporaryDirectory(prefix="wcatsim-scale-") as tmp:
        base = args.data or Path(tmp)
        roots = {}
        for n in (small, large):
            roots[n] = base / f"images{n}"
            if not (roots[n] / "val").is_dir():
                t = time.perf_counter()
                write_jpegs(roots[n], n)
                print(f"wrote {n} JPEGs of {SIZE}x{SIZE} in {time.perf_counter() - t:.1f} s", flush=True)
        results = {}
        for n in (small, large):
            command = [sys.executable, __file__, "--child", str(roots[n]), "--model", args.model,
                       "--realisations", str(args.realisations), "--ber", str(args.ber),
                       "--batch", str(args.batch), "--workers", str(args.workers)]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            results[n] = json.loads(done.stdout.strip().splitlines()[-1])
            r = results[n]
            print(f"{n} images ({r['data']}): peak PSS {(r['peak_pss'] - r['baseline_pss']) / 2**20:.0f} MiB "
                  f"above the baseline {r['baseline_pss'] / 2**20:.0f} MiB (RSS sum "
                  f"{(r['peak_rss'] - r['baseline_rss']) / 2**20:.0f} MiB above "
                  f"{r['baseline_rss'] / 2**20:.0f};"
                  f" up to {r['processes']} processes); clean pass {r['clean_s']:.1f} s, realisations "
                  f"{', '.join(f'{s:.1f}' for s in r['realisation_s'])} s", flush=True)
    big = results[large]
    budget = big["param_bytes"] + big["packed_bytes"] + big["batch"] * (
        big["input_bytes"] + big["largest_activation_bytes"]
    )
    growth_large = big["peak_pss"] - big["baseline_pss"]
    growth_small = results[small]["peak_pss"] - results[small]["baseline_pss"]
    rss_ratio = growth_large / budget
    rss_ratio_imports = (big["peak_pss"] - big["imports_pss"]) / budget
    stream_growth = growth_large / growth_small
    realisation_s = statistics.median(big["realisation_s"])
    print(f"model {args.model} ({big['weights'] / 1e6:.2f} M weights, 4-bit maxabs): float parameters "
          f"{big['param_bytes'] / 2**20:.1f} MiB, packed image {big['packed_bytes'] / 2**20:.1f} MiB, "
          f"{big['batch']} x (input {big['input_bytes'] / 2**20:.2f} + largest activation "
          f"{big['largest_activation_bytes'] / 2**20:.2f}) MiB; budget {budget / 2**20:.0f} MiB")
    print(f"baseline: {big['baseline_pss'] / 2**20:.0f} MiB after importing torch and wcatsim and loading "
          f"the code wcatsim loads lazily (SciPy, numba and its cached kernels: "
          f"{(big['baseline_pss'] - big['imports_pss']) / 2**20:.0f} MiB); against the bare imports "
          f"({big['imports_pss'] / 2**20:.0f} MiB) rss_ratio would be {rss_ratio_imports:.2f}")
    print(f"goals: rss_ratio <= 2.5 ({'met' if rss_ratio <= 2.5 else 'NOT met'}), stream_growth <= 1.1 "
          f"({'met' if stream_growth <= 1.1 else 'NOT met'}); timings on a shared machine are noisy")
    print(f"scale: rss_ratio={rss_ratio:.2f} stream_growth={stream_growth:.3f} "
          f"realisation_s={realisation_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
