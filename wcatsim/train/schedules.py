"""Learning-rate schedules as plain functions of the training position (no hidden state to checkpoint)."""

from __future__ import annotations

import math

SCHEDULES = ("cosine", "exponential", "constant")


def lr_factor(schedule: str, step: int, total_steps: int, epoch: int, gamma: float) -> float:
    """Multiplier of the peak learning rate at optimizer ``step`` (0-based) of ``total_steps``.

    ``cosine``: half a cosine from 1 at the first step to 0 at the end of the run, updated every step
    (torch's CosineAnnealingLR with ``T_max`` = the run and ``eta_min`` = 0, as the original WCAT
    CIFAR recipe uses, but per step instead of per epoch, so short runs decay smoothly too).
    ``exponential``: ``gamma ** epoch`` (torch's ExponentialLR, stepped once per epoch).
    ``constant``: 1.
    """
    if schedule == "cosine":
        if total_steps <= 1:
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
    if schedule == "exponential":
        return gamma**epoch
    if schedule == "constant":
        return 1.0
    raise ValueError(f"unknown schedule {schedule!r}; allowed: {', '.join(SCHEDULES)}")
