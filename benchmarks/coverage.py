"""Coverage of the adaptive stopping rule's 95% CI, against the paper's fixed 50-realisation protocol.

No model: each simulated sweep of one operating point is a row of seeded accuracies (percent) drawn
with numpy, and the project's own code decides and reports on it, exactly as a sweep does:
``StoppingRule(ci_half_width=0.5)`` with its default pilot (``min_samples``) and cap (``max_samples``)
picks the count N (``stop_count`` on the ordered values: the count a one-by-one run stops at), and
``rule.summarize(values[:N], bounds=(0, 100))`` gives the table's 95% CI (Stein's interval with
Hall's skew correction).  The fixed protocol is the Student-t ``summarize(values[:50], ...)`` on the
same rows.  A CI covers when it contains the case's true mean.  For reference, ``cov_tN`` is the
coverage of the plain Student-t interval of the same N values (Stein's count without the rule's CI).

Cases (at least 2,000 sweeps each, ``--sweeps``; 1000 with ``--quick``):
  normal      N(95, 0.5²)
  normal2     N(95, 2²) (the pilot's spread asks for Stein's second stage, which normal never reaches)
  collapse2   N(95, 0.5²) with probability 0.98, exactly 60 with probability 0.02 (a rare collapse)
  collapse5   the same with p = 0.05
  collapse10  the same with p = 0.10
  bimodal     90 or 99 with probability 1/2 each

Per case: the coverage of both (and ``cov_tN``), the mean realisations used, the adaptive rule's mean
CI half-width and the share of sweeps that hit the cap.  The simulation's standard error on a
coverage c is √(c(1 − c)/sweeps), about 0.01 at c = 0.65 and 2,000 sweeps.

``--confidence-sequence`` also measures the alternative the rule's docstring compares with: the
predictable plug-in empirical-Bernstein confidence sequence for values in [0, 100] (Waudby-Smith and
Ramdas, 2024, JRSS-B 86(1), Theorem 2 with c = 1/2; valid under optional stopping), stopped at the first
count whose running-intersection half-width is at most 0.5, on the normal case.

Replay on a per-image correctness matrix (``--matrix FILE.npz`` with ``correct``, realisations x images,
packed with ``numpy.packbits`` along images, ``images`` its column count and ``labels``; or ``--smoke``, a
small synthetic one): the true value is the mean over the whole matrix; each replay resamples rows
(realisations, with replacement) and, for the nested design, a stratified subset of columns per row
(:mod:`wcatsim.experiments.montecarlo.nested`, read many rows at once by ``benchmarks/replay.py``).
Protocols: the paper's (50 rows x every column), the adaptive rule (Stein on whole-row accuracies), the
nested design (``--nested-realisations`` rows x ``--nested-images`` columns, Student t over the subset
estimates) and the allocated design (below).  Coverage, images spent and mean half-width per protocol.
Every matrix in ``--recorded`` (default ``benchmarks/data``) is replayed too, except with ``--smoke`` alone.
``--record DIR``: train the embedded-digits maxabs and WCAT models with the project's ``train()`` at the
default recipe (4-bit, as the tests' digits runs; or reuse ``--runs DIR``'s run directories named by
method), draw ``--record-realisations`` (2,000) transient realisations (seeds as a random-flip sweep
draws them) at each of ``--record-bers`` (calm, knee, cliff per model: :data:`RECORD_BERS`, read off
the models' random-flip curves) and store each model x BER matrix over the whole test set (539 digits)
as DIR/<method>_<ber>.npz; the time taken is printed (``--record-only`` stops there).  The matrices in
``benchmarks/data`` were recorded so (2,000 x 539 each, 0.5 MB for all six).
``--record-resnet20 DIR``: train the benchmarks' ResNet-20 (``benchmarks/cifar_shaped.py``: 94.5% clean),
probe calm, knee and cliff (:func:`probe_regimes`) or take ``--resnet20-bers``, and record
``--resnet20-realisations`` (1,000) x ``--resnet20-images`` (1,000) per BER through the compiled forward
as DIR/resnet20_<ber>.npz, then stop (38 minutes on 2 shared cores for the three in benchmarks/data).

Allocated design (:mod:`wcatsim.experiments.montecarlo.allocation`), on every synthetic case: a
case's value is a realisation's whole-set accuracy on N = 10,000 images, read on n of them as a
hypergeometric draw; pilot, least-cost design at ``--cost-ratio`` (c_r / c_i in images, default 50, an
assumption of the benchmark) and Stein's rule at n, exactly as ``run_allocated``; coverage, median n,
mean realisations, mean half-width, mean images (pilot included) and the paper's 50 x N images over
that.  The replays on a matrix add the same design (``allocated``).  ``--quick``: 1000 sweeps per case
and 400 replays of the ``--smoke`` matrix and of every recorded one.

``--results FILE`` (default ``benchmarks/data/coverage_results.json``; written by every run that measures
the synthetic cases): every coverage measured, and ``allocated_min``, the allocated design's lowest
coverage over the synthetic cases and the recorded matrices (``benchmarks/time_to_table.py``'s
coverage_min).

Last line: ``coverage: adaptive_min=X fixed_min=Y normal=Z realisations_ratio=R allocated_min=A
allocated_images_ratio_min=I``
  adaptive_min: the lowest over the cases of (adaptive coverage − fixed coverage); goal >= −0.02;
  fixed_min:    the fixed protocol's lowest coverage (no goal: the paper's protocol as it is);
  normal:       the adaptive rule's coverage on the normal case; goal >= 0.93;
  R:            50 / the adaptive rule's mean realisations on the normal case (reported, no goal);
  allocated_min: the allocated design's lowest coverage over the cases; goal >= 0.93 (issue 18 §2);
  I:            the lowest over the cases of the paper's images / the allocated design's (pilot included).
"""

from __future__ import annotations

if __name__ != "__main__":
    # This script shares its name with the coverage.py package, and running any script of this folder
    # puts the folder first on sys.path: numba probes `import coverage` (for its coverage plugin) and
    # would get this file.  Refusing to be imported makes that probe see "not installed".
    raise ImportError("benchmarks/coverage.py is a script (python benchmarks/coverage.py), not a module")

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wcatsim.experiments.montecarlo.allocation import (  # noqa: E402
    PILOT_REALISATIONS,
    choose_design,
    final_stage,
    pilot_plan,
    variance_components,
)
from wcatsim.experiments.montecarlo.stats import summarize  # noqa: E402
from wcatsim.experiments.montecarlo.stopping import StoppingRule  # noqa: E402

HALF_WIDTH = 0.5  # accuracy points: the issue's --ci-half-width 0.5
FIXED = 50  # the paper's realisations per BER
BOUNDS = (0.0, 100.0)  # accuracy in percent, as the sweeps pass it to summarize
# The allocated design on the synthetic cases: each case's value is a realisation's whole-set accuracy on
# a test set of SYNTH_IMAGES images (the CIFAR-shaped 10,000 of issue 18 section 3), and a realisation read
# on n of them gives 100 * Hypergeometric(N, round(acc N / 100), n) / n (simple random sampling; the
# stratified estimator is only more precise).  Classes: 10, so n_min = 20.
SYNTH_IMAGES = 10_000
SYNTH_MIN_IMAGES = 20
# c_r / c_i (images) the synthetic cases' design uses: what a realisation's fixed cost (fault draw, codes
# into the model) is worth in images' forward passes.  The digits small CNN measured 26 to 50 on this
# machine (docs/montecarlo.md); --cost-ratio changes it.  It moves n, while coverage is decided mostly
# by the realisations (at least 200).
COST_RATIO = 50.0
# Recorded matrices (--record) and the results file (--results) live here.
DATA = Path(__file__).resolve().parent / "data"


def _collapse(p: float) -> Callable[[np.random.Generator, tuple[int, int]], np.ndarray]:
    def draw(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        values = rng.normal(95.0, 0.5, size=shape)
        values[rng.random(shape) < p] = 60.0
        return values

    return draw


def _normal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return rng.normal(95.0, 0.5, size=shape)


def _normal2(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return rng.normal(95.0, 2.0, size=shape)


def _bimodal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return np.where(rng.random(shape) < 0.5, 90.0, 99.0)


# name, sampler, true mean
CASES: list[tuple[str, Callable[[np.random.Generator, tuple[int, int]], np.ndarray], float]] = [
    ("normal", _normal, 95.0),
    ("normal2", _normal2, 95.0),
    ("collapse2", _collapse(0.02), 0.98 * 95.0 + 0.02 * 60.0),
    ("collapse5", _collapse(0.05), 0.95 * 95.0 + 0.05 * 60.0),
    ("collapse10", _collapse(0.10), 0.90 * 95.0 + 0.10 * 60.0),
    ("bimodal", _bimodal, 94.5),
]


def covers(values: np.ndarray, mean: float, rule: StoppingRule | None = None) -> tuple[bool, float]:
    """Whether the table's bounded 95% CI of ``values`` (the rule's, or Student t) contains ``mean``,
    and its half-width."""
    s = summarize(values, bounds=BOUNDS) if rule is None else rule.summarize(values, bounds=BOUNDS)
    return bool(s.ci_low <= mean <= s.ci_high), s.half_width


def run_case(rule: StoppingRule, draw, mean: float, sweeps: int, seed: int) -> dict[str, float]:
    """Coverage of the rule and of the fixed protocol on ``sweeps`` seeded sweeps of one case."""
    rng = np.random.default_rng(seed)
    rows = draw(rng, (sweeps, max(rule.most, FIXED)))
    fixed_hits = adaptive_hits = plain_hits = 0
    counts, widths = [], []
    for row in rows:
        n = rule.stop_count(row)
        if n is None:  # pragma: no cover - a row of rule.most values always decides
            raise AssertionError("the rule asked for more than rule.most values")
        hit, width = covers(row[:n], mean, rule)
        adaptive_hits += hit
        plain_hits += covers(row[:n], mean)[0]
        counts.append(n)
        widths.append(width)
        fixed_hits += covers(row[:FIXED], mean)[0]
    return {
        "adaptive": adaptive_hits / sweeps,
        "fixed": fixed_hits / sweeps,
        "plain": plain_hits / sweeps,
        "realisations": float(np.mean(counts)),
        "half_width": float(np.mean(widths)),
        "at_cap": float(np.mean(np.asarray(counts) == rule.max_samples)),
    }


def _subset_reads(rng: np.random.Generator, acc: np.ndarray, n: int,
                  total: int) -> tuple[np.ndarray, np.ndarray]:
    """Subset estimates of whole-set accuracies ``acc`` read on ``n`` of ``total`` images, and their
    image-sampling variance estimates (SRSWOR with the finite-population correction), percent and
    percent^2."""
    right = np.clip(np.rint(np.asarray(acc) / 100.0 * total), 0, total).astype(np.int64)
    if n >= total:
        return 100.0 * right / total, np.zeros(right.shape)
    p = rng.hypergeometric(right, total - right, n) / n
    return 100.0 * p, 1e4 * (1.0 - n / total) * p * (1.0 - p) / (n - 1)


def run_allocated_case(draw, mean: float, sweeps: int, seed: int, ratio: float,
                       total: int = SYNTH_IMAGES) -> dict[str, float]:
    """Coverage, realisations and images of the allocated design on ``sweeps`` points of one case.

    As :func:`wcatsim.experiments.montecarlo.allocation.run_allocated` does it: a pilot of 20 fresh
    realisations (10 on min(N, 1024) images, 10 on an eighth), the least-cost design for HALF_WIDTH at
    ``ratio``, then Stein's rule at n with the design's R as its first stage; the CI is that rule's.
    Images spent count the pilot's.
    """
    rng = np.random.default_rng(seed)
    sizes = np.asarray(pilot_plan(total, SYNTH_MIN_IMAGES))
    hits, counts, images, widths, chosen = 0, [], [], [], []
    for _ in range(sweeps):
        acc = draw(rng, (1, PILOT_REALISATIONS))[0]
        est, var = np.empty(len(sizes)), np.empty(len(sizes))
        for n in np.unique(sizes):
            at = sizes == n
            est[at], var[at] = _subset_reads(rng, acc[at], int(n), total)
        comp = variance_components(est, var, sizes, total)
        design = choose_design(HALF_WIDTH, comp, ratio, SYNTH_MIN_IMAGES, total)
        stage = final_stage(HALF_WIDTH, design.realisations)
        values, _ = _subset_reads(rng, draw(rng, (1, stage.max_samples))[0], design.images, total)
        n_stop = stage.stop_count(values)
        hit, width = covers(values[:n_stop], mean, stage)
        hits += hit
        counts.append(n_stop)
        widths.append(width)
        chosen.append(design.images)
        images.append(int(sizes.sum()) + n_stop * design.images)
    return {
        "coverage": hits / sweeps, "realisations": float(np.mean(counts)), "images": float(np.mean(images)),
        "n": float(np.median(chosen)), "half_width": float(np.mean(widths)),
    }  # fmt: skip


def eb_confidence_sequence(
    rows: np.ndarray, half_width: float, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """First count whose PrPl-EB running-intersection CS has half-width <= ``half_width`` (values in
    0..100; ``rows.shape[1]`` + 1 where none does) and the CS at that count, per row."""
    x = np.clip(rows / 100.0, 0.0, 1.0)
    h = half_width / 100.0
    n = x.shape[1]
    t = np.arange(1, n + 1, dtype=np.float64)
    mu = (0.5 + np.cumsum(x, axis=1)) / (t + 1)  # mu_hat_t
    var = (0.25 + np.cumsum((x - mu) ** 2, axis=1)) / (t + 1)  # sigma_hat^2_t
    mu_prev = np.concatenate([np.full((x.shape[0], 1), 0.5), mu[:, :-1]], axis=1)
    var_prev = np.concatenate([np.full((x.shape[0], 1), 0.25), var[:, :-1]], axis=1)
    log_term = math.log(2.0 / alpha)
    lam = np.minimum(np.sqrt(2.0 * log_term / (var_prev * t * np.log1p(t))), 0.5)
    psi = -np.log1p(-lam) - lam  # 4·psi_E(lambda); times v_t/4 below
    v = (x - mu_prev) ** 2
    sum_lam = np.cumsum(lam, axis=1)
    centre = np.cumsum(lam * x, axis=1) / sum_lam
    margin = (log_term + np.cumsum(v * psi, axis=1)) / sum_lam
    low = np.maximum.accumulate(np.maximum(centre - margin, 0.0), axis=1)
    high = np.minimum.accumulate(np.minimum(centre + margin, 1.0), axis=1)
    done = (high - low) / 2.0 <= h
    first = np.where(done.any(axis=1), done.argmax(axis=1), n)
    idx = np.minimum(first, n - 1)
    rows_idx = np.arange(x.shape[0])
    return first + 1, np.stack([100 * low[rows_idx, idx], 100 * high[rows_idx, idx]], axis=1)


def replay(correct: np.ndarray, labels: np.ndarray, replays: int, seed: int, nested_images: int,
           nested_rows: int, rule: StoppingRule,
           cost_ratio: float = COST_RATIO) -> dict[str, dict[str, float]]:
    """Coverage, mean images spent and mean half-width of the paper, adaptive, nested and allocated
    protocols on one matrix (allocated: pilot, least-cost design at ``cost_ratio``, Stein's rule at n;
    pilot images counted).

    ``correct``: realisations x images (bool), ``labels`` the images' classes.  The true value is the
    whole matrix's mean; each replay resamples rows with replacement, and every nested read a fresh
    class-stratified subset of columns (:func:`replay.read_rows`, the design of
    :mod:`wcatsim.experiments.montecarlo.nested`, vectorised over rows).
    """
    from replay import read_rows  # benchmarks/replay.py: this script's folder is first on sys.path

    rows_total, n_images = correct.shape
    whole = 100.0 * correct.mean(axis=1)
    truth = float(whole.mean())
    rng = np.random.default_rng(seed)
    names = ("paper", "adaptive", "nested", "allocated")
    hits = dict.fromkeys(names, 0)
    spent = dict.fromkeys(names, 0.0)
    widths: dict[str, list[float]] = {name: [] for name in names}
    n_min = int(np.minimum(np.unique(labels, return_counts=True)[1], 2).sum())
    sizes = np.asarray(pilot_plan(n_images, n_min))

    def tally(name: str, values: np.ndarray, stage: StoppingRule | None, images: float) -> None:
        hit, width = covers(values, truth, stage)
        hits[name] += hit
        widths[name].append(width)
        spent[name] += images

    for _ in range(replays):
        picks = rng.integers(0, rows_total, size=max(rule.most, FIXED, nested_rows))
        values = whole[picks]
        tally("paper", values[:FIXED], None, FIXED * n_images)
        n = rule.stop_count(values)
        tally("adaptive", values[:n], rule, n * n_images)
        estimates = read_rows(correct, labels, picks[:nested_rows], nested_images, rng)[0]
        tally("nested", estimates, None, nested_rows * min(nested_images, n_images))
        # the allocated design (wcatsim.experiments.montecarlo.allocation.run_allocated), fresh rows
        est, var = np.empty(sizes.size), np.empty(sizes.size)
        for size in np.unique(sizes):
            at = sizes == size
            est[at], var[at] = read_rows(correct, labels, rng.integers(0, rows_total, size=int(at.sum())),
                                         int(size), rng)  # fmt: skip
        comp = variance_components(est, var, sizes, n_images)
        design = choose_design(HALF_WIDTH, comp, cost_ratio, n_min, n_images)
        stage = final_stage(HALF_WIDTH, design.realisations)
        # as the engine runs it (run_point): the first stage, then what next_request asks for until it stops
        first = rng.integers(0, rows_total, size=stage.min_samples)
        values = read_rows(correct, labels, first, design.images, rng)[0]
        while (n_stop := stage.stop_count(values)) is None:
            more = stage.next_request(values.size, 1, values)
            values = np.concatenate([values, read_rows(
                correct, labels, rng.integers(0, rows_total, size=more), design.images, rng)[0]])
        tally("allocated", values[:n_stop], stage, float(sizes.sum() + n_stop * design.images))
    return {name: {"coverage": hits[name] / replays, "images": spent[name] / replays, "true": truth,
                   "half_width": float(np.mean(widths[name])), "paper_images": FIXED * n_images}
            for name in names}  # fmt: skip


def smoke_matrix(seed: int, rows: int = 400, images: int = 539) -> tuple[np.ndarray, np.ndarray]:
    """A small synthetic correctness matrix: 10 classes, 2% of rows collapsed to 10% correct."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=images)
    rate = rng.uniform(0.85, 0.99, size=(rows, 10))
    rate[rng.random(rows) < 0.02] = 0.1
    return rng.random((rows, images)) < rate[:, labels], labels


def load_matrix(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(correct, labels) from an .npz holding ``correct`` (packbits along axis 1), ``images``, ``labels``."""
    data = np.load(path)
    correct = np.unpackbits(data["correct"], axis=1, count=int(data["images"])).astype(bool)
    return correct, data["labels"].astype(np.int64)


# calm / knee / cliff of the default 4-bit digits models, from their random-flip curves (30 transient
# realisations per BER, seed 0, measured on this branch; mean accuracy % and std):
#   maxabs (clean 98.14): 3e-3 98.14 (0.50), 1e-2 96.44 (1.76), 2e-2 88.00 (5.84), 3e-2 75.78 (14.59),
#                         5e-2 48.60 (19.02), 7e-2 34.41 (14.66)
#   wcat   (clean 98.52): 3e-3 98.53 (0.41), 1e-2 98.23 (0.79), 2e-2 97.00 (1.88), 3e-2 91.97 (9.19, down
#                         to 55.7: a collapse mixture), 5e-2 86.52 (12.19), 7e-2 71.68 (16.72)
# calm: no mean drop; knee: the first BER dropping the mean by 5 to 10 points; cliff: a drop of 25 or more.
RECORD_BERS = {"maxabs": (3e-3, 2e-2, 5e-2), "wcat": (3e-3, 3e-2, 7e-2)}
REGIMES = ("calm", "knee", "cliff")


def parse_record_bers(text: str) -> dict[str, tuple[float, ...]]:
    """``--record-bers``: "METHOD:B1,B2,B3;METHOD:..." per quantizer, or "B1,B2,B3" for every one."""
    if ":" not in text:
        bers = tuple(float(b) for b in text.split(","))
        return {method: bers for method in RECORD_BERS}
    out = {}
    for part in text.split(";"):
        method, _, bers = part.partition(":")
        out[method.strip()] = tuple(float(b) for b in bers.split(","))
    return out


def record(out_dir: str, bers: dict[str, tuple[float, ...]] | list[float], realisations: int, seed: int,
           runs: str | None, methods: tuple[str, ...] = ("maxabs", "wcat")) -> list[str]:
    """Record per-image correctness matrices of the digits maxabs and WCAT models; return their paths.

    ``bers``: per method (calm, knee, cliff: :data:`RECORD_BERS`), or one list for every method.
    """
    from wcatsim.config import load_config
    from wcatsim.memory.evaluator import FaultEvaluator
    from wcatsim.store.runs import run_dir_for
    from wcatsim.train.runs import load_run
    from wcatsim.train.trainer import train

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for method in methods:
        cfg = load_config([], [f"quant.method={method}", "quant.bits=4"])
        if runs:
            run_dir = run_dir_for(cfg, Path(runs))
            if not Path(run_dir).exists():
                run_dir = train(cfg, out_dir=run_dir, device="cpu", progress=False).run_dir
        else:  # a temporary folder: the models' checkpoints do not belong beside the matrices
            import tempfile

            scratch = Path(tempfile.mkdtemp(prefix="coverage_record_"))
            run_dir = train(cfg, out_dir=run_dir_for(cfg, scratch), device="cpu", progress=False).run_dir
        evaluator = FaultEvaluator.for_run(load_run(run_dir, device="cpu"))
        method_bers = bers.get(method, ()) if isinstance(bers, dict) else tuple(bers)
        for position, ber in enumerate(method_bers):
            regime = REGIMES[position] if len(method_bers) == len(REGIMES) else ""
            paths.append(record_matrix(evaluator, out / f"{method}_{ber:g}.npz", method, ber, regime,
                                       realisations, seed))  # fmt: skip
    return paths


# Reads per batched forward while recording (wcatsim.memory.batched: the same predictions as one by one in
# this project's CPU tests; benchmarks/forward.py measured 4 the best amortised group on ResNet-20)
RECORD_GROUP = 4


def record_matrix(evaluator, path: Path, name: str, ber: float, regime: str, realisations: int,
                  seed: int) -> str:  # fmt: skip
    """Record ``realisations`` transient realisations at ``ber`` over every test image; return the path.

    Row r is the per-image correctness of the read ``transient_seed(seed, ber, r)`` (the seeds a
    random-flip sweep draws), packed with ``numpy.packbits`` along images; a read that changes no code is
    the clean row (the forward pass is deterministic).  Faulty reads go in groups of :data:`RECORD_GROUP`
    through one batched forward (``FaultEvaluator.correct_many``), or one by one through the compiled
    module after ``evaluator.compile_forward()`` (:func:`record_resnet20`: ResNet-20's compiled forward
    is about 3x the eager one on these CPUs, batched-4 1.75x, docs/performance.md; the predictions equal
    the eager ones in tests/memory/test_batched.py's compiled-path test).
    """
    import torch

    from wcatsim.experiments.montecarlo.seeds import transient_seed
    from wcatsim.memory.evaluator import make_flip_model

    started = time.perf_counter()
    every = np.arange(evaluator.n_images)
    clean = evaluator.correct(None, every)
    fault = make_flip_model("transient", ber)
    rows = np.empty((realisations, evaluator.n_images), dtype=bool)
    with torch.inference_mode():
        for first in range(0, realisations, RECORD_GROUP):
            indices = range(first, min(first + RECORD_GROUP, realisations))
            reads = [evaluator.memory.corrupt(fault, transient_seed(seed, ber, r)).codes for r in indices]
            changed = [evaluator.memory.changed_bits(codes) for codes in reads]
            faulty = [i for i, n in zip(indices, changed, strict=True) if n]
            for r in indices:
                rows[r] = clean
            if evaluator.compiled:  # the compiled module reads one realisation at a time
                found = [evaluator.correct(reads[r - first], every) for r in faulty]
            else:
                found = evaluator.correct_many([reads[r - first] for r in faulty], [every] * len(faulty))
            for r, row in zip(faulty, found, strict=True):
                rows[r] = row
            if first % (25 * RECORD_GROUP) == 0:
                print(f"  {name} BER {ber:g}: {first + len(indices)}/{realisations} realisations, "
                      f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    seconds = time.perf_counter() - started
    np.savez_compressed(path, correct=np.packbits(rows, axis=1), images=evaluator.n_images,
                        labels=evaluator.labels, ber=ber, method=name, regime=regime,
                        seconds=seconds)  # fmt: skip
    print(f"recorded {path} ({regime or 'BER'} {ber:g}): {realisations} x {evaluator.n_images}, "
          f"mean accuracy {100 * rows.mean():.2f}%, {seconds:.1f} s", flush=True)  # fmt: skip
    return str(path)


# The ResNet-20 probe's BER ladder: 10 realisations each on the recorded images pick calm, knee and
# cliff by the digits models' rule (RECORD_BERS' comment).
PROBE_BERS = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 7e-3, 1e-2, 2e-2, 3e-2, 5e-2)
PROBE_REALISATIONS = 10


def probe_regimes(evaluator, seed: int) -> tuple[float, float, float]:
    """Calm, knee and cliff BERs of a model, from :data:`PROBE_REALISATIONS` realisations per probe BER.

    calm: the largest probe BER whose mean accuracy drop is under 0.5 points; knee: the probe BER whose
    drop is nearest 7.5 points (the digits rule's 5 to 10); cliff: the first with a drop of 25 or more
    (the largest probed if none).  Seeds are offset from the recording's (base seed + 1) so the probe
    does not choose on the rows it reports.
    """
    from wcatsim.experiments.montecarlo.seeds import transient_seed
    from wcatsim.memory.evaluator import make_flip_model

    drops = {}
    for ber in PROBE_BERS:
        fault = make_flip_model("transient", ber)
        accs = [evaluator.evaluate(evaluator.memory.corrupt(fault, transient_seed(seed + 1, ber, r)).codes)[0]
                for r in range(PROBE_REALISATIONS)]  # fmt: skip
        drops[ber] = evaluator.clean_acc - float(np.mean(accs))
        print(f"  probe BER {ber:g}: mean {np.mean(accs):.2f}% (drop {drops[ber]:.2f} points)", flush=True)
    calm = max([b for b, d in drops.items() if d < 0.5], default=PROBE_BERS[0])
    knee = min((b for b in PROBE_BERS if b > calm), key=lambda b: abs(drops[b] - 7.5), default=PROBE_BERS[-2])
    cliff = next((b for b in PROBE_BERS if b > knee and drops[b] >= 25), PROBE_BERS[-1])
    return calm, knee, cliff


def record_resnet20(out_dir: str, realisations: int, seed: int, train_images: int, test_images: int,
                    epochs: int, bers: dict[str, float] | None = None) -> list[str]:  # fmt: skip
    """Train the benchmarks' ResNet-20 (``benchmarks/cifar_shaped.py``) and record its matrices.

    ``bers``: regime -> BER (calm, knee, cliff, or a share of them: one process per regime uses both
    cores better than two threads in one); None probes all three (:func:`probe_regimes`).  Files:
    DIR/resnet20_<ber>.npz.
    """
    from cifar_shaped import resnet20_model

    from wcatsim.memory.evaluator import FaultEvaluator, make_flip_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run, seconds = resnet20_model(train_images, test_images, epochs, seed)
    evaluator = FaultEvaluator.for_run(run)
    print(f"resnet20: trained on {train_images} synthetic CIFAR-shaped images, {epochs} epochs, in "
          f"{seconds:.1f} s; clean accuracy {evaluator.clean_acc:.2f}% on {evaluator.n_images} test images",
          flush=True)  # fmt: skip
    if bers is None:
        bers = dict(zip(REGIMES, probe_regimes(evaluator, seed), strict=True))
    started = time.perf_counter()
    evaluator.compile_forward()
    warm = evaluator.memory.corrupt(make_flip_model("transient", 1e-3), 1).codes  # seed 1: not a row's
    evaluator.correct(warm, np.arange(evaluator.n_images))  # the compile, timed apart
    print(f"resnet20: compiled forward ready in {time.perf_counter() - started:.1f} s", flush=True)
    print(f"resnet20 BERs: {', '.join(f'{regime} {ber:g}' for regime, ber in bers.items())}", flush=True)
    return [record_matrix(evaluator, out / f"resnet20_{ber:g}.npz", "resnet20", ber, regime, realisations,
                          seed) for regime, ber in bers.items()]  # fmt: skip


def write_results(path: str | None, results: dict) -> None:
    """Write ``results`` as JSON to ``path`` (benchmarks/time_to_table.py reads its ``allocated_min``)."""
    if not path:
        return
    import json

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"results written to {path}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=2000, help="simulated sweeps per case (>= 2000)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the simulated accuracies")
    parser.add_argument("--min-samples", type=int, default=None, help="pilot count (default: the rule's)")
    parser.add_argument("--max-samples", type=int, default=None, help="cap (default: the rule's)")
    parser.add_argument("--confidence-sequence", action="store_true",
                        help="also measure an empirical-Bernstein confidence sequence on the normal case")
    parser.add_argument("--matrix", action="append", default=[], help="replay on a correctness matrix .npz")
    parser.add_argument("--smoke", action="store_true", help="replay on a small synthetic matrix and stop")
    parser.add_argument("--replays", type=int, default=2000, help="replays per matrix")
    parser.add_argument("--recorded", default=str(DATA), help="also replay every .npz matrix in this folder "
                        "(default: benchmarks/data, where --record writes; '' for none; not with --smoke "
                        "alone)")
    parser.add_argument("--results", default=str(DATA / "coverage_results.json"),
                        help="write the measured coverages here as JSON ('' for none; not with --smoke "
                        "alone)")
    parser.add_argument("--nested-images", type=int, default=100,
                        help="nested design: images per realisation")
    parser.add_argument("--nested-realisations", type=int, default=200, help="nested design: realisations")
    parser.add_argument("--record", default=None, help="record correctness matrices into this folder")
    parser.add_argument("--record-only", action="store_true", help="--record: stop after recording")
    parser.add_argument("--runs", default=None, help="--record: reuse (or train into) run directories here")
    parser.add_argument("--record-methods", default="maxabs,wcat", help="--record: quantizers (digits)")
    parser.add_argument("--record-realisations", type=int, default=2000, help="--record: rows per matrix")
    parser.add_argument("--record-bers", default=";".join(f"{m}:{','.join(f'{b:g}' for b in bs)}"
                                                          for m, bs in RECORD_BERS.items()),
                        help="--record: calm, knee, cliff BERs per quantizer (METHOD:B1,B2,B3;...) or one "
                        "comma-separated list for all (default: RECORD_BERS, from the models' curves)")
    parser.add_argument("--record-resnet20", default=None,
                        help="record the ResNet-20's calm, knee and cliff matrices into this folder and stop")
    parser.add_argument("--resnet20-realisations", type=int, default=1000, help="--record-resnet20: rows")
    parser.add_argument("--resnet20-images", type=int, default=1000, help="--record-resnet20: test images")
    parser.add_argument("--resnet20-train-images", type=int, default=5000,
                        help="--record-resnet20: training images")
    parser.add_argument("--resnet20-epochs", type=int, default=4, help="--record-resnet20: training epochs")
    parser.add_argument("--resnet20-bers", default=None,
                        help="--record-resnet20: REGIME:BER,... (e.g. calm:5e-4,knee:1e-2,cliff:3e-2; "
                        "default: all three probed on the model)")
    parser.add_argument("--cost-ratio", type=float, default=COST_RATIO,
                        help="allocated design: c_r / c_i in images (seconds per realisation / per image)")
    parser.add_argument("--quick", action="store_true",
                        help="1000 sweeps per case and 400 replays of the --smoke and recorded matrices "
                        "(coverage standard error about 0.007 at 0.95 on the cases, 0.011 on the replays; "
                        "minutes on 2 cores)")
    args = parser.parse_args()
    if args.quick:
        args.sweeps, args.replays, args.smoke, args.smoke_then_cases = 1000, 400, True, True
    else:
        args.smoke_then_cases = False
    if args.record_resnet20:
        started = time.perf_counter()
        bers = None
        if args.resnet20_bers:
            pairs = [item.partition(":") for item in args.resnet20_bers.split(",")]
            bers = {regime: float(ber) for regime, _, ber in pairs}
        record_resnet20(args.record_resnet20, args.resnet20_realisations, args.seed,
                        args.resnet20_train_images, args.resnet20_images, args.resnet20_epochs, bers)
        print(f"recording took {time.perf_counter() - started:.1f} s", flush=True)
        return
    if args.record:
        started = time.perf_counter()
        args.matrix += record(args.record, parse_record_bers(args.record_bers),
                              args.record_realisations, args.seed, args.runs,
                              tuple(args.record_methods.split(",")))  # fmt: skip
        print(f"recording took {time.perf_counter() - started:.1f} s", flush=True)
        if args.record_only:
            return
    defaults = StoppingRule(ci_half_width=HALF_WIDTH)
    rule = StoppingRule(
        ci_half_width=HALF_WIDTH,
        min_samples=defaults.min_samples if args.min_samples is None else args.min_samples,
        max_samples=defaults.max_samples if args.max_samples is None else args.max_samples,
    )
    print(f"rule: --ci-half-width {HALF_WIDTH} --min-samples {rule.min_samples} --max-samples "
          f"{rule.max_samples} (Stein two-stage); fixed protocol: {FIXED} realisations; "
          f"{args.sweeps} sweeps per case, seed {args.seed}")  # fmt: skip
    print(f"{'case':>11} {'true':>7} {'cov_ad':>7} {'cov_fix':>7} {'cov_tN':>7} {'n_ad':>7} {'hw_ad':>6} "
          f"{'at_cap':>6}")  # fmt: skip
    paths = list(args.matrix)
    if args.recorded and not (args.smoke and not args.smoke_then_cases):
        paths += [str(p) for p in sorted(Path(args.recorded).glob("*.npz")) if str(p) not in paths]
    matrices = [(Path(path).stem, *load_matrix(path)) for path in paths]
    if args.smoke:
        matrices.append(("smoke", *smoke_matrix(args.seed)))
    replayed: dict[str, dict[str, dict[str, float]]] = {}
    for name, correct, labels in matrices:
        began = time.perf_counter()
        out = replay(correct, labels, args.replays, args.seed, args.nested_images, args.nested_realisations,
                     rule, args.cost_ratio)  # fmt: skip
        replayed[name] = out
        for protocol, r in out.items():
            print(f"replay {name} {protocol}: true={r['true']:.3f} coverage={r['coverage']:.3f} "
                  f"images={r['images']:.0f} half_width={r['half_width']:.3f} "
                  f"paper_images_ratio={r['paper_images'] / r['images']:.2f}", flush=True)  # fmt: skip
        print(f"({correct.shape[0]} x {correct.shape[1]} matrix, {args.replays} replays, "
              f"{time.perf_counter() - began:.1f} s)", flush=True)  # fmt: skip
    if args.smoke and not args.smoke_then_cases:
        return
    started = time.perf_counter()
    results = {}
    for index, (name, draw, mean) in enumerate(CASES):
        r = run_case(rule, draw, mean, args.sweeps, seed=int(np.random.SeedSequence([args.seed, index])
                                                           .generate_state(1)[0]))  # fmt: skip
        results[name] = r
        print(f"{name:>11} {mean:>7.2f} {r['adaptive']:>7.3f} {r['fixed']:>7.3f} {r['plain']:>7.3f} "
              f"{r['realisations']:>7.1f} "
              f"{r['half_width']:>6.3f} {r['at_cap']:>6.2f}", flush=True)  # fmt: skip
    print(f"allocated design (pilot {PILOT_REALISATIONS}, least cost at c_r/c_i = {args.cost_ratio:g} "
          f"images, >= 200 realisations, Stein at n; N = {SYNTH_IMAGES} images; paper: {FIXED} x "
          f"{SYNTH_IMAGES})")  # fmt: skip
    print(f"{'case':>11} {'cov_all':>7} {'cov_fix':>7} {'n_med':>6} {'R_mean':>7} {'hw':>6} {'images':>9} "
          f"{'ratio':>6}")  # fmt: skip
    allocated = {}
    for index, (name, draw, mean) in enumerate(CASES):
        a = run_allocated_case(draw, mean, args.sweeps, seed=int(
            np.random.SeedSequence([args.seed, 100 + index]).generate_state(1)[0]), ratio=args.cost_ratio)
        allocated[name] = a
        print(f"{name:>11} {a['coverage']:>7.3f} {results[name]['fixed']:>7.3f} {a['n']:>6.0f} "
              f"{a['realisations']:>7.1f} {a['half_width']:>6.3f} {a['images']:>9.0f} "
              f"{FIXED * SYNTH_IMAGES / a['images']:>6.1f}", flush=True)  # fmt: skip
    print(f"({time.perf_counter() - started:.1f} s; standard error of a coverage near 0.65: "
          f"{math.sqrt(0.65 * 0.35 / args.sweeps):.3f})")  # fmt: skip
    if args.confidence_sequence:
        sweeps, horizon = 500, 5000
        rows = _normal(np.random.default_rng([args.seed, 99]), (sweeps, horizon))
        counts, cs = eb_confidence_sequence(rows, HALF_WIDTH)
        reached = counts <= horizon
        hit = (cs[:, 0] <= 95.0) & (95.0 <= cs[:, 1])
        print(f"empirical-Bernstein confidence sequence on normal ({sweeps} sweeps): reaches half-width "
              f"{HALF_WIDTH} in {reached.mean():.0%} of sweeps within {horizon} draws, after "
              f"{np.mean(counts[reached]):.0f} draws on average (min {counts.min()}); coverage "
              f"{hit[reached].mean():.3f}; realisations ratio "
              f"{FIXED / np.mean(counts[reached]):.3f}")  # fmt: skip
    adaptive_min = min(r["adaptive"] - r["fixed"] for r in results.values())
    fixed_min = min(r["fixed"] for r in results.values())
    normal = results["normal"]
    allocated_min = min(a["coverage"] for a in allocated.values())
    images_ratio = min(FIXED * SYNTH_IMAGES / a["images"] for a in allocated.values())
    real = [out["allocated"]["coverage"] for name, out in replayed.items() if name != "smoke"]
    write_results(args.results, {
        "mode": "quick" if args.quick else "full", "sweeps": args.sweeps, "replays": args.replays,
        "seed": args.seed, "cost_ratio": args.cost_ratio, "half_width": HALF_WIDTH,
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cases": {name: {"allocated": allocated[name], **results[name]} for name in results},
        "matrices": replayed,
        # the allocated design's lowest coverage: synthetic cases and recorded real-model matrices
        "allocated_min": min([allocated_min, *real]),
        "allocated_min_synthetic": allocated_min,
        "allocated_min_recorded": min(real) if real else None,
    })  # fmt: skip
    print(f"coverage: adaptive_min={adaptive_min:.3f} fixed_min={fixed_min:.3f} "
          f"normal={normal['adaptive']:.3f} "
          f"realisations_ratio={FIXED / normal['realisations']:.2f} "
          f"allocated_min={allocated_min:.3f} allocated_images_ratio_min={images_ratio:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
