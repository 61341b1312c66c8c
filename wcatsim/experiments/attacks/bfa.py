"""``run_bfa``: the Bit-Flip Attack on a trained run, trial by trial, with its random-flip baseline.

Each trial draws its own attack batch (seeded) from data the test set does not contain, runs the
progressive bit search (:mod:`wcatsim.experiments.attacks.search`) on the integer weight image until the test
accuracy is at or below the stop threshold or a budget is spent, and then flips as many uniformly
random bits of the clean image as it needed to break the model, as a baseline.  A trial stops at the
break; only when asked (``to_original_threshold``, ``wcatsim bfa --to-original-threshold``) does it go
on, within the same budgets, to the WCAT code's 100/C + 1/C where that is lower
(``flips_to_original_threshold``).  A trial that did not break is right-censored at its count
(:mod:`wcatsim.stats.censoring`); so is a trial's ``flips_to_original_threshold`` where it is null (at
``flips_attacked``: the attack stopped before the WCAT code's threshold).  Results
are written to the run directory after every trial (``bfa_flips.csv``, ``bfa_summary.json``), so an
interrupted attack keeps the trials it finished.
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
from wcatsim.image import weight_image
from wcatsim.stats.censoring import km_median, median_ci_keys, trial_status
from wcatsim.store.atomic import atomic_write_csv
from wcatsim.train.health import chance_threshold
from wcatsim.train.quant import quantized_layers

from .defences import DEFENCES, DefendedStop, defend_trial
from .evaluation import StopEvaluator, original_threshold
from .objectives import ATTACK_OBJECTIVES
from .problem import ImageAttackProblem
from .random_baseline import random_bit_flips, random_flip_accuracy
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
    flips: int  # flips to break when broken; else the flips committed (a right-censored count)
    iterations: int  # search iterations until the break (or the end)
    broken: bool  # whole-test-set accuracy reached the threshold
    stalled: bool  # not broken: the search found no flip that raises the loss, even over every weight
    budget_hit: str | None  # not broken: "flips" or "iterations" when a budget ended the trial, else None
    final_acc: float  # whole-test-set accuracy at the break (or the end), percent
    random_baseline_acc: float  # whole-test-set accuracy after as many random flips, percent
    # The flip at which whole-test-set accuracy first fell to the WCAT code's 100/C + 1/C percent; None
    # when the trial stopped before it (right-censored at flips_attacked). Past the break the attack goes
    # on to it only when asked (to_original_threshold); otherwise it is known only where the break
    # itself implies it (a stop threshold at or below the original one).
    flips_to_original_threshold: int | None = None
    flips_attacked: int = 0  # flips committed in all (>= flips: those after the break included)
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
            f"{len(y)}: use a smaller `attack.bfa.attack_batch`"
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
    to_original_threshold: bool = False,
    k_max: int = 0,
) -> TrialResult:
    """One trial of the attack from the clean image (``clean_codes`` is not modified).

    The trial stops at the break (the evaluator's threshold).  With ``to_original_threshold``, when the
    evaluator also has an original threshold (lower on an unbalanced test set), the attack goes on
    until that one is reached too, within the same budgets, so that ``flips_to_original_threshold`` is
    a count, not a guess; without it, that count is None (censored at the break) unless the evaluator's
    original decision says the break already reached it.
    """
    started = time.perf_counter()
    codes = {name: c.clone() for name, c in clean_codes.items()}
    check = clean_check
    tracks_original = to_original_threshold and evaluator.original_max_correct is not None
    flips = iterations = 0
    broken = stalled = False
    budget_hit = None
    at_break: tuple[int, int, float] | None = None  # flips, iterations, whole-set accuracy at the break
    to_original: int | None = None
    rows: list[dict[str, Any]] = []
    widenings: list[str] = []
    while True:
        if check.broken and at_break is None:
            broken = True
            acc = check.full_acc if check.full_acc is not None else evaluator.accuracy(codes)
            at_break = (flips, iterations, acc)
        if check.below_original and to_original is None:
            to_original = flips
        if broken and (to_original is not None or not tracks_original):  # the break ends the trial
            break
        if flips >= max_flips:
            budget_hit = None if broken else "flips"
            break
        if iterations >= max_iterations:
            budget_hit = None if broken else "iterations"
            break
        iterations += 1

        def note(message: str, _it: int = iterations) -> None:
            widenings.append(f"trial {trial} iteration {_it}: {message}")
            if log is not None:
                log(widenings[-1])

        step = search_step(problem, codes, k_top, log=note, k_max=k_max)
        if step.stalled:
            stalled = not broken
            if log is not None:
                goal = "the original threshold" if broken else "the threshold"
                where = f"up to k_top {k_max}" if k_max else "at any k_top"
                log(f"trial {trial} iteration {iterations}: stalled before {goal} "
                    f"(no flip raises the loss {where})")  # fmt: skip
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
                # an objective's own columns (the targeted one's success rates), read off its check
                **getattr(check, "columns", dict)(),
            })
        if bar is not None:
            bar.update(len(step.flips))
            bar.set_postfix_str(f"acc {check.acc:.1f}% loss {step.loss_after:.3g}")
    if at_break is not None:
        to_break, iterations_to_break, final_acc = at_break
    else:
        to_break, iterations_to_break = flips, iterations
        final_acc = check.full_acc if check.full_acc is not None else evaluator.accuracy(codes)
    random_acc = random_flip_accuracy(evaluator, clean_codes, problem.bits, to_break, baseline_seed)
    return TrialResult(
        trial=trial, flips=to_break, iterations=iterations_to_break, broken=broken, stalled=stalled,
        budget_hit=budget_hit, final_acc=final_acc, random_baseline_acc=random_acc, widenings=widenings,
        rows=rows, seconds=time.perf_counter() - started, flips_to_original_threshold=to_original,
        flips_attacked=flips,
    )


def summarise(trials: list[TrialResult], base: dict[str, Any],
              per_trial: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The summary written to ``bfa_summary.json`` (keys of issues 5 and 9 plus what is needed to read
    them).  Unbroken trials are right-censored: the median is Kaplan–Meier's
    (:func:`wcatsim.stats.censoring.km_median`), the mean and std are over broken trials only."""
    flips = [t.flips for t in trials]
    broken = [t.broken for t in trials]
    km = km_median(flips, broken)
    mean, std = mean_std([float(t.flips) for t in trials if t.broken])
    out = dict(base)
    out.update({
        "trials": len(trials),
        "flips_to_break": flips,
        "status": [trial_status(t.broken, t.stalled) for t in trials],
        "broken": broken,
        "stalled": [t.stalled for t in trials],
        "budget_hit": [t.budget_hit for t in trials],
        "iterations": [t.iterations for t in trials],
        "censored": km.censored,
        "flips_to_break_median": km.median,
        "flips_to_break_median_lower_bound": km.lower_bound,
        # its 95% CI (Brookmeyer-Crowley), the method and the tie convention (issue 17 section 6)
        **median_ci_keys(flips, broken),
        "flips_to_break_mean": mean,
        "flips_to_break_std": std,
        "flips_to_break_stats": (
            "flips_to_break: per trial, the flips to break, or where status is budget/stalled the flips "
            "committed (right-censored: the model survives at least that many); median: Kaplan-Meier with "
            "the unbroken trials censored at their count, the smallest count t with S(t) <= 0.5 (null "
            "where S stays above 0.5: flips_to_break_median_lower_bound is then the largest count "
            "observed); mean and sample std (ddof=1) over the broken trials only"
        ),
        "flips_to_original_threshold": [t.flips_to_original_threshold for t in trials],
        "flips_attacked": [t.flips_attacked for t in trials],
        "final_acc": [t.final_acc for t in trials],
        "random_baseline_acc": [t.random_baseline_acc for t in trials],
        "random_baseline_flips": [t.flips for t in trials],
        "widenings": [len(t.widenings) for t in trials],
        "widening_log": [message for t in trials for message in t.widenings],
        "seconds": [round(t.seconds, 3) for t in trials],
    })
    # an objective's own per-trial values (the targeted attack's success rates), one list per key
    for key in (per_trial[0] if per_trial else {}):
        out[key] = [record[key] for record in per_trial]
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
    k_top_max: int | None = None,
    write: bool = True,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    share_prefix: bool = True,
    eval_images: int = 0,
    objective: str = "untargeted",
    to_original_threshold: bool = False,
    objective_options: dict[str, Any] | None = None,
    defence: str = "none",
    defended_break: bool = False,
) -> BFAResult:
    """Attack ``run`` (a :class:`wcatsim.train.runs.LoadedRun`) ``trials`` times; write and return the
    results.

    Every argument left ``None`` comes from ``run.config.attack.bfa``.  Results go to ``out_dir``
    (default: the run directory) unless ``write`` is False.  ``eval_images`` K > 0 replaces the test set
    by a fixed, class-stratified, seeded subset of K test images (stop decision, final accuracy and the
    ``eval_subset`` sample all come from it; recorded as ``eval_images`` in the summary).  ``objective``
    names what the search maximises and when a trial has won (:data:`ATTACK_OBJECTIVES
    <wcatsim.experiments.attacks.objectives.ATTACK_OBJECTIVES>`); ``objective_options`` are its settings
    (the targeted objective's ``target_class``, ``source_class``, ...).  ``defence`` names a detecting
    defence (:data:`DEFENCES <wcatsim.experiments.attacks.defences.DEFENCES>`) that checks the image at
    each trial's break, the attacker unaware of it (``detected_flips``, ``defended_acc`` per trial);
    ``defended_break`` moves the break itself to the image as read through the defence (the search still
    sees the stored codes; recorded as ``"defended_break": true``), so that ``flips_to_break`` is the
    defended model's.
    Each trial stops at the break; ``to_original_threshold`` (the untargeted attack only) continues it,
    within the same budgets, to the WCAT code's 100/C + 1/C where that is lower
    (``flips_to_original_threshold``; recorded in the summary as ``"to_original_threshold": true``).
    """
    try:
        goal = ATTACK_OBJECTIVES.get(objective)(**(objective_options or {}))
    except TypeError as exc:
        given = sorted(objective_options or {})
        raise InputError(f"objective {objective!r} does not take {given}: {exc}") from None
    guard = DEFENCES.get(defence)()
    if defended_break and not guard.detects:
        raise InputError("`option.defended_break` needs a defence: `option.defence` other than none")
    if to_original_threshold and not goal.accuracy_rule:
        raise InputError(f"`option.to_original_threshold` belongs to the untargeted attack: objective "
                         f"{objective!r} stops at its own success rule")
    cfg = run.config.attack.bfa
    trials = _positive_int(cfg.trials if trials is None else trials, "trials")
    seed = cfg.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    k_top = _positive_int(cfg.k_top if k_top is None else k_top, "k_top")
    k_top_max = cfg.k_top_max if k_top_max is None else k_top_max
    if (isinstance(k_top_max, bool) or not isinstance(k_top_max, (int, np.integer))
            or not (k_top_max == 0 or k_top_max >= k_top)):
        raise InputError(f"k_top_max must be 0 (every weight) or >= k_top ({k_top}), got {k_top_max!r}")
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

    goal.validate(run.data.num_classes)
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
            f"`attack.bfa.k_top` {image[smallest].codes.numel()} or less"
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
    original = original_threshold(run.data.num_classes)
    # The second exact decision (at the original threshold) costs extra test images near it on every
    # check: asked for only when the attack is to go on to that threshold.
    evaluator = goal.stop_rule(model, x_test, y_test, threshold, subset=int(eval_subset), seed=seed,
                               original_threshold=original if to_original_threshold else None,
                               clean_codes=clean_codes)  # fmt: skip
    clean_acc = evaluator.accuracy(clean_codes)
    clean_check = evaluator.check(clean_codes)
    x_pool, y_pool, split = attack_split(run.data, attack_batch)

    base = {
        "run": None if run.dir is None else str(run.dir),
        # a model given in Python (wcatsim.api) is named by its own name, never the default config's
        "model": getattr(run, "model_name", None) or run.config.model.name,
        "dataset": run.data.name,
        "quant_method": run.config.quant.method,
        "bits": sorted(set(bits.values())),
        "threshold": threshold,
        "threshold_rule": rule,
        "original_threshold": original,
        "original_threshold_rule": "100/C + 1/C percent (the WCAT code's stop accuracy)",
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
        **goal.settings(evaluator),  # nothing for the untargeted attack
        **(guard.settings() if guard.detects else {}),  # nothing without a defence
        # its price on this model (area, energy per inference, time), with their sources
        **(guard.cost({n: c.numel() for n, c in clean_codes.items()}, bits) if guard.detects else {}),
    }
    if k_top_max:  # only when set: a default attack's settings and fingerprint read as before
        base["k_top_max"] = int(k_top_max)
    if defended_break:  # only when asked: a default attack's settings and fingerprint read as before
        base["defended_break"] = True
    if to_original_threshold:
        # Only when asked, so that a default attack's settings (and their fingerprint) read as before;
        # absent means the trials stopped at the break.
        base["to_original_threshold"] = True
    reference = guard.reference(clean_codes, bits)
    judge = DefendedStop(evaluator, guard, reference, bits) if defended_break else evaluator
    columns = FLIP_COLUMNS + list(goal.flip_columns)
    write = write and (out_dir is not None or run.dir is not None)  # no run directory, no path: nothing
    out_dir = Path(run.dir if out_dir is None else out_dir) if write else None
    # an attack against a defence keeps its own files (bfa_checksum_flips.csv, ...), beside the undefended
    from wcatsim.store.files import OUTPUTS, bfa_family

    files = OUTPUTS[bfa_family(defence, objective)]
    flips_path = out_dir / files[0] if write else None
    summary_path = out_dir / files[1] if write else None
    from wcatsim.store.columns import identity_of, standard_columns, with_identity
    from wcatsim.store.results import ResultStore, fingerprint, now_stamp

    identity = identity_of(run)

    # The summary is the table's sidecar: its fingerprint and creation time name the earlier results
    # when a later attack keeps them aside (an attack is not resumed; nothing it wrote is deleted).
    settings = {k: v for k, v in base.items() if k != "run"}
    base["fingerprint"] = fingerprint(settings)
    base["created"] = now_stamp()

    from tqdm.auto import tqdm

    from wcatsim.train.progress import shows_bars

    bars = progress and shows_bars()  # a bar on a terminal or in a notebook (unreadable in a log file)

    results: list[TrialResult] = []
    per_trial: list[dict[str, Any]] = []  # the objective's own per-trial record (none for untargeted)
    # the one result store: holds the one-writer lock; its first write keeps the earlier attack's files
    # bfa.png/.pdf (`wcatsim bfa --plot`'s default figure) belong to the attack they show: kept with it
    figures = (out_dir / files[2], out_dir / files[3]) if write else ()
    store = (
        ResultStore(flips_path, settings, sidecar=summary_path, also=figures, resume=False) if write else None
    )
    try:
        for trial in range(trials):
            xb, yb = attack_batch_for(x_pool, y_pool, attack_batch, int(seed), trial)
            problem = goal.problem(model, xb, yb, steps, bits, share_prefix=share_prefix)
            with tqdm(total=max_flips, desc=f"bfa trial {trial + 1}/{trials}", unit="flip",
                      disable=not bars, leave=False) as bar:  # fmt: skip
                say = (lambda message: bar.write(message)) if (progress and log is None) else log
                result = run_trial(
                    trial, problem, judge, clean_codes, clean_check, k_top, max_flips, max_iterations,
                    baseline_seed=[int(seed), trial, 1], log=say, bar=bar,
                    to_original_threshold=to_original_threshold, k_max=int(k_top_max),
                )
            if (goal.accuracy_rule and result.broken and result.flips_to_original_threshold is None
                    and threshold <= original):
                # a break at or below the original threshold is a break at it too: the count is exact
                result.flips_to_original_threshold = result.flips
            results.append(result)
            record: dict[str, Any] = {}
            if goal.flip_columns:
                # the same flips as run_trial's random baseline (same seed), read through the objective
                random_codes = random_bit_flips(clean_codes, bits, result.flips, [int(seed), trial, 1])
                record.update(goal.trial_record(evaluator, result.rows, result.flips, random_codes))
            if guard.detects:
                record.update(defend_trial(guard, reference, clean_codes, result.rows, result.flips, bits,
                                           evaluator.accuracy))  # fmt: skip
            if record:
                per_trial.append(record)
            if store is not None:
                store.begin()
                summary = summarise(results, base, per_trial)
                summary["complete"] = trial + 1 == trials
                atomic_write_csv(flips_path, standard_columns(columns),  # identity first, units named
                                 with_identity([row for t in results for row in t.rows], identity))
                store.write_sidecar(summary)
    finally:
        if store is not None:
            store.close()
    summary = summarise(results, base, per_trial)
    summary["complete"] = True
    return BFAResult(trials=results, summary=summary, flips_path=flips_path, summary_path=summary_path)


def format_summary(summary: dict[str, Any]) -> str:
    """A few lines for the terminal; a censored count reads "≥ k"."""
    from wcatsim.stats.censoring import fmt_count, fmt_median, fmt_median_ci, statuses

    targeted = summary.get("objective") == "targeted"
    stop = (f"stop at <= {summary['threshold']:.2f}% ({summary.get('threshold_rule')})" if not targeted else
            f"stop at attack success >= {summary['success_threshold']:g}%")
    lines = [
        f"BFA on {summary.get('model')} / {summary.get('quant_method')} "
        f"{'/'.join(str(b) for b in summary.get('bits', []))}-bit "
        f"({summary.get('dataset')}): clean accuracy {summary['clean_acc']:.2f}%, {stop}",
        f"  {summary.get('evaluation')}",
    ]
    status = statuses(summary)
    original = summary.get("flips_to_original_threshold") or [None] * summary["trials"]
    attacked = summary.get("flips_attacked") or summary["flips_to_break"]
    for i in range(summary["trials"]):
        if status[i] == "broken":
            what = "broken"
        elif status[i] == "stalled":
            cap = summary.get("k_top_max")
            left = f"none within the top-{cap} weights per layer" if cap else "none left"
            what = f"STALLED (no loss-raising flip: {left}), not broken"
        else:
            what = f"not broken: {summary['budget_hit'][i]} budget spent"
        at_original = ""
        if "original_threshold" in summary and not targeted:  # the targeted attack stops at success
            reached = original[i] is not None
            count = fmt_count(original[i] if reached else attacked[i], not reached)
            at_original = f"; to <= {summary['original_threshold']:.2f}% (WCAT code's rule): {count}"
        count = fmt_count(summary["flips_to_break"][i], status[i] != "broken")
        lines.append(
            f"  trial {i}: {count:>5} flips, {what}; final accuracy {summary['final_acc'][i]:.2f}%, "
            f"as many random flips: {summary['random_baseline_acc'][i]:.2f}%{at_original}"
        )
    if "original_threshold" in summary and not targeted and not summary.get("to_original_threshold") and any(
        count is None and st == "broken" for count, st in zip(original, status, strict=False)
    ):
        lines.append("  (trials stopped at the break: \"≥ k\" to the WCAT code's threshold; "
                     "--to-original-threshold attacks on until it)")  # fmt: skip
    n, censored = summary["trials"], sum(1 for s in status if s != "broken")
    mean, std = summary.get("flips_to_break_mean"), summary.get("flips_to_break_std")
    spread = f" ± {std:.1f}" if std is not None else ""
    mean_text = "no trial broke" if mean is None else f"mean {mean:.1f}{spread} over {n - censored} broken"
    ci = fmt_median_ci(summary)
    ci_text = f" {ci} (95% CI, Brookmeyer-Crowley)" if ci else ""
    lines.append(f"  flips to break: median {fmt_median(summary)}{ci_text} (Kaplan-Meier, {censored}/{n} "
                 f"censored); {mean_text}")  # fmt: skip
    if targeted:
        source = summary["source_class"]
        what = "every other class" if source is None else f"class {source}"
        rates = ", ".join(f"{a:.1f}% (others {o:.1f}%)" for a, o in
                          zip(summary["attack_success_rate"], summary["other_classes_accuracy"], strict=True))
        lines.append(f"  targeted ({summary['attack_mode']}): {what} -> class {summary['target_class']}; "
                     f"'broken' = attack success >= {summary['success_threshold']:g}% with the other classes "
                     f"within {summary['max_other_drop']:g} points; attack success per trial: {rates}")
    if "detected_flips" in summary:
        pairs = zip(summary["detected_flips"], summary["flips_to_break"], summary["defended_acc"],
                    strict=True)
        found = ", ".join(f"{d}/{f} ({a:.1f}%)" for d, f, a in pairs)
        how = ("flagged groups reloaded from the golden copy" if "reloaded_bits" in summary
               else "zeroed groups, or the scheme's read")
        lines.append(f"  defence {summary['defence']} (attacker unaware): flips detected per trial, and "
                     f"accuracy after its repair ({how}): {found}")
        if "defence_area" in summary:
            time = summary["defence_time_overhead"]
            lines.append(f"  its price: {summary['defence_area']:.2%} extra bits per weight bit, "
                         f"{summary['defence_energy_overhead']:.1%} of the weight reads' energy per "
                         f"inference ({summary['defence_energy_pj']:.0f} pJ, Horowitz ISSCC 2014 figures), "
                         + ("time not modelled" if time is None else
                            f"time < {time:.0%} (the source's report, not measured here)"))
        if "reload_energy_pj" in summary:
            reloads = ", ".join(f"{e / 1e3:.1f}" for e in summary["reload_energy_pj"])
            lines.append(f"  and per detection, the reload: {reloads} nJ per trial (the flagged groups' bits "
                         f"read from DRAM at {summary['defence_reload_pj_per_bit']:.1f} pJ per bit, once)")
    return "\n".join(lines)
