"""``run_bfa``: the Bit-Flip Attack on a trained run, trial by trial, with its random-flip baseline.

Each trial draws its own attack batch (seeded) from data the test set does not contain, runs the
progressive bit search (:mod:`wcatsim.attacks.search`) on the integer weight image until the test
accuracy is at or below the stop threshold or a budget is spent, and then flips the same number of
uniformly random bits of the clean image as a baseline.  Results are written to the run directory
after every trial (``bfa_flips.csv``, ``bfa_summary.json``), so an interrupted attack keeps the trials
it finished.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sram_models.errors import InputError
from wcatsim.atomic import atomic_write_csv, atomic_write_json
from wcatsim.quant import quantized_layers, weight_image

from .evaluation import StopEvaluator, chance_threshold
from .problem import ImageAttackProblem
from .random_baseline import random_flip_accuracy
from .search import commit, search_step

FLIPS_FILE = "bfa_flips.csv"
SUMMARY_FILE = "bfa_summary.json"
FLIP_COLUMNS = [
    "trial",  # 0-based trial number
    "iteration",  # 1-based search iteration within the trial
    "flip",  # flips committed in this trial so far, this one included
    "layer",  # qualified layer name
    "index",  # flat index of the weight in its layer
    "bit",  # 0 = LSB, N-1 = sign bit
    "code_before",  # the weight's integer code before this flip
    "code_after",  # and after it
    "loss",  # attack-batch cross-entropy after the iteration's flips
    "acc",  # test accuracy (percent) after the iteration, on `acc_images` test images
    "acc_images",  # the number of test images `acc` was measured on (the whole test set or the subset)
    "k_top",  # the k_top at which the iteration found its flips (> the configured one after widening)
]


@dataclass
class TrialResult:
    """One attack trial."""

    trial: int
    flips: int  # flips committed (flips to break when broken; a lower bound when a budget ran out)
    iterations: int
    broken: bool  # whole-test-set accuracy reached the threshold
    stalled: bool  # the search found no flip that raises the loss, even over every weight
    budget_hit: str | None  # "flips" or "iterations" when a budget ended the trial, else None
    final_acc: float  # whole-test-set accuracy at the end, percent
    random_baseline_acc: float  # whole-test-set accuracy after as many random flips, percent
    widenings: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class BFAResult:
    """All trials and the summary written to ``bfa_summary.json``."""

    trials: list[TrialResult]
    summary: dict[str, Any]
    flips_path: Path | None
    summary_path: Path | None


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def attack_split(data: Any, attack_batch: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Images the attack may use: the validation split, or the (unaugmented) training split when the
    validation split is smaller than one attack batch.  Never the test split."""
    x, y = data.val_tensors()
    if len(y) >= attack_batch:
        return x, y, "val"
    x, y = data.train_tensors()
    if len(y) < attack_batch:
        raise InputError(
            f"attack batch of {attack_batch} images but the validation and training splits hold only "
            f"{len(y)}: use a smaller --attack-batch"
        )
    return x, y, "train"


def attack_batch_for(
    x: torch.Tensor, y: torch.Tensor, size: int, seed: int, trial: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The attack batch of one trial: ``size`` distinct images drawn with seed ``(seed, trial)``."""
    index = np.random.default_rng([seed, trial]).choice(len(y), size=size, replace=False)
    index_t = torch.from_numpy(np.sort(index))
    return x[index_t], y[index_t]


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof = 1; None for fewer than two values)."""
    if not values:
        return None, None
    mean = float(np.mean(values))
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return mean, std


def run_trial(
    trial: int,
    problem: ImageAttackProblem,
    evaluator: StopEvaluator,
    clean_codes: dict[str, torch.Tensor],
    clean_check: Any,
    k_top: int,
    max_flips: int,
    max_iterations: int,
    baseline_seed: Any,
    log: Callable[[str], None] | None = None,
    bar: Any = None,
) -> TrialResult:
    """One trial of the attack from the clean image (``clean_codes`` is not modified)."""
    started = time.perf_counter()
    codes = {name: c.clone() for name, c in clean_codes.items()}
    check = clean_check
    flips = iterations = 0
    broken = stalled = False
    budget_hit = None
    rows: list[dict[str, Any]] = []
    widenings: list[str] = []
    while True:
        if check.broken:
            broken = True
            break
        if flips >= max_flips:
            budget_hit = "flips"
            break
        if iterations >= max_iterations:
            budget_hit = "iterations"
            break
        iterations += 1

        def note(message: str, _it: int = iterations) -> None:
            widenings.append(f"trial {trial} iteration {_it}: {message}")
            if log is not None:
                log(widenings[-1])

        step = search_step(problem, codes, k_top, log=note)
        if step.stalled:
            stalled = True
            if log is not None:
                log(f"trial {trial} iteration {iterations}: stalled (no flip raises the loss at any k_top)")
            break
        commit(codes, step.flips)
        check = evaluator.check(codes)
        for flip in step.flips:
            flips += 1
            rows.append({
                "trial": trial, "iteration": iterations, "flip": flips, "layer": flip.layer,
                "index": flip.index, "bit": flip.bit,
                "code_before": flip.code_before, "code_after": flip.code_after,
                "loss": step.loss_after, "acc": check.acc, "acc_images": check.images, "k_top": step.k_top,
            })
        if bar is not None:
            bar.update(len(step.flips))
            bar.set_postfix_str(f"acc {check.acc:.1f}% loss {step.loss_after:.3g}")
    final_acc = check.full_acc if check.full_acc is not None else evaluator.accuracy(codes)
    random_acc = random_flip_accuracy(evaluator, clean_codes, problem.bits, flips, baseline_seed)
    return TrialResult(
        trial=trial, flips=flips, iterations=iterations, broken=broken, stalled=stalled,
        budget_hit=budget_hit, final_acc=final_acc, random_baseline_acc=random_acc, widenings=widenings,
        rows=rows,
        seconds=time.perf_counter() - started,
    )


def summarise(trials: list[TrialResult], base: dict[str, Any]) -> dict[str, Any]:
    """The summary written to ``bfa_summary.json`` (keys of issue 5 plus what is needed to read them)."""
    counted = [t.flips for t in trials if not t.stalled]
    mean, std = mean_std([float(v) for v in counted])
    out = dict(base)
    out.update({
        "trials": len(trials),
        "flips_to_break": [t.flips for t in trials],
        "broken": [t.broken for t in trials],
        "stalled": [t.stalled for t in trials],
        "budget_hit": [t.budget_hit for t in trials],
        "iterations": [t.iterations for t in trials],
        "flips_to_break_mean": mean,
        "flips_to_break_std": std,
        "flips_to_break_stats": (
            "mean and sample std (ddof=1) over trials that did not stall; "
            + ("a lower bound: some trials ran out of budget" if any(t.budget_hit for t in trials)
               else "every counted trial broke the model")
        ),
        "final_acc": [t.final_acc for t in trials],
        "random_baseline_acc": [t.random_baseline_acc for t in trials],
        "random_baseline_flips": [t.flips for t in trials],
        "widenings": [len(t.widenings) for t in trials],
        "widening_log": [message for t in trials for message in t.widenings],
        "seconds": [round(t.seconds, 3) for t in trials],
    })
    return out


def run_bfa(
    run: Any,
    trials: int | None = None,
    seed: int | None = None,
    k_top: int | None = None,
    max_flips: int | None = None,
    max_iterations: int | None = None,
    attack_batch: int | None = None,
    eval_subset: int | None = None,
    threshold: float | None = None,
    out_dir: str | Path | None = None,
    write: bool = True,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    share_prefix: bool = True,
    eval_images: int = 0,
) -> BFAResult:
    """Attack ``run`` (a :class:`wcatsim.runs.LoadedRun`) ``trials`` times; write and return the results.

    Every argument left ``None`` comes from ``run.config.attack.bfa``.  Results go to ``out_dir``
    (default: the run directory) unless ``write`` is False.  ``eval_images`` K > 0 replaces the test set
    by a fixed, class-stratified, seeded subset of K test images (stop decision, final accuracy and the
    ``eval_subset`` sample all come from it; recorded as ``eval_images`` in the summary).
    """
    cfg = run.config.attack.bfa
    trials = _positive_int(cfg.trials if trials is None else trials, "trials")
    seed = cfg.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    k_top = _positive_int(cfg.k_top if k_top is None else k_top, "k_top")
    max_flips = _positive_int(cfg.max_flips if max_flips is None else max_flips, "max_flips (flip budget)")
    max_iterations = _positive_int(
        cfg.max_iterations if max_iterations is None else max_iterations, "max_iterations (iteration budget)"
    )
    attack_batch = _positive_int(cfg.attack_batch if attack_batch is None else attack_batch, "attack_batch")
    eval_subset = cfg.eval_subset if eval_subset is None else eval_subset
    if isinstance(eval_subset, bool) or not isinstance(eval_subset, (int, np.integer)) or eval_subset < 0:
        raise InputError(f"eval_subset must be an integer >= 0 (0 = whole test set), got {eval_subset!r}")
    threshold = cfg.threshold if threshold is None else float(threshold)
    if not math.isfinite(threshold) or threshold > 100:
        raise InputError(f"threshold must be a percentage <= 100 (< 0: chance + 1/C), got {threshold!r}")

    model = run.model
    layers = quantized_layers(model)
    if not layers:
        raise InputError(
            f"the model of {run.dir} is not quantized (quant.method = {run.config.quant.method!r}): the "
            "Bit-Flip Attack flips bits of an integer weight image; train a quantized model, e.g. -c "
            "configs/quantization/4bit_wcat.toml"
        )
    image = weight_image(model)
    smallest = min(image, key=lambda name: image[name].codes.numel())
    if k_top > image[smallest].codes.numel():
        raise InputError(
            f"k_top {k_top} is larger than layer {smallest!r} ({image[smallest].codes.numel()} weights): use "
            f"--k-top {image[smallest].codes.numel()} or less"
        )
    model.eval()
    clean_codes = {name: img.codes.clone() for name, img in image.items()}
    steps = {name: img.step for name, img in image.items()}
    bits = {name: img.bits for name, img in image.items()}

    x_test, y_test, subset_record = run.data.test_subset(eval_images, seed=run.config.data.seed)
    rule = "given"
    if threshold < 0:
        threshold = chance_threshold(y_test, run.data.num_classes)
        rule = "most-frequent test class rate + 1/C percent"
    evaluator = StopEvaluator(model, x_test, y_test, threshold, subset=int(eval_subset), seed=seed)
    clean_acc = evaluator.accuracy(clean_codes)
    clean_check = evaluator.check(clean_codes)
    x_pool, y_pool, split = attack_split(run.data, attack_batch)

    base = {
        "run": str(run.dir),
        "model": run.config.model.name,
        "dataset": run.data.name,
        "quant_method": run.config.quant.method,
        "bits": sorted(set(bits.values())),
        "threshold": threshold,
        "threshold_rule": rule,
        "clean_acc": clean_acc,
        "clean_acc_logged": clean_check.acc,
        "evaluation": evaluator.describe,
        "eval_subset": evaluator.subset,
        "test_images": evaluator.n,
        "eval_images": subset_record,  # None: the whole test set
        "k_top": k_top,
        "max_flips": max_flips,
        "max_iterations": max_iterations,
        "attack_batch": attack_batch,
        "attack_split": split,
        "seed": int(seed),
        "random_baseline": "as many distinct bits as the trial flipped, uniform over all clean-image bits",
    }
    out_dir = Path(run.dir if out_dir is None else out_dir)
    flips_path = out_dir / FLIPS_FILE if write else None
    summary_path = out_dir / SUMMARY_FILE if write else None

    from tqdm.auto import tqdm

    results: list[TrialResult] = []
    for trial in range(trials):
        xb, yb = attack_batch_for(x_pool, y_pool, attack_batch, int(seed), trial)
        problem = ImageAttackProblem(model, xb, yb, steps, bits, share_prefix=share_prefix)
        with tqdm(total=max_flips, desc=f"bfa trial {trial + 1}/{trials}", unit="flip", disable=not progress,
                  leave=False) as bar:
            say = (lambda message: bar.write(message)) if (progress and log is None) else log
            result = run_trial(
                trial, problem, evaluator, clean_codes, clean_check, k_top, max_flips, max_iterations,
                baseline_seed=[int(seed), trial, 1], log=say, bar=bar,
            )
        results.append(result)
        if write:
            summary = summarise(results, base)
            summary["complete"] = trial + 1 == trials
            atomic_write_csv(flips_path, FLIP_COLUMNS, [row for t in results for row in t.rows])
            atomic_write_json(summary_path, summary)
    summary = summarise(results, base)
    summary["complete"] = True
    return BFAResult(trials=results, summary=summary, flips_path=flips_path, summary_path=summary_path)


def format_summary(summary: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    lines = [
        f"BFA on {summary.get('model')} / {summary.get('quant_method')} "
        f"{'/'.join(str(b) for b in summary.get('bits', []))}-bit "
        f"({summary.get('dataset')}): clean accuracy {summary['clean_acc']:.2f}%, stop at <= "
        f"{summary['threshold']:.2f}% ({summary.get('threshold_rule')})",
        f"  {summary.get('evaluation')}",
    ]
    for i in range(summary["trials"]):
        if summary["broken"][i]:
            status = "broken"
        elif summary["stalled"][i]:
            status = "STALLED (no loss-raising flip left)"
        else:
            status = f"not broken: {summary['budget_hit'][i]} budget spent (lower bound)"
        lines.append(
            f"  trial {i}: {summary['flips_to_break'][i]:4d} flips, {status}; final accuracy "
            f"{summary['final_acc'][i]:.2f}%, as many random flips: {summary['random_baseline_acc'][i]:.2f}%"
        )
    mean, std = summary["flips_to_break_mean"], summary["flips_to_break_std"]
    if mean is None:
        lines.append("  flips to break: every trial stalled")
    else:
        lower = " (lower bound)" if any(summary["budget_hit"]) else ""
        spread = f" ± {std:.1f}" if std is not None else ""
        counted = sum(1 for s in summary["stalled"] if not s)
        lines.append(f"  flips to break: {mean:.1f}{spread}{lower} over {counted} trials (mean ± sample std)")
    return "\n".join(lines)
