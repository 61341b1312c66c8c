"""Progressive bit search (Rakin et al., ICCV 2019) on an integer weight image, with candidate widening.

One iteration (issue 5, steps 1-5):

1. forward and backward on the attack batch at the current codes: the loss gradient of every weight;
2. per layer, the ``k_top`` weights with the largest |gradient| (ties: lower flat index first); each of
   their bits gets the bit gradient ``dL/dw * step * value`` (:mod:`wcatsim.experiments.attacks.bits`),
   masked to 0 where the flip cannot raise the loss;
3. per layer, the ``n`` bits with the largest |masked gradient| (ties: lower weight index, then lower
   bit) are flipped in a copy of that layer's codes and the attack-batch loss is measured;
4. the layer whose flips raised the loss most wins (ties: the earlier layer); if none raised it,
   ``n := n + 1`` and back to 3, until ``n`` exceeds every layer's candidate count;
5. then ``k_top`` is doubled (per layer, up to all its weights), every widening is logged, and the
   search restarts at ``n = 1``; if even all weights give nothing, the iteration has *stalled*.  With a
   cap ``k_max`` (``attack.bfa.k_top_max``) the widening stops there instead: nothing found within
   the top-``k_max`` weights is a stall too (a weaker one: a flip outside them was not tried).

The search only talks to an :class:`AttackProblem` (gradients, candidate losses), so it is the same
code whether the forwards share cached activations or not; ``tests/naive.py`` holds the slow
obvious version that must pick the same flips.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from .bits import flip_bit, masked_bit_gradients


class AttackProblem(Protocol):
    """What the search needs from a model: gradients and candidate losses on the attack batch."""

    layer_names: list[str]  # quantized layers in forward order
    steps: dict[str, float]
    bits: dict[str, int]

    def loss_and_gradients(self, codes: dict[str, torch.Tensor]) -> tuple[float, dict[str, torch.Tensor]]:
        """Attack-batch loss at ``codes`` and dL/dw of every layer's dequantized weights (CPU float32)."""
        ...

    def candidates(self, codes: dict[str, torch.Tensor]) -> AbstractContextManager[None]:
        """A block in which :meth:`candidate_loss` measures changes to ``codes``.

        Entered only right after :meth:`loss_and_gradients` at the same ``codes``.
        """
        ...

    def candidate_loss(self, layer: str, layer_codes: torch.Tensor) -> float:
        """Attack-batch loss with ``layer``'s codes replaced by ``layer_codes`` (the rest as in the block)."""
        ...


@dataclass(frozen=True)
class Flip:
    """One committed bit flip."""

    layer: str
    index: int  # flat index of the weight in its layer
    bit: int  # 0 = LSB, N-1 = sign bit
    code_before: int
    code_after: int


@dataclass
class StepResult:
    """The outcome of one search iteration."""

    flips: list[Flip]  # empty when stalled
    loss_before: float
    loss_after: float  # attack-batch loss after the flips (== loss_before when stalled)
    n: int  # bits flipped
    k_top: int  # the k_top (before per-layer capping) at which the flips were found
    widenings: list[str]  # one message per widening of the candidates

    @property
    def stalled(self) -> bool:
        return not self.flips


def layer_candidates(codes: torch.Tensor, grad: torch.Tensor, step: float, bits: int, k: int) -> np.ndarray:
    """Steps 1-2 for one layer: the harmful bits among the top-``k`` weights, best first.

    Returns an int64 array of shape ``(m, 2)``: (flat weight index, bit), sorted by |masked bit
    gradient| descending, ties by weight index then bit; only bits whose masked gradient is non-zero
    (a flip that raises the loss to first order) are included, so ``m`` may be 0.
    """
    flat_grad = grad.reshape(-1)
    flat_codes = codes.reshape(-1)
    k = min(int(k), flat_grad.numel())
    abs_grad = flat_grad.abs().numpy()
    # A stable sort of -|g| keeps equal magnitudes in index order: deterministic ties.
    top = np.argsort(-abs_grad, kind="stable")[:k]
    top_t = torch.from_numpy(top)
    masked = masked_bit_gradients(flat_codes[top_t], flat_grad[top_t], step, bits).numpy()  # (k, N)
    weight_idx = np.repeat(top, bits)
    bit_idx = np.tile(np.arange(bits), k)
    magnitude = np.abs(masked).reshape(-1)
    keep = magnitude > 0
    weight_idx, bit_idx, magnitude = weight_idx[keep], bit_idx[keep], magnitude[keep]
    order = np.lexsort((bit_idx, weight_idx, -magnitude))
    return np.stack([weight_idx[order], bit_idx[order]], axis=1).astype(np.int64)


def apply_flips(
    layer_codes: torch.Tensor, chosen: np.ndarray, bits: int, layer: str = ""
) -> tuple[torch.Tensor, list[Flip]]:
    """A copy of ``layer_codes`` with the (index, bit) pairs of ``chosen`` flipped in order, and the flips."""
    new = layer_codes.clone()
    flat = new.view(-1)
    flips = []
    for index, bit in chosen.tolist():
        before = int(flat[index])
        after = int(flip_bit(flat[index : index + 1], int(bit), bits)[0])
        flat[index] = after
        flips.append(Flip(layer, int(index), int(bit), before, after))
    return new, flips


def search_step(
    problem: AttackProblem,
    codes: dict[str, torch.Tensor],
    k_top: int,
    log: Callable[[str], None] | None = None,
    k_max: int = 0,
) -> StepResult:
    """One progressive-bit-search iteration at ``codes`` (not modified); the flips to commit.

    ``k_max`` > 0 caps the widening of ``k_top`` (a stall once the top-``k_max`` weights give nothing);
    0 widens up to every weight of each layer.
    """
    loss, grads = problem.loss_and_gradients(codes)
    names = problem.layer_names
    numels = {name: codes[name].numel() for name in names}
    widenings: list[str] = []
    k = int(k_top)
    with problem.candidates(codes):
        while True:
            cands = {
                name: layer_candidates(codes[name], grads[name], problem.steps[name], problem.bits[name], k)
                for name in names
            }
            most = max((len(c) for c in cands.values()), default=0)
            # Loss of each layer's current candidate set; a layer whose set did not grow since the last n
            # would give the same loss again, so it is measured once.
            measured: dict[str, tuple[int, float]] = {}
            for n in range(1, most + 1):
                best_name, best_loss = None, loss
                for name in names:
                    m = min(n, len(cands[name]))
                    if m == 0:
                        continue
                    if name not in measured or measured[name][0] != m:
                        new_codes, _ = apply_flips(codes[name], cands[name][:m], problem.bits[name], name)
                        measured[name] = (m, problem.candidate_loss(name, new_codes))
                    if measured[name][1] > best_loss:
                        best_name, best_loss = name, measured[name][1]
                if best_name is not None:
                    m = min(n, len(cands[best_name]))
                    chosen = cands[best_name][:m]
                    _, flips = apply_flips(codes[best_name], chosen, problem.bits[best_name], best_name)
                    return StepResult(flips, loss, best_loss, m, k, widenings)
            if all(k >= numels[name] for name in names) or (k_max and k >= k_max):
                return StepResult([], loss, loss, 0, k, widenings)
            new_k = 2 * k if not k_max else min(2 * k, k_max)
            message = (
                f"no flip among the top-{k} weights of any layer raises the attack loss ({most} candidate "
                f"bits tried): widening k_top to {new_k} (capped at each layer's size)"
            )
            widenings.append(message)
            if log is not None:
                log(message)
            k = new_k


def commit(codes: dict[str, torch.Tensor], flips: list[Flip]) -> None:
    """Write ``flips`` into ``codes`` in place (codes after each flip as recorded)."""
    for flip in flips:
        codes[flip.layer].view(-1)[flip.index] = flip.code_after


def code_bit_count(codes: dict[str, torch.Tensor], bits: dict[str, int]) -> int:
    """Stored bits of the image."""
    return sum(int(codes[name].numel()) * bits[name] for name in codes)


__all__ = [
    "AttackProblem",
    "Flip",
    "StepResult",
    "layer_candidates",
    "apply_flips",
    "search_step",
    "commit",
    "code_bit_count",
]
