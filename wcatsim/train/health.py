"""Is a model worth training on, or evaluating?  The two loud failures of the project's health rule.

- A training run that goes unhealthy (a non-finite loss, a learned range at its floor, validation accuracy
  at chance from the third epoch on) stops with :class:`TrainingHealthError`: the ``wcatsim`` commands
  print its one line and exit with code 3 (``wcatsim.cli._common.handles_errors``), the run directory keeps
  its checkpoints for inspection and ``summary.json`` says ``"healthy": false`` and why.
- A fault or attack command asked to evaluate a model at chance refuses with
  :class:`DegenerateModelError` (an :class:`~sram_models.errors.InputError`, exit 2), unless it is told
  ``--allow-degenerate``: a Bit-Flip Attack on a dead model "breaks it in 0 flips" and a random-flip
  table of it is flat at chance, numbers that look like results and are not.

During training (:func:`chance_verdict`) "at chance" is a test on the split's size: the number of
validation images answered right is compared with what answering the most frequent class gets, by a
one-sided binomial test at :data:`CHANCE_ALPHA` (1%), and only on a split large enough to tell chance
from learning (:func:`chance_verdict`); an 8-image split is never called at chance.  ``trainer.health``
says what an unhealthy run does: ``"stop"`` (the default, exit 3) or ``"warn"`` (a line in the log, the
run goes on).

For a finished model "at chance" is one rule everywhere: an accuracy within :data:`DEGENERATE_MARGIN`
points of the share of the most frequent class of the split it was measured on (10% on a balanced
10-class set, so 12% or less), the accuracy a model that always answers that class gets.  Accuracies
are percent.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sram_models.errors import InputError

# Points above the most frequent class's share that still count as chance: the rule (10 §1).
# On the embedded digits' 539 test images one point is 5.4 images, so 2 points is ~11 images: a model
# that learnt anything at all clears it by far (the worst quantizer of the default recipe scores ~98%).
DEGENERATE_MARGIN = 2.0

# The summary.json key holding the test split's most frequent class share (percent), for commands that
# see a run's tables but not its data (wcatsim pareto).
MAJORITY_KEY = "test_majority_share"


# The chance test's level (one-sided): a run is called at chance only when its count of right answers is
# not above the most frequent class's share at 1% (the "say, 1%": one stop in a hundred of a run
# that is just above chance, a rate a user tolerates since the fix is a rerun with trainer.health = "warn").
CHANCE_ALPHA = 0.01


@dataclass(frozen=True)
class ChanceVerdict:
    """What the training chance test found on one split (see :func:`chance_verdict`).

    ``correct`` of ``n`` answers were right; ``majority`` is the most frequent class's share (percent);
    ``p_value`` is P(X >= correct) for X ~ Binomial(n, majority / 100); ``needed`` is the smallest count
    significant at :data:`CHANCE_ALPHA` (``n + 1`` when none is); ``can_tell`` says whether the split is
    large enough to judge; ``at_chance`` is the verdict.
    """

    correct: int
    n: int
    majority: float
    p_value: float
    needed: int
    can_tell: bool
    at_chance: bool

    def describe(self) -> str:
        """One clause with the bound: what the split needed and what it got."""
        need = f"{self.needed} of {self.n} ({100.0 * self.needed / self.n:.2f}%)"
        return (
            f"{self.correct} of {self.n} right, not above the most frequent class's share by a one-sided "
            f"binomial test at {100 * CHANCE_ALPHA:g}% (p = {self.p_value:.3g}; learning needs {need})"
        )


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly in log space (no scipy: this runs every epoch)."""
    tails = _upper_tails(n, p)
    return tails[min(max(k, 0), n + 1)]


@functools.lru_cache(maxsize=16)
def _upper_tails(n: int, p: float) -> tuple[float, ...]:
    """P(X >= k) for k = 0 .. n + 1, in one pass (cached: a split's size and share repeat every epoch)."""
    if p <= 0.0:
        return (1.0,) + (0.0,) * (n + 1)
    if p >= 1.0:
        return (1.0,) * (n + 1) + (0.0,)
    log_p, log_q, lgn = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    logs = [lgn - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
            for i in range(n + 1)]  # fmt: skip
    top = max(logs)
    pmf = [math.exp(t - top) for t in logs]  # scaled by exp(-top): no underflow of the largest terms
    total = math.fsum(pmf)
    tails, running = [0.0] * (n + 2), 0.0
    for i in range(n, -1, -1):
        running += pmf[i]
        tails[i] = min(1.0, running / total)
    tails[0] = 1.0
    return tuple(tails)


def chance_verdict(correct: int, n: int, majority: float, alpha: float = CHANCE_ALPHA) -> ChanceVerdict:
    """Whether ``correct`` right answers of ``n`` are at chance against a most frequent class of ``majority``
    percent.

    Two conditions, both needed to call chance:

    * the count is not above chance: a one-sided binomial test of "each answer is right with probability
      ``majority``/100" (what always answering the most frequent class gets) does not reject at ``alpha``;
    * the split can tell chance from learning: the smallest significant count is at most halfway from the
      majority share to every answer right (a model that gets half of the answers chance gets wrong would
      pass).  8 images of 4 balanced classes need 6 right (75% > 62.5%): such a split never calls chance.
    """
    if n <= 0:
        return ChanceVerdict(correct, n, majority, 1.0, 1, False, False)
    p = majority / 100.0
    tails = _upper_tails(n, p)
    p_value = tails[min(max(correct, 0), n + 1)]
    needed = next((k for k in range(n + 2) if tails[k] < alpha), n + 1)
    can_tell = needed <= n * (p + (1.0 - p) / 2.0)
    return ChanceVerdict(correct, n, majority, p_value, needed, can_tell, can_tell and p_value >= alpha)


def single_step_advice(steps_per_epoch: int, batch_size: int, epochs: int) -> str | None:
    """The fix for a run too short to learn (one optimizer step an epoch), or None when it is not."""
    if steps_per_epoch > 1:
        return None
    return (
        f"each epoch is a single step of {batch_size} images, {epochs} step(s) in all: lower "
        "trainer.batch_size or raise trainer.epochs (or add images)"
    )


class TrainingHealthError(RuntimeError):
    """A training run stopped unhealthy (exit code 3); the message names the likely cause and the fix."""


class DegenerateModelError(InputError):
    """A model at chance was asked for a fault or attack evaluation without ``--allow-degenerate``."""


def majority_share(labels: Any) -> float:
    """The share (percent) of the most frequent label among ``labels`` (a tensor, array or sequence)."""
    import numpy as np

    values = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels).ravel()
    if values.size == 0:
        raise InputError("no labels to judge chance accuracy from: the split is empty")
    _, counts = np.unique(values, return_counts=True)
    return 100.0 * float(counts.max()) / float(values.size)


def at_chance(accuracy: float, majority: float, margin: float = DEGENERATE_MARGIN) -> bool:
    """True when ``accuracy`` (percent) is within ``margin`` points of ``majority`` (or below it)."""
    return accuracy <= majority + margin


def refuse_degenerate(clean_acc: float, majority: float, what: str, allow: bool = False) -> None:
    """Raise :class:`DegenerateModelError` for a model at chance unless ``allow``; ``what`` names it."""
    if allow or not at_chance(clean_acc, majority):
        return
    raise DegenerateModelError(
        f"{what} has clean accuracy {clean_acc:.2f}%, within {DEGENERATE_MARGIN:g} points of the most "
        f"frequent class's share ({majority:.2f}%): it is at chance and its results would mean nothing; "
        "retrain it (see its train.log), or pass `option.allow_degenerate` to evaluate it anyway"
    )


def check_run(run: Any, allow: bool = False) -> None:
    """Refuse a loaded run (:class:`wcatsim.train.runs.LoadedRun`) whose model is at chance on its test split,
    or whose training stopped unhealthy (``"healthy": false`` in its ``summary.json``).

    The clean accuracy is measured on the test split (one pass, the same evaluation every sweep starts
    with), not read from ``summary.json``, which a checkpoint copied into the run would not match.
    """
    if allow:
        return
    summary = _read_summary(Path(run.dir))
    if summary.get("healthy") is False:
        raise DegenerateModelError(
            f"the training of {run.dir} stopped unhealthy ({summary.get('reason', 'see its train.log')}); "
            "retrain it, or pass `option.allow_degenerate` to evaluate it anyway"
        )
    from wcatsim.train.evaluate import accuracy

    x, y = run.data.test_tensors()
    clean = float(accuracy(run.model, x, y, device=run.device))
    refuse_degenerate(clean, majority_share(y), f"the model in {run.dir}")


def check_sweeps(sweeps: Sequence[Any], allow: bool = False) -> None:
    """Refuse voltage sweeps (:class:`wcatsim.analysis.pareto.Sweep`) of models at chance (``wcatsim
    pareto``).

    The clean accuracy is the sweep's ``clean_acc``; the most frequent class's share is the one the run's
    ``summary.json`` recorded, else that of the test split of the dataset its ``config.toml`` names.  A
    sweep CSV with neither beside it cannot be judged and is let through.
    """
    if allow:
        return
    for sweep in sweeps:
        clean = float(sweep.clean_acc)
        majority = run_majority_share(Path(sweep.source).parent)
        if majority is not None and clean == clean:  # NaN: nothing to judge
            refuse_degenerate(clean, majority, f"the model of {sweep.source}")


def run_majority_share(run_dir: Path) -> float | None:
    """The most frequent class's share (percent) of a run's test split, or None when it cannot be known."""
    value = _read_summary(run_dir).get(MAJORITY_KEY)
    if isinstance(value, (int, float)):
        return float(value)
    if not (run_dir / "config.toml").is_file():
        return None
    from wcatsim.config import load_config
    from wcatsim.train.runs import load_dataset_for

    data = load_dataset_for(load_config([run_dir / "config.toml"]))
    return majority_share(data.test_tensors()[1])


def _read_summary(run_dir: Path) -> dict[str, Any]:
    """A run's summary.json, or {} when it has none (a checkpoint copied in) or it is unreadable."""
    import json

    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def chance_threshold(y: Any, num_classes: int) -> float:
    """Accuracy in percent of always answering the most frequent test class, plus 1/C percent.

    On a balanced test set this is the original WCAT code's stop accuracy 100/C + 1/C (10.1 % for C = 10).
    """
    import torch

    counts = torch.bincount(y.to(torch.int64).cpu(), minlength=num_classes)
    return 100.0 * float(counts.max()) / float(y.numel()) + 1.0 / num_classes


__all__ = [
    "CHANCE_ALPHA", "ChanceVerdict", "binomial_upper_tail", "chance_verdict", "single_step_advice",
    "DEGENERATE_MARGIN", "MAJORITY_KEY", "DegenerateModelError", "TrainingHealthError", "at_chance",
    "chance_threshold",
    "check_run", "check_sweeps", "majority_share", "refuse_degenerate", "run_majority_share",
]
