"""Attack objectives: what the Bit-Flip Attack maximises and when it has won.

An objective is registered in :data:`ATTACK_OBJECTIVES` under the name :func:`run_bfa
<wcatsim.experiments.attacks.bfa.run_bfa>` takes (``objective="untargeted"``).  It builds the two things
a trial needs:

- ``problem(model, x, y, steps, bits, share_prefix)``: the attack-batch problem whose loss the search
  raises (:class:`~wcatsim.experiments.attacks.problem.ImageAttackProblem` with the objective's loss);
- ``stop_rule(model, x_test, y_test, threshold, subset, seed, original_threshold)``: the evaluator that
  logs the test accuracy and decides, exactly, when the model is broken
  (:class:`~wcatsim.experiments.attacks.evaluation.StopEvaluator`).

``"targeted"`` is T-BFA (Rakin et al., TPAMI 2021).  An objective also says what it adds to the
summary (``settings()``, nothing for the untargeted attack so that its keys and fingerprint stay) and to
each row of the flip log (``flip_columns``, read off the evaluator's checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sram_models.errors import InputError
from sram_models.registry import Registry
from wcatsim.image import run_from_image
from wcatsim.train.evaluate import CPU_BATCH

from .evaluation import Check, StopEvaluator
from .problem import ImageAttackProblem, as_model_input

ATTACK_OBJECTIVES: Registry = Registry("attack objective", homes=(__name__,))


@ATTACK_OBJECTIVES.register("untargeted")
class Untargeted:
    """Untargeted: raise the attack batch's cross-entropy until the test accuracy is at or below the
    threshold (Rakin et al., ICCV 2019)."""

    name = "untargeted"
    accuracy_rule = True  # stops on test accuracy (the WCAT code's threshold applies)
    flip_columns: tuple[str, ...] = ()  # no columns beyond FLIP_COLUMNS

    def validate(self, num_classes: int) -> None:
        """Nothing to check against the model."""

    def settings(self, evaluator: Any = None) -> dict[str, Any]:
        """Nothing added to the summary: the untargeted attack's keys and fingerprint stay as they were."""
        return {}

    @staticmethod
    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss the attack maximises: mean cross-entropy of the attack batch."""
        return F.cross_entropy(logits, y)

    def problem(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: dict[str, float],
                bits: dict[str, int], share_prefix: bool = True) -> ImageAttackProblem:
        """The attack-batch problem of one trial.

        Parameters
        ----------
        model : nn.Module
            The quantized model (run from integer codes).
        x, y : torch.Tensor
            The attack batch and its labels.
        steps, bits : dict
            Per quantized layer, its step and its N.
        share_prefix : bool
            Share the layers below a candidate's layer between candidate forwards.

        Returns
        -------
        ImageAttackProblem
        """
        return ImageAttackProblem(model, x, y, steps, bits, share_prefix=share_prefix, loss=self.loss)

    def stop_rule(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, threshold: float,
                  subset: int = 0, seed: int = 0, original_threshold: float | None = None,
                  clean_codes: dict[str, torch.Tensor] | None = None) -> StopEvaluator:
        """The stop decision: whole-test-set accuracy (percent) at or below ``threshold``.

        Parameters
        ----------
        model : nn.Module
            The quantized model.
        x, y : torch.Tensor
            The test images and labels.
        threshold : float
            The stop accuracy in percent.
        subset : int
            Test images whose accuracy is logged per iteration (0: all).
        seed : int
            Seed of the subset's order.
        original_threshold : float, optional
            A second exact decision (the WCAT code's 100/C + 1/C).
        clean_codes : dict, optional
            The clean image (not needed by this rule).

        Returns
        -------
        StopEvaluator
        """
        return StopEvaluator(model, x, y, threshold, subset=subset, seed=seed,
                             original_threshold=original_threshold)


# The targeted objective's defaults.  T-BFA (Rakin et al., TPAMI 2021) reports attack success rates
# near 100%; issue 20 asks for >= 90% on the digits maxabs model, hence 90% as the success threshold.
# The other classes may lose at most 5 points of accuracy: the "within 5 points of clean" of issue 20 §4.
SUCCESS_THRESHOLD = 90.0
MAX_OTHER_DROP = 5.0


def source_mask(y: torch.Tensor, target: int, source: int | None) -> torch.Tensor:
    """The images the targeted attack sends to ``target``: those of class ``source`` (1-to-1), or every
    image not of class ``target`` (N-to-1; those of class ``target`` already are)."""
    return y == source if source is not None else y != target


def targeted_loss(logits: torch.Tensor, y: torch.Tensor, target: int, source: int | None) -> torch.Tensor:
    """The loss the targeted search *maximises*: minus T-BFA's loss.

    T-BFA (Rakin et al., TPAMI 2021, the 1-to-1 stealthy attack) minimises
    ``alpha * CE(f(x_s), t) + beta * CE(f(x_r), y_r)``: the source images ``x_s`` to the target ``t``,
    the rest ``x_r`` kept at their labels.  Here ``alpha = beta = 1``, each term a mean over its own
    images (so the few source images of a random batch weigh as much as the many others), and an empty
    group adds 0.  Without a source class (N-to-1) the rest are the target's own images, whose labels are
    ``t``: the loss is then T-BFA's N-to-1 loss, every image to ``t``.
    """
    src = source_mask(y, target, source)
    zero = logits.sum() * 0.0  # keeps the graph (and the dtype) when a group is empty
    to_target = F.cross_entropy(logits[src], torch.full_like(y[src], target)) if src.any() else zero
    keep = F.cross_entropy(logits[~src], y[~src]) if (~src).any() else zero
    return -(to_target + keep)


@dataclass(frozen=True)
class TargetedCheck(Check):
    """A :class:`Check` of the targeted objective: ``broken`` means the attack succeeded."""

    asr: float = 0.0  # percent of the source test images classified as the target
    other_acc: float = 0.0  # accuracy (percent) on the other test images

    def columns(self) -> dict[str, float]:
        """This check's values for the flip log's extra columns (:attr:`Targeted.flip_columns`)."""
        return {"asr": self.asr, "other_acc": self.other_acc}


class TargetedEvaluator:
    """Exact success decision of the targeted attack on the whole test set.

    Success: attack success rate (source test images classified as the target) ``>= success_threshold``
    and accuracy on the other test images ``>= clean - max_other_drop`` (the clean value from
    ``clean_codes``).  Every check runs the whole test set (no subset: both rates are needed exactly).
    """

    original_max_correct = None  # no second threshold: a trial ends at success
    original_threshold = None

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, target: int, source: int | None,
                 success_threshold: float, max_other_drop: float,
                 clean_codes: dict[str, torch.Tensor]) -> None:
        self.model = model
        self.x = as_model_input(model, x)
        self.y = y.cpu()
        self.n = self.subset = int(self.y.numel())
        self.target, self.source = int(target), source
        self.src = source_mask(self.y, self.target, source)
        if not self.src.any():
            raise InputError(f"the test set holds no image of source class {source}: nothing to attack")
        self.success_threshold = float(success_threshold)
        self.max_other_drop = float(max_other_drop)
        self.device = next(model.parameters()).device
        self.clean_asr, self.clean_other_acc, _ = self.rates(clean_codes)

    @property
    def describe(self) -> str:
        return (f"attack success rate and other-class accuracy on the whole test set ({self.n} images, "
                f"{int(self.src.sum())} source images)")

    def predictions(self, codes: dict[str, torch.Tensor]) -> torch.Tensor:
        """Predicted class of every test image at ``codes``."""
        out = []
        with torch.no_grad(), run_from_image(self.model, codes):
            for a in range(0, self.n, CPU_BATCH):
                out.append(self.model(self.x[a:a + CPU_BATCH].to(self.device)).argmax(dim=1).cpu())
        return torch.cat(out)

    def rates(self, codes: dict[str, torch.Tensor]) -> tuple[float, float | None, float]:
        """Attack success rate, other-class accuracy (None: no other image) and accuracy, in percent."""
        pred = self.predictions(codes)
        others = ~self.src
        # from integer counts, so that a rate is the exact fraction (a float32 mean is not)
        asr = 100.0 * int((pred[self.src] == self.target).sum()) / int(self.src.sum())
        n_other = int(others.sum())
        other = 100.0 * int((pred[others] == self.y[others]).sum()) / n_other if n_other else None
        return asr, other, 100.0 * int((pred == self.y).sum()) / self.n

    def accuracy(self, codes: dict[str, torch.Tensor]) -> float:
        """Whole-test-set accuracy in percent at ``codes``."""
        return self.rates(codes)[2]

    def check(self, codes: dict[str, torch.Tensor]) -> TargetedCheck:
        """Accuracy, both rates, and the exact success decision."""
        asr, other, acc = self.rates(codes)
        kept = other is None or other >= self.clean_other_acc - self.max_other_drop
        return TargetedCheck(acc=acc, images=self.n, broken=asr >= self.success_threshold and kept,
                             full_acc=acc, asr=asr, other_acc=other if other is not None else float("nan"))


@ATTACK_OBJECTIVES.register("targeted")
class Targeted:
    """Targeted (T-BFA, Rakin et al., TPAMI 2021): send the source images to ``target_class`` while the
    others keep their predictions; N-to-1 without ``source_class``, 1-to-1 with one.

    Parameters
    ----------
    target_class : int
        The class the source images are pushed to.
    source_class : int, optional
        The class whose images are attacked (None: every class but the target, N-to-1).
    success_threshold : float
        Attack success rate (percent of source test images classified as the target) at which a trial
        has won.
    max_other_drop : float
        Points of accuracy the other test images may lose at success.
    """

    name = "targeted"
    accuracy_rule = False  # stops on attack success, not on accuracy
    flip_columns = (
        "asr",  # attack success rate (percent of the source test images classified as the target)
        "other_acc",  # accuracy (percent) on the other test images
    )

    def __init__(self, target_class: int, source_class: int | None = None,
                 success_threshold: float = SUCCESS_THRESHOLD,
                 max_other_drop: float = MAX_OTHER_DROP) -> None:
        # errors name `option.NAME` keys: the CLI shows them as its flags (--target-class, ...)
        for what, value in (("target_class", target_class), ("source_class", source_class)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise InputError(f"`option.{what}` must be a class index >= 0, got {value!r}")
        if source_class is not None and source_class == target_class:
            raise InputError(f"`option.source_class` {source_class} is the target class: a 1-to-1 attack "
                             "needs two classes (leave it out for N-to-1)")
        if not 0.0 < float(success_threshold) <= 100.0:
            raise InputError(f"success_threshold must be a percentage in (0, 100], got {success_threshold!r}")
        if not 0.0 <= float(max_other_drop) <= 100.0:
            raise InputError(f"max_other_drop must be in [0, 100] points, got {max_other_drop!r}")
        self.target_class, self.source_class = int(target_class), source_class
        self.success_threshold, self.max_other_drop = float(success_threshold), float(max_other_drop)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss the attack maximises (:func:`targeted_loss`)."""
        return targeted_loss(logits, y, self.target_class, self.source_class)

    def validate(self, num_classes: int) -> None:
        """Refuse a class outside ``0..num_classes-1`` (one line)."""
        for what, value in (("target_class", self.target_class), ("source_class", self.source_class)):
            if value is not None and value >= num_classes:
                raise InputError(f"`option.{what}` {value} is not a class of this model: use "
                                 f"0..{num_classes - 1}")

    def settings(self, evaluator: TargetedEvaluator | None = None) -> dict[str, Any]:
        """What the summary records of this objective (fingerprinted with the attack's settings); with
        the evaluator, the clean model's rates too."""
        clean = {} if evaluator is None else {
            "clean_attack_success_rate": evaluator.clean_asr,
            "clean_other_classes_accuracy": evaluator.clean_other_acc,
        }
        return {**clean,
            "objective": self.name,
            "target_class": self.target_class,
            "source_class": self.source_class,
            "attack_mode": "N-to-1" if self.source_class is None else "1-to-1",
            "success_threshold": self.success_threshold,
            "max_other_drop": self.max_other_drop,
            "objective_rule": (
                "success: attack success rate (percent of source test images classified as target_class; "
                "source: class source_class, or every class but the target when null) >= success_threshold "
                "and accuracy on the other test images >= clean - max_other_drop points; loss maximised: "
                "-(CE(source, target) + CE(others, labels)), each a mean over its images (T-BFA, Rakin et "
                "al., TPAMI 2021, alpha = beta = 1)"
            ),
        }

    @staticmethod
    def trial_record(evaluator: TargetedEvaluator, rows: list[dict[str, Any]], flips: int,
                     random_codes: dict[str, torch.Tensor]) -> dict[str, Any]:
        """One trial's values for the summary: the rates at success (or at the end, when the trial did
        not succeed) from the flip log, and those after as many random flips (``random_codes``)."""
        at = [row for row in rows if row["flip"] <= flips]
        asr, other = (at[-1]["asr"], at[-1]["other_acc"]) if at else (evaluator.clean_asr,
                                                                       evaluator.clean_other_acc)
        random_asr, random_other, _ = evaluator.rates(random_codes)
        return {
            "attack_success_rate": asr,
            "other_classes_accuracy": other,
            "random_baseline_attack_success_rate": random_asr,
            "random_baseline_other_classes_accuracy": random_other,
        }

    def problem(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: dict[str, float],
                bits: dict[str, int], share_prefix: bool = True) -> ImageAttackProblem:
        """The attack-batch problem of one trial, with :meth:`loss` (see :meth:`Untargeted.problem`)."""
        return ImageAttackProblem(model, x, y, steps, bits, share_prefix=share_prefix, loss=self.loss)

    def stop_rule(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, threshold: float,
                  subset: int = 0, seed: int = 0, original_threshold: float | None = None,
                  clean_codes: dict[str, torch.Tensor] | None = None) -> TargetedEvaluator:
        """The success decision (:class:`TargetedEvaluator`); ``threshold``, ``subset``, ``seed`` and
        ``original_threshold`` are the untargeted rule's and are not used."""
        if clean_codes is None:
            raise InputError("the targeted stop rule needs the clean codes (the other classes' reference)")
        return TargetedEvaluator(model, x, y, self.target_class, self.source_class, self.success_threshold,
                                 self.max_other_drop, clean_codes)


__all__ = ["ATTACK_OBJECTIVES", "Targeted", "TargetedEvaluator", "Untargeted", "targeted_loss"]
