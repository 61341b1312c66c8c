"""Attacks on the integer weight image: the Bit-Flip Attack (progressive bit search) and its random baseline.

Modules: :mod:`.bits` (two's-complement bit maths), :mod:`.search` (one search iteration),
:mod:`.replay` (sharing the layers below a candidate), :mod:`.problem` (loss and gradients from the
image), :mod:`.evaluation` (test accuracy and the stop decision), :mod:`.random_baseline`,
:mod:`.bfa` (trials, summary, result files).  Names are imported lazily (torch is heavy).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "run_bfa": "wcatsim.attacks.bfa",
    "BFAResult": "wcatsim.attacks.bfa",
    "TrialResult": "wcatsim.attacks.bfa",
    "search_step": "wcatsim.attacks.search",
    "ImageAttackProblem": "wcatsim.attacks.problem",
    "random_flip_accuracy": "wcatsim.attacks.random_baseline",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'wcatsim.attacks' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
