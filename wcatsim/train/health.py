"""Is a model worth training on, or evaluating?  The two loud failures of the project's health rule.

- A training run that goes unhealthy (a non-finite loss, a learned range at its floor, validation accuracy
  at chance from the third epoch on) stops with :class:`TrainingHealthError`: the ``wcatsim`` commands
  print its one line and exit with code 3 (``cli._common.handles_errors``), the run directory keeps its
  checkpoints for inspection and ``summary.json`` says ``"healthy": false`` and why.
- A fault or attack command asked to evaluate a model at chance refuses with
  :class:`DegenerateModelError` (an :class:`~sram_models.errors.InputError`, exit 2), unless it is told
  ``--allow-degenerate``: a Bit-Flip Attack on a dead model "breaks it in 0 flips" and a random-flip
  table of it is flat at chance, numbers that look like results and are not.

"At chance" is one rule everywhere: an accuracy within :data:`DEGENERATE_MARGIN` points of the share of
the most frequent class of the split it was measured on (10% on a balanced 10-class set, so 12% or
less), the accuracy a model that always answers that class gets.  Accuracies are percent.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    "DEGENERATE_MARGIN", "MAJORITY_KEY", "DegenerateModelError", "TrainingHealthError", "at_chance",
    "chance_threshold",
    "check_run", "check_sweeps", "majority_share", "refuse_degenerate", "run_majority_share",
]
