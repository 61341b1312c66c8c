"""Attack objectives: what the Bit-Flip Attack maximises and when it has won.

An objective is registered in :data:`ATTACK_OBJECTIVES` under the name :func:`run_bfa
<wcatsim.experiments.attacks.bfa.run_bfa>` takes (``objective="untargeted"``).  It builds the two things
a trial needs:

- ``problem(model, x, y, steps, bits, share_prefix)``: the attack-batch problem whose loss the search
  raises (:class:`~wcatsim.experiments.attacks.problem.ImageAttackProblem` with the objective's loss);
- ``stop_rule(model, x_test, y_test, threshold, subset, seed, original_threshold)``: the evaluator that
  logs the test accuracy and decides, exactly, when the model is broken
  (:class:`~wcatsim.experiments.attacks.evaluation.StopEvaluator`).

A new objective (e.g. a targeted one: raise the loss of one class towards a target) is one class here
or in its own module listed in the registry's homes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sram_models.registry import Registry

from .evaluation import StopEvaluator
from .problem import ImageAttackProblem

ATTACK_OBJECTIVES: Registry = Registry("attack objective", homes=(__name__,))


@ATTACK_OBJECTIVES.register("untargeted")
class Untargeted:
    """Untargeted: raise the attack batch's cross-entropy until the test accuracy is at or below the
    threshold (Rakin et al., ICCV 2019)."""

    name = "untargeted"

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
                  subset: int = 0, seed: int = 0, original_threshold: float | None = None) -> StopEvaluator:
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

        Returns
        -------
        StopEvaluator
        """
        return StopEvaluator(model, x, y, threshold, subset=subset, seed=seed,
                             original_threshold=original_threshold)


__all__ = ["ATTACK_OBJECTIVES", "Untargeted"]
