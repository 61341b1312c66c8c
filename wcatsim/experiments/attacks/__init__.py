"""Attacks on the integer weight image: the Bit-Flip Attack (progressive bit search) and its random baseline.

Modules: :mod:`.bits` (two's-complement bit maths), :mod:`.search` (one search iteration),
:mod:`wcatsim.memory.replay` (sharing the layers below a candidate), :mod:`.problem` (loss and
gradients from the image), :mod:`.evaluation` (test accuracy and the stop decision),
:mod:`.objectives` (what an attack maximises and when it has won, by name), :mod:`.random_baseline`,
:mod:`.bfa` (trials, summary, result files).  Names are imported lazily (torch is heavy).
"""

from __future__ import annotations

from sram_models.lazy import lazy_exports

_EXPORTS = {
    "run_bfa": "wcatsim.experiments.attacks.bfa",
    "BFAResult": "wcatsim.experiments.attacks.bfa",
    "TrialResult": "wcatsim.experiments.attacks.bfa",
    "search_step": "wcatsim.experiments.attacks.search",
    "ImageAttackProblem": "wcatsim.experiments.attacks.problem",
    "random_flip_accuracy": "wcatsim.experiments.attacks.random_baseline",
    "ATTACK_OBJECTIVES": "wcatsim.experiments.attacks.objectives",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
