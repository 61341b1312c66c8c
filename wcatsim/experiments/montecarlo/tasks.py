"""One realisation as a small picklable task, and the per-worker cache of what it needs.

A task carries only *what* to compute (run directory, memory layout, fault,
operating point, base seed, and for voltage sweeps the :class:`Technology`
object itself: a frozen dataclass, pickled with the task, so every executor
computes with exactly the technology the sweep names, never one looked up by
name); the worker that runs it builds the model, the packed memory image and
the test tensors once (per process and thread: a model object is not shared
between threads that might load different images into it) and keeps them.
Locally, the sweep registers the model it already holds, so nothing is loaded
twice.  Chip fault maps are cached per technology *value* (every field and table
row), so two presets with one name and other numbers never share draws.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from wcatsim.experiments.montecarlo.engine import Realisation
from wcatsim.experiments.montecarlo.seeds import chip_seed, subset_seed, transient_seed


@dataclass(frozen=True)
class EvalSpec:
    """Which model and memory a realisation reads (everything but the fault draw)."""

    run_dir: str
    device: str = "cpu"
    layers: tuple[str, ...] | None = None  # None = every quantized layer
    word_bits: int = 64
    ecc: str | None = None
    batch_size: int | None = None  # None = wcatsim.train.evaluate.accuracy's default (its fastest setting)
    protect: str | None = None  # protection scheme (sram_models.protection); None = as ecc says
    eval_images: int = 0  # > 0: a fixed class-stratified subset of this many test images (--eval-images)
    # > 0: nested Monte Carlo, each realisation on its own random subset of this many test images
    # (wcatsim.experiments.montecarlo.nested); 0 = every realisation on the whole (or --eval-images) set
    images_per_realisation: int = 0
    # an ActivationSpec (wcatsim.config) whose target holds activations; None = float activations, as before
    activations: Any = None
    compile: bool = False  # evaluate through torch.compile (FaultEvaluator.compile_forward)


_LOCK = threading.Lock()
_EVALUATORS: dict[tuple[EvalSpec, int], Any] = {}
_CHIPS: dict[tuple[EvalSpec, Any, str, float, int], Any] = {}  # (spec, technology, fault, stuck, thread)


def register(spec: EvalSpec, evaluator: Any) -> None:
    """Make ``evaluator`` the one this thread uses for ``spec`` (the local path: no reload)."""
    with _LOCK:
        _EVALUATORS[(spec, threading.get_ident())] = evaluator


def unregister(spec: EvalSpec) -> None:
    """Forget this thread's evaluator and chip maps for ``spec``."""
    ident = threading.get_ident()
    with _LOCK:
        _EVALUATORS.pop((spec, ident), None)
        for key in [k for k in _CHIPS if k[0] == spec and k[-1] == ident]:
            del _CHIPS[key]


def evaluator_for(spec: EvalSpec) -> Any:
    """Return this thread's :class:`wcatsim.memory.evaluator.FaultEvaluator` for ``spec``.

    The run is loaded once per thread and kept.
    """
    key = (spec, threading.get_ident())
    with _LOCK:
        found = _EVALUATORS.get(key)
    if found is not None:
        return found
    from wcatsim.memory.evaluator import FaultEvaluator
    from wcatsim.train.runs import load_run

    run = load_run(spec.run_dir, device=spec.device)
    evaluator = FaultEvaluator.for_run(
        run, layers=spec.layers, word_bits=spec.word_bits, ecc=spec.ecc, batch_size=spec.batch_size,
        protect=spec.protect, eval_images=spec.eval_images, activations=spec.activations,
    )  # fmt: skip
    if spec.compile:
        evaluator.compile_forward()
    register(spec, evaluator)
    return evaluator


def _voltage_model(spec: EvalSpec, technology: Any, fault: str, stuck_at_one: float) -> Any:
    # One model per worker thread, fault and technology value: a chip fault map caches each chip's
    # draws, so a chip swept over many voltages is drawn once.  The key is the Technology itself (a
    # frozen dataclass: hashed and compared by every field), not its name.
    key = (spec, technology, fault, float(stuck_at_one), threading.get_ident())
    with _LOCK:
        found = _CHIPS.get(key)
    if found is None:
        from sram_models import FAULT_MODELS, make_fault_model

        options = {"stuck_at_one": stuck_at_one} if "stuck_at_one" in FAULT_MODELS.get(fault).options else {}
        found = make_fault_model(fault, technology=technology, **options)
        with _LOCK:
            _CHIPS[key] = found
    return found


def _realise(
    evaluator: Any, result: Any, index: int, seed: int, spec: EvalSpec, point: float, base_seed: int,
    started: float = 0.0,
    act: Any = None,
    score: tuple[float, int, int, float] | None = None,
) -> Realisation:
    # score: (accuracy, bits changed, images, within_var) already computed (a batched evaluation)
    n = spec.images_per_realisation
    within = 0.0
    if score is not None:
        accuracy, n_changed, images, within = score
    elif n:
        n_changed = evaluator.memory.changed_bits(result.codes)
        # the clean read (weights and activations): its whole-set accuracy is known exactly, at no cost
        if n_changed == 0 and act is None:
            accuracy, images = evaluator.clean_acc, 0
        else:
            from wcatsim.experiments.montecarlo.nested import draw_subset, subset_estimate

            labels = evaluator.labels
            # the subset's own seed: independent of the fault draw, shared by models with one base seed
            chosen = draw_subset(labels, n, subset_seed(base_seed, point, index))
            correct = evaluator.correct(result.codes, chosen, act)
            accuracy, within = subset_estimate(correct, labels[chosen], labels)
            images = int(chosen.size)
    else:
        accuracy, n_changed, images = evaluator.evaluate(result.codes, act)
    return Realisation(
        index=index,
        seed=seed,
        accuracy=accuracy,
        bits_changed=n_changed,
        faulty_cells=int(result.faulty_cells),
        images=images,
        ecc_corrected=int(result.ecc_corrected),
        ecc_detected=int(result.ecc_detected),
        ecc_miscorrected=int(result.ecc_miscorrected),
        within_var=within,
        seconds=time.perf_counter() - started if started else 0.0,  # from before the fault draw
    )


def _realise_many(
    evaluator: Any, draws: list[tuple[int, int, Any]], spec: EvalSpec, point: float, base_seed: int,
    started: float,
) -> list[Realisation]:
    """:func:`_realise` of each (index, seed, fault result) in ``draws``, evaluated in one batched forward.

    ``FaultEvaluator.evaluate_many`` (whole set) or ``correct_many`` (nested: each on its own subset);
    weight faults only (activation reads go one by one).  Each realisation's ``seconds`` is its share
    of the batch's time, from ``started`` (before the first draw).
    """
    n = spec.images_per_realisation
    if not n:
        scores: Any = [(*score, 0.0) for score in evaluator.evaluate_many([r.codes for _, _, r in draws])]
    else:
        from wcatsim.experiments.montecarlo.nested import draw_subset, subset_estimate

        labels = evaluator.labels
        faulty = [(k, draw_subset(labels, n, subset_seed(base_seed, point, index)))
                  for k, (index, _, result) in enumerate(draws)
                  if evaluator.memory.changed_bits(result.codes)]  # fmt: skip
        corrects = evaluator.correct_many([draws[k][2].codes for k, _ in faulty], [c for _, c in faulty])
        scores = [None] * len(draws)
        for (k, chosen), correct in zip(faulty, corrects, strict=True):
            accuracy, within = subset_estimate(correct, labels[chosen], labels)
            scores[k] = (accuracy, evaluator.memory.changed_bits(draws[k][2].codes), int(chosen.size), within)
    done = [_realise(evaluator, result, index, seed, spec, point, base_seed, score=score)
            for (index, seed, result), score in zip(draws, scores, strict=True)]  # fmt: skip
    share = (time.perf_counter() - started) / max(1, len(done))
    return [replace(r, seconds=share) for r in done]


@dataclass(frozen=True)
class FlipTask:
    """Realisation ``i`` of a random-bit-flip fault model at one BER (call it with ``i``)."""

    spec: EvalSpec
    fault: str
    ber: float
    base_seed: int
    protect_msb: float = 0.0

    def __call__(self, index: int) -> Realisation:
        """Draw realisation ``index`` at this BER and evaluate the model reading it."""
        evaluator = evaluator_for(self.spec)
        started = time.perf_counter()
        seed, result, read = self._draw(evaluator, index)
        return _realise(evaluator, result, index, seed, self.spec, self.ber, self.base_seed, started, read)

    def many(self, indices: list[int]) -> list[Realisation]:
        """Realisations ``indices`` (the same draws as one call each), evaluated in one batched forward."""
        if self.spec.activations is not None:  # activation faults: one realisation at a time
            return [self(index) for index in indices]
        evaluator = evaluator_for(self.spec)
        started = time.perf_counter()
        draws = [(index, *self._draw(evaluator, index)[:2]) for index in indices]
        return _realise_many(evaluator, draws, self.spec, self.ber, self.base_seed, started)

    def _draw(self, evaluator: Any, index: int) -> tuple[int, Any, Any]:
        """(seed, weight fault result, activation read) of realisation ``index``."""
        from functools import partial

        from wcatsim.memory.activations import flip_read, weight_read
        from wcatsim.memory.evaluator import make_flip_model

        seed = transient_seed(self.base_seed, self.ber, index)
        act = self.spec.activations  # target activations/both: the buffer's read (wcatsim.memory.activations)
        flips = partial(make_flip_model, self.fault, self.ber, self.protect_msb)
        result = weight_read(evaluator.memory, act, flips, seed)
        return seed, result, flip_read(act, self.fault, self.ber, seed)


@dataclass(frozen=True)
class VoltageTask:
    """Chip ``i`` (persistent faults) or transient realisation ``i`` at one supply voltage."""

    spec: EvalSpec
    technology: Any  # sram_models.Technology: travels with the task to every executor
    voltage: float
    fault: str = "chip"  # a registered fault model (sram_models.FAULT_MODELS) or "measured"
    base_seed: int = 0
    stuck_at_one: float = 0.5  # share of faulty cells stuck at 1 (the rest at 0)
    fault_map: Any = None  # fault="measured": the sram_models.MeasuredFaultMap (one chip, seed unused)
    act_technology: Any = None  # the activation buffer's Technology (spec.activations); None = technology

    def __call__(self, index: int) -> Realisation:
        """Draw chip (or realisation) ``index`` at this voltage and evaluate the model reading it."""
        evaluator = evaluator_for(self.spec)
        started = time.perf_counter()
        seed, result, read = self._draw(evaluator, index)
        return _realise(evaluator, result, index, seed, self.spec, self.voltage, self.base_seed, started,
                        read)

    def many(self, indices: list[int]) -> list[Realisation]:
        """Chips ``indices`` (the same draws as one call each), evaluated in one batched forward."""
        if self.spec.activations is not None:  # activation faults: one chip at a time
            return [self(index) for index in indices]
        evaluator = evaluator_for(self.spec)
        started = time.perf_counter()
        draws = [(index, *self._draw(evaluator, index)[:2]) for index in indices]
        return _realise_many(evaluator, draws, self.spec, self.voltage, self.base_seed, started)

    def _draw(self, evaluator: Any, index: int) -> tuple[int, Any, Any]:
        """(seed, weight fault result, activation read) of chip (or realisation) ``index``."""
        from wcatsim.memory.activations import voltage_read, weight_read

        if self.fault == "measured":
            seed = 0  # one measured chip: nothing is drawn
            return seed, evaluator.memory.corrupt(self.fault_map, seed, voltage=self.voltage), None
        from sram_models import FAULT_MODELS

        # a nested model's seed is the chip, the same at every voltage; others draw afresh per voltage
        if FAULT_MODELS.get(self.fault).nested:
            seed = chip_seed(self.base_seed, index)
        else:
            seed = transient_seed(self.base_seed, self.voltage, index)
        model = _voltage_model(self.spec, self.technology, self.fault, self.stuck_at_one)
        act = self.spec.activations  # target activations/both: the buffer's read (wcatsim.memory.activations)
        result = weight_read(evaluator.memory, act, lambda: model, seed, voltage=self.voltage)
        read = voltage_read(act, self.fault, self.act_technology or self.technology, self.voltage, seed,
                            self.stuck_at_one)  # fmt: skip
        return seed, result, read
