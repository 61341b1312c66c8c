"""Test accuracy during an attack, and the exact stop decision on the whole test set.

The stop rule is ``accuracy <= threshold`` on the *whole* test set.  With ``subset = K > 0`` the
accuracy logged per iteration is that of a fixed, seeded subset of K test images (fast), and the
stop decision is still exact: the test images are counted in a fixed order that starts with the
subset, and counting stops as soon as the answer is certain (more correct answers than the threshold
allows, or too few images left to get above it).  Far from the threshold that costs no more than the
subset; near it, every image is counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sram_models.errors import InputError
from wcatsim.image import run_from_image
from wcatsim.memory.replay import PrefixReplay
from wcatsim.train.evaluate import CPU_BATCH
from wcatsim.train.quant import quantized_layers

from .problem import as_model_input

# Test images counted per step of the early-stopping count: two inference batches, so a decision that
# is certain early costs little more than the subset.
COUNT_CHUNK = 2 * CPU_BATCH
# The per-iteration subset is run in chunks of this many images, each with its own record of
# activations, so that an iteration recomputes only from the changed layer on.
REPLAY_CHUNK = 256
# Memory the records may take (bytes).  ResNet-20 on 32x32 images keeps about 2.6 MB per image, so
# 2 GiB hold a 512-image subset; chunks beyond the budget run without a record.
REPLAY_MEMORY = 2 << 30


def original_threshold(num_classes: int) -> float:
    """The WCAT code's stop accuracy in percent, 100/C + 1/C (10.1% for C = 10), whatever the test set's
    class balance: recorded beside the project's threshold so that flip counts compare with the
    literature."""
    return 100.0 / num_classes + 1.0 / num_classes


def max_correct_at_threshold(n: int, threshold: float) -> int:
    """The largest count ``c`` of correct answers out of ``n`` with ``100 c / n <= threshold`` (-1: none)."""
    c = math.floor(threshold * n / 100.0)
    while c >= 0 and 100.0 * c / n > threshold:  # guard the float rounding of the product
        c -= 1
    while c + 1 <= n and 100.0 * (c + 1) / n <= threshold:
        c += 1
    return min(c, n)


@dataclass(frozen=True)
class Check:
    """Accuracy after an iteration and whether the model is broken."""

    acc: float  # percent, on ``images`` test images (the subset, or all)
    images: int
    broken: bool  # exact: whole-test-set accuracy <= threshold
    full_acc: float | None  # whole-test-set accuracy when every image was counted, else None
    # exact: whole-test-set accuracy <= the evaluator's original_threshold; None when it has none
    below_original: bool | None = None


class StopEvaluator:
    """Counts correct test answers of a model run from integer codes."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, threshold: float,
                 subset: int = 0, seed: int = 0, share_prefix: bool = True,
                 original_threshold: float | None = None) -> None:
        n = int(y.numel())
        if n == 0:
            raise InputError("the test set is empty: the attack needs test images to decide when it has won")
        if subset < 0:
            raise InputError(f"eval_subset must be >= 0 (0 = whole test set), got {subset}")
        self.model = model
        self.n = n
        self.subset = n if subset == 0 or subset >= n else int(subset)
        # A fixed seeded order, the subset first; the same for every trial so the curves compare.
        if self.subset < n:
            order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
        else:
            order = torch.arange(n)
        self.x = as_model_input(model, x[order])
        self.y = y[order].cpu()
        self.threshold = float(threshold)
        self.max_correct = max_correct_at_threshold(n, self.threshold)
        # A second exact decision at the WCAT code's threshold (None: not asked).
        self.original_threshold = None if original_threshold is None else float(original_threshold)
        self.original_max_correct = (
            None if original_threshold is None else max_correct_at_threshold(n, float(original_threshold))
        )
        self.images_counted = 0  # test images evaluated over the attack (for the record)
        self.layers = quantized_layers(model)
        self.device = next(model.parameters()).device
        # Fixed chunk boundaries (the subset's, then the rest's), the same for every count, so that the
        # whole-set accuracy and the stop decision see exactly the same forwards.
        self._subset_chunks = [(a, min(a + REPLAY_CHUNK, self.subset))
                               for a in range(0, self.subset, REPLAY_CHUNK)]
        self._rest_chunks = [(a, min(a + COUNT_CHUNK, n)) for a in range(self.subset, n, COUNT_CHUNK)]
        # Records of the subset's activations, as far as REPLAY_MEMORY allows.
        self.share_prefix = share_prefix
        self._replays: list[PrefixReplay] = []
        self._replay_limit: int | None = None  # chunks that may keep a record (set after the first)
        self._recorded_codes: dict[str, torch.Tensor] | None = None

    @property
    def describe(self) -> str:
        if self.subset == self.n:
            return f"per-iteration accuracy and stop decision on the whole test set ({self.n} images)"
        return (
            f"per-iteration accuracy on a fixed subset of {self.subset} of {self.n} test images; "
            f"stop decision and final accuracy on the whole test set ({self.n} images)"
        )

    def _correct(self, start: int, stop: int, replay: PrefixReplay | None = None, prefix: int = 0) -> int:
        """Correct answers on test images ``start:stop`` (inside ``run_from_image``)."""
        self.images_counted += stop - start
        with torch.no_grad():
            if replay is None:
                logits = self.model(self.x[start:stop].to(self.device))
            else:
                with replay.run(prefix=prefix, record=True):
                    logits = self.model(self.x[start:stop].to(self.device))
        return int((logits.argmax(dim=1).cpu() == self.y[start:stop]).sum())

    def _subset_correct(self, codes: dict[str, torch.Tensor]) -> int:
        """Correct answers on the subset at ``codes`` (inside ``run_from_image``), recomputing each
        recorded chunk only from the first layer that changed since the last call."""
        if not self.share_prefix:
            return sum(self._correct(a, b) for a, b in self._subset_chunks)
        previous = self._recorded_codes
        changed = list(self.layers) if previous is None else [
            name for name in self.layers if not torch.equal(previous[name], codes[name])
        ]
        correct = 0
        for ci, (a, b) in enumerate(self._subset_chunks):
            if self._replay_limit is not None and ci >= self._replay_limit:
                correct += self._correct(a, b)
                continue
            if ci == len(self._replays):
                self._replays.append(PrefixReplay(self.model, list(self.layers.values())))
            replay = self._replays[ci]
            prefix = 0
            if replay.recorded:
                firsts = [replay.first_call(self.layers[name]) for name in changed]
                prefix = min(firsts) if firsts else len(replay.units) * 10**6
            correct += self._correct(a, b, replay, prefix)
            if self._replay_limit is None and replay.recorded:
                budget = REPLAY_MEMORY // max(1, replay.nbytes())
                self._replay_limit = max(0, min(len(self._subset_chunks), budget))
                if self._replay_limit == 0:
                    self._replays.clear()
        self._recorded_codes = {name: c.clone() for name, c in codes.items()}
        return correct

    def accuracy(self, codes: dict[str, torch.Tensor]) -> float:
        """Whole-test-set accuracy in percent at ``codes``."""
        with run_from_image(self.model, codes):
            chunks = self._subset_chunks + self._rest_chunks
            return 100.0 * sum(self._correct(a, b) for a, b in chunks) / self.n

    def check(self, codes: dict[str, torch.Tensor]) -> Check:
        """Logged accuracy and the exact stop decisions (the threshold, and the original one if set)."""
        limits = [self.max_correct]
        if self.original_max_correct is not None:
            limits.append(self.original_max_correct)
        with run_from_image(self.model, codes):
            correct = self._subset_correct(codes)
            acc = 100.0 * correct / self.subset
            pos = self.subset
            for a, b in self._rest_chunks:
                # Undecided while the count could still end on either side of a threshold.
                if not any(correct <= m < correct + (self.n - pos) for m in limits):
                    break
                correct += self._correct(a, b)
                pos = b
        full = 100.0 * correct / self.n if pos == self.n else None
        below = None if self.original_max_correct is None else correct <= self.original_max_correct
        return Check(acc=acc, images=self.subset, broken=correct <= self.max_correct, full_acc=full,
                     below_original=below)
