"""The kernels' inline SplitMix64 generator and geometric gaps (a state local to each kernel)."""

from __future__ import annotations

import numpy as np
from numba import njit

FAST = {"nnan", "ninf", "nsz", "arcp", "contract"}
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def _next(state):
    """SplitMix64: (new state, 64 random bits)."""
    state = state + _GOLDEN
    x = state
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, x ^ (x >> np.uint64(31))


@njit(cache=True, inline="always")
def _uniform(state):
    """(new state, u) with u uniform on [0, 1) in steps of 2**-53."""
    state, x = _next(state)
    return state, np.float64(x >> np.uint64(11)) * _TO_UNIT


@njit(cache=True, inline="always")
def _gap(state, inv_log_q):
    """(new state, g): cells skipped before the next hit of a Bernoulli(p) sequence,
    inv_log_q = 1 / log(1 - p).  g = floor(log(u) / log(1-p)) with u on (0, 1] is
    exactly geometric: P(g >= k) = P(u <= (1-p)^k) = (1-p)^k."""
    state, x = _next(state)
    u = np.float64((x >> np.uint64(11)) + np.uint64(1)) * _TO_UNIT
    return state, np.floor(np.log(u) * inv_log_q)
