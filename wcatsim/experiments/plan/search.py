"""The search of the voltage planner, on plain arrays: greedy descent, back-off, uniform baseline.

Every function here works on tables indexed ``[domain, step]`` where step 0 is the
highest allowed voltage and each further step one grid voltage lower.  Accuracy
losses are in accuracy points below clean (0 or more; ``inf`` where a domain was
not evaluated because it had already left the budget higher up); energies are the
domain's share of the energy per inference, normalised to the whole image at
nominal (an additive surrogate, see :func:`greedy_descent`).

**Greedy descent (why it works, and how well).**  Choosing one step per domain so
that the summed energy is least while the summed loss stays within the budget is a
multiple-choice knapsack problem.  Its linear relaxation is solved exactly by
walking every domain's lower convex hull of (loss, energy) points and taking the
hull segments in order of falling slope (energy saved per point of accuracy lost)
until the budget is spent (Sinha & Zoltners, Operations Research 27(3), 1979).
:func:`greedy_descent` does that walk: at each step it lowers the domain whose move
saves the most energy per accuracy point lost (a move may skip grid steps: the
steepest move from a hull vertex lands on the next hull vertex), and where the
steepest move does not fit the budget it takes the steepest one that does.  Up to
the first move that does not fit it is the relaxation's solution minus the
fractional segment, so (with additive energies falling with the step, and no loss at
step 0, as measured curves have) its energy exceeds the optimum by at most one
domain's whole energy range: ``greedy <= optimum + max_d (E[d, 0] - min_j E[d, j])``;
the tests check this bound on random tables, and exactness where it holds (one
domain; convex curves whose budget ends on a hull vertex), against a brute-force
search.  Work: ``O(D V)`` per move and at most ``D V`` moves, so
ResNet-50's ~50 layers on a 26-voltage grid are a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sram_models.errors import InputError

# Losses and energies are compared with this slack (floating-point sums of table entries).
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Move:
    """One step of the descent: ``domain`` from grid step ``start`` down to ``stop``."""

    domain: int
    start: int
    stop: int
    energy_saved: float
    loss_added: float
    """predicted accuracy points lost by the move (negative: the table says it gains)"""


@dataclass(frozen=True)
class Descent:
    """The greedy descent: its final plan and every plan on the way (``trajectory[0]`` = the start)."""

    steps: tuple[int, ...]
    """grid step per domain of the final plan"""
    predicted_loss: float
    """sum of the domains' losses at their steps (the additive prediction)"""
    energy: float
    """sum of the domains' energies at their steps"""
    trajectory: tuple[tuple[int, ...], ...]
    moves: tuple[Move, ...] = field(default=())


def _check_tables(loss: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    loss = np.asarray(loss, np.float64)
    energy = np.asarray(energy, np.float64)
    if loss.ndim != 2 or loss.shape != energy.shape or loss.shape[1] < 1:
        raise InputError(
            f"loss and energy tables must both be [domain, step]; got {loss.shape}, {energy.shape}"
        )
    if np.isnan(loss).any() or not np.isfinite(energy).all():
        raise InputError("the loss table has NaN or the energy table is not finite")
    if not np.isfinite(loss[:, 0]).all():
        raise InputError("every domain needs a finite loss at the highest voltage (step 0)")
    return loss, energy


def greedy_descent(loss: np.ndarray, energy: np.ndarray, budget: float) -> Descent:
    """Lower domains one move at a time, steepest energy saving per accuracy point first.

    ``loss[d, j]``: predicted accuracy points lost with only domain ``d`` faulty at step
    ``j`` (``inf``: not allowed); ``energy[d, j]``: the domain's energy there.  The plan's
    predicted loss is the sum over domains (additive: faults in different arrays, small
    losses) and must stay within ``budget``.  Moves that save no energy are never made.
    Starts with every domain at step 0; if that already exceeds the budget, raises.
    """
    loss, energy = _check_tables(loss, energy)
    n_domains, n_steps = loss.shape
    steps = np.zeros(n_domains, np.int64)
    rows = np.arange(n_domains)
    total = float(loss[rows, steps].sum())
    if total > budget + TOLERANCE:
        raise InputError(
            f"the model already loses {total:.3g} points at the highest allowed voltage, more than the "
            f"budget of {budget:g}: raise `plan.budget` or allow higher `option.voltages`"
        )
    below = np.arange(n_steps)[None, :]
    trajectory = [tuple(int(s) for s in steps)]
    moves = []
    while True:
        cur_loss = loss[rows, steps][:, None]
        cur_energy = energy[rows, steps][:, None]
        saved = cur_energy - energy
        added = loss - cur_loss
        with np.errstate(invalid="ignore"):
            ok = (
                (below > steps[:, None])
                & np.isfinite(loss)
                & (saved > TOLERANCE)
                & (total + added <= budget + TOLERANCE)
            )
        if not ok.any():
            break
        d_idx, j_idx = np.nonzero(ok)
        gain, cost = saved[d_idx, j_idx], added[d_idx, j_idx]
        with np.errstate(divide="ignore"):
            slope = np.where(cost > TOLERANCE, gain / np.maximum(cost, TOLERANCE), np.inf)
        # steepest first; among equally steep (e.g. free moves) the larger saving, then the lower domain
        pick = np.lexsort((d_idx, -gain, -slope))[0]
        d, j = int(d_idx[pick]), int(j_idx[pick])
        moves.append(Move(d, int(steps[d]), j, float(gain[pick]), float(cost[pick])))
        total += float(cost[pick])
        steps[d] = j
        trajectory.append(tuple(int(s) for s in steps))
    return Descent(
        steps=tuple(int(s) for s in steps),
        predicted_loss=float(loss[rows, steps].sum()),
        energy=float(energy[rows, steps].sum()),
        trajectory=tuple(trajectory),
        moves=tuple(moves),
    )


def back_off(
    trajectory: Sequence[Sequence[int]], passes: Callable[[int], bool]
) -> tuple[int, list[tuple[int, bool]]]:
    """The latest plan of ``trajectory`` that ``passes`` (the joint check), and the checks made.

    The last plan is checked first; if it fails, the moves are undone latest (least
    efficient) first by bisection over the trajectory, so ``log2(moves)`` joint checks
    find a passing plan.  Accuracy falls along the trajectory up to noise; bisection then
    finds the latest passing plan, and in any case returns one that was checked and
    passed.  Raises when even the first plan fails.
    """
    if not trajectory:
        raise InputError("back_off: the trajectory is empty")
    checks: list[tuple[int, bool]] = []
    verdict: dict[int, bool] = {}

    def check(k: int) -> bool:
        if k not in verdict:
            verdict[k] = bool(passes(k))
            checks.append((k, verdict[k]))
        return verdict[k]

    last = len(trajectory) - 1
    if check(last):
        return last, checks
    lo, hi = 0, last  # hi fails; lo is the candidate
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if check(mid):
            lo = mid
        else:
            hi = mid
    if not check(lo):
        raise InputError(
            "with every domain faulty, the model misses the budget even at the highest allowed voltage: "
            "raise `plan.budget` or allow higher `option.voltages`"
        )
    return lo, checks


def failing_domains(solo_loss: Sequence[float], lowered: Sequence[bool], excess: float) -> list[int]:
    """Which domains to raise one step when a verified plan misses the budget by ``excess`` points.

    ``solo_loss[d]``: the loss with only domain ``d`` faulty at its planned voltage, on the
    chips that found the miss.  The domains that lost the most are taken, largest first,
    until their losses cover the excess; if all of them together do not (the miss comes from
    interaction), every lowered domain is raised.  Domains already at the top cannot rise.
    """
    candidates = [d for d, low in enumerate(lowered) if low]
    if not candidates:
        return []
    order = sorted(candidates, key=lambda d: (-float(solo_loss[d]), d))
    chosen, covered = [], 0.0
    for d in order:
        if float(solo_loss[d]) <= TOLERANCE:
            break
        chosen.append(d)
        covered += float(solo_loss[d])
        if covered >= excess - TOLERANCE:
            return sorted(chosen)
    return sorted(candidates)


def uniform_choice(loss: Sequence[float], energy: Sequence[float], budget: float) -> int:
    """The uniform voltage: scanning down from step 0 while the loss stays within budget, the step of
    least energy (energy need not fall monotonically once leakage follows the slower clock).

    A step outside the budget ends the scan even if a lower one recovers (as the sweeps'
    iso-accuracy rule).  Raises when step 0 already misses.
    """
    loss = np.asarray(loss, np.float64)
    energy = np.asarray(energy, np.float64)
    if loss.size == 0 or not loss[0] <= budget + TOLERANCE:
        raise InputError(
            "the model misses the budget even at the highest allowed voltage with every layer faulty: "
            "raise `plan.budget` or allow higher `option.voltages`"
        )
    stop = 1
    while stop < loss.size and loss[stop] <= budget + TOLERANCE:
        stop += 1
    return int(np.argmin(energy[:stop]))


__all__ = ["Descent", "Move", "back_off", "failing_domains", "greedy_descent", "uniform_choice"]
