"""One operating point: draw realisations until the stopping rule is met, in a reproducible order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from wcatsim.experiments.montecarlo.executors import Executor, LocalExecutor
from wcatsim.experiments.montecarlo.stopping import StoppingRule


@dataclass(frozen=True)
class Realisation:
    """One fault draw and the accuracy of the model reading it."""

    index: int  # realisation (transient) or chip (persistent) index at this point
    seed: int  # the fault model's seed, from wcatsim.experiments.montecarlo.seeds
    accuracy: float  # percent, whole test set (nested: the unbiased estimate from its subset)
    bits_changed: int  # weight bits whose read value differs from the stored one (after ECC)
    faulty_cells: int  # cells faulty in this draw (a stuck-at cell need not change a read)
    images: int  # test images evaluated (0 when the read codes equal the clean ones)
    # Words, as sram_models.FaultResult counts them (0 without a protection scheme): corrected and
    # then right; flagged by the scheme (zeroed by the -zero schemes); read wrong with nothing flagged.
    ecc_corrected: int = 0
    ecc_detected: int = 0
    ecc_miscorrected: int = 0
    # Nested Monte Carlo: the image-sampling variance (percent^2) of ``accuracy``, estimated from the
    # realisation's own per-image correctness (0 on the whole test set, or when nothing changed)
    within_var: float = 0.0
    # Seconds this realisation took (fault draw and evaluation), for the allocation's cost fit
    # (wcatsim.experiments.montecarlo.allocation).  A timing, never a result: it is left out of
    # comparisons and of every table.
    seconds: float = field(default=0.0, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a dict (one row of a realisations table; the timing left out)."""
        row = asdict(self)
        del row["seconds"]
        return row


def run_point(
    task: Callable[[int], Realisation],
    rule: StoppingRule,
    executor: Executor | None = None,
    on_done: Callable[[int], None] | None = None,
    realisations_per_call: int = 1,
) -> list[Realisation]:
    """Realisations 0, 1, ... of one point until ``rule`` stops; results in index order.

    ``task(i)`` computes realisation ``i`` (a picklable callable for remote
    executors).  Batches may be computed speculatively; the result is truncated
    to the count a one-by-one run would stop at, so it does not depend on the
    executor.  ``on_done(k)`` reports k more realisations finished (progress bars).
    ``realisations_per_call`` B > 1, on a single worker, with a task that has ``many(indices)``
    (:class:`~wcatsim.experiments.montecarlo.tasks.FlipTask`, ``VoltageTask``): B realisations at a
    time in one batched forward (``FaultEvaluator.evaluate_many``), the same draws as one at a time.
    """
    executor = executor or LocalExecutor()
    done: list[Realisation] = []
    while True:
        values = [r.accuracy for r in done]
        stop = rule.stop_count(values) if done else None
        if stop is not None:
            return done[:stop]
        n_next = rule.next_request(len(done), executor.parallelism, values)
        if n_next <= 0:  # pragma: no cover - stop_count returns before this
            return done
        indices = list(range(len(done), len(done) + n_next))
        # One at a time on a single worker (the progress bar moves, nothing is wasted);
        # the whole request at once where workers can share it.
        chunk = len(indices) if executor.parallelism > 1 else 1
        batched = realisations_per_call > 1 and executor.parallelism == 1 and hasattr(task, "many")
        if batched:
            chunk = realisations_per_call
        for start in range(0, len(indices), chunk):
            part = indices[start : start + chunk]
            results = task.many(part) if batched else executor.map(task, part)  # type: ignore[attr-defined]
            done.extend(results)
            if on_done is not None:
                on_done(len(results))
