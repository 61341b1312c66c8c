"""Seeds of every fault draw, derived from what the draw *is*, never from when it ran.

A transient realisation is keyed by (base seed, operating point, realisation
index); a simulated chip by (base seed, chip index) only, its voltage setting
just the threshold.  Because nothing depends on executor, worker count or
order, a sweep gives the same table locally, on Dask, resumed or not; and two
models evaluated with the same base seed see the same fault positions
(common random numbers), so their difference is estimated with little noise.

The operating point enters by the exact bits of its float64 value, so
``1e-3`` typed as ``0.001`` or read back from a CSV gives the same faults, and
extending a BER list does not change the points already in it.
"""

from __future__ import annotations

import numpy as np

# Domain tags keep the streams of different uses apart even for equal integers.
_TRANSIENT = 1
_CHIP = 2
_SUBSET = 3  # the test images a realisation is evaluated on (nested Monte Carlo)


def _float_words(value: float) -> list[int]:
    bits = int(np.array([float(value) + 0.0], dtype=np.float64).view(np.uint64)[0])  # +0.0: -0.0 == 0.0
    return [bits >> 32, bits & 0xFFFFFFFF]


def _check(name: str, value: int) -> int:
    value = int(value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _to_seed(entropy: list[int]) -> int:
    # A 63-bit integer: fits the int64 seed of the numba kernels that consume it.
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
    return int(state) & 0x7FFF_FFFF_FFFF_FFFF


def transient_seed(base_seed: int, point: float, realisation: int) -> int:
    """Seed of realisation ``realisation`` of a transient fault draw at operating point ``point``."""
    return _to_seed(
        [_check("base seed", base_seed), _TRANSIENT, *_float_words(point), _check("realisation", realisation)]
    )


def chip_seed(base_seed: int, chip: int) -> int:
    """Seed of simulated chip ``chip``: the same at every voltage (persistent, nested faults)."""
    return _to_seed([_check("base seed", base_seed), _CHIP, _check("chip", chip)])


def subset_seed(base_seed: int, point: float, realisation: int) -> int:
    """Seed of the test-image subset realisation ``realisation`` at ``point`` is evaluated on.

    Keyed like :func:`transient_seed` but in its own domain, so the subset is independent of the fault
    draw while two models run with one base seed still share both (common random numbers).
    """
    return _to_seed(
        [_check("base seed", base_seed), _SUBSET, *_float_words(point), _check("realisation", realisation)]
    )
