"""Sweeps over operating points: accuracy under random bit errors, and accuracy and energy across voltages.

:func:`random_flip_sweep` is the paper's random-flip protocol (a BER list, 50
transient realisations per BER, or adaptive stopping); :func:`voltage_sweep`
takes an SRAM technology, derives BER and energy per inference from each supply
voltage, and evaluates simulated chips (persistent, nested fault maps) or
transient faults there.  Both write one CSV row per finished point, atomically,
and resume a killed run without recomputing finished points
(:mod:`wcatsim.store.results`); both return the rows of the points asked for.

Columns: ``ber`` is, in ``random_flip.csv``, the probability that a stored bit of
random data reads wrong (every fault model honours it: ``sram_models.faults``),
and in ``sweep_voltage.csv`` the preset's BER(V) as its source measured it (its
``ber_meaning``, recorded in the sidecar); ``flip_rate`` beside it is what
happened: weight bits changed / weight bits stored, averaged over realisations.

The resume fingerprint covers every setting that can change a number: the model
and test set, the fault and memory settings, the seeds, the stopping rule, the
whole technology (every field and table row), the energy organisation, the
device type (CPU and CUDA kernels round differently) and the evaluation batch
size (on CPU, ResNet-20 logits differ by up to 3e-6 between batches of 1 and 256,
measured: enough to move an argmax tie).

Progress: a ``tqdm.auto`` bar over realisations on a terminal or in a notebook
(:mod:`wcatsim.train.progress`), and one INFO message per finished point on the logger
``wcatsim.experiments.sweeps.sweep`` (the row rides on the record as ``point``; docs/logging.md).
``tensorboard=DIR``: each point's numbers as TensorBoard scalars (:func:`wcatsim.train.tracking.log_point`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from sram_models import FAULT_MODELS
from sram_models.errors import InputError
from wcatsim.config.specs import MemorySpec, MonteCarloSpec
from wcatsim.experiments.montecarlo.engine import Realisation, run_point
from wcatsim.experiments.montecarlo.executors import Executor, LocalExecutor
from wcatsim.experiments.montecarlo.nested import std_between
from wcatsim.experiments.montecarlo.stopping import StoppingRule
from wcatsim.experiments.montecarlo.tasks import EvalSpec, FlipTask, VoltageTask, register, unregister
from wcatsim.experiments.sweeps import targets
from wcatsim.memory.evaluator import model_fingerprint
from wcatsim.stats.tails import lower_tail
from wcatsim.store.columns import TEXT_COLUMNS, identity_of, standard_columns, standard_row, voltage_columns
from wcatsim.store.results import PointTable, typed_row
from wcatsim.train.tracking import ScalarLog, log_point

logger = logging.getLogger(__name__)

RANDOM_FLIP_FILE = "random_flip.csv"
SWEEP_VOLTAGE_FILE = "sweep_voltage.csv"
# acc_p05 (percent) and collapsed_share (fraction of draws > 10 points below clean): the lower tail beside
# the mean and CI (issue 17 §6, wcatsim.stats.tails); empty on points computed before they existed
TAIL_COLUMNS = ("acc_p05", "collapsed_share")
# The sampling design of each point (issue 18 section 1), in every table: acc_std_between (percent) is the
# spread of whole-set accuracies across realisations net of image sampling
# (wcatsim.experiments.montecarlo.nested; on the whole test set the image term is zero and it equals
# acc_std), images_per_realisation the test images each realisation read (images; the test-set size
# when every realisation reads the whole set).
NESTED_COLUMNS = ("acc_std_between", "images_per_realisation")
# ci_nominal (0/1; issue 17 §6): 1 where the point's draws (and its allocation pilot's) hold both a collapsed
# realisation (more than 10 points below clean, wcatsim.stats.tails) and a fine one: a mixture, whose
# 95% CI is nominal (benchmarks/coverage.py: a t-interval of 50 draws covers a 2% collapse mixture in
# about 0.6 of sweeps)
LABEL_COLUMNS = ("ci_nominal",)
RANDOM_FLIP_COLUMNS = (
    "ber", "flip_rate", "realisations", "acc_mean", "acc_std", "acc_min", "acc_max",
    "ci_low", "ci_high", *TAIL_COLUMNS, "bits_changed_mean", "clean_acc", *NESTED_COLUMNS,
    *LABEL_COLUMNS,
)  # fmt: skip
# energy columns: sram_models.energy (dynamic_pj, leakage_pj, inference_time_ns empty without absolute
# figures; leakage_share in the preset's relative units then)
SWEEP_VOLTAGE_COLUMNS = (
    "voltage", "ber", "flip_rate", "bits_changed_mean", "energy_per_inference_pj", "energy_norm",
    "dynamic_pj", "leakage_pj", "leakage_share", "inference_time_ns",
    "realisations", "acc_mean", "acc_std", "ci_low", "ci_high", *TAIL_COLUMNS, "clean_acc", *NESTED_COLUMNS,
    *LABEL_COLUMNS,
)  # fmt: skip
# The paper's protocol (kmchiti/WCAT random-flip): 50 realisations per point, each on the whole test set.
PAPER_SAMPLES = 50
PROTOCOLS = ("paper",)
# images: test images evaluated (0 when the read codes equal the stored ones: the clean accuracy, exactly)
REALISATION_COLUMNS = ("realisation", "seed", "accuracy", "bits_changed", "faulty_cells", "images")
# h7 (issue 9 section 6): appended to the tables when a protection scheme is on (words per realisation;
# sram_models.protection: corrected and then right / flagged, zeroed by the -zero schemes / read wrong
# with nothing flagged)
ECC_COLUMNS = ("ecc_corrected_mean", "ecc_detected_mean", "ecc_miscorrected_mean")
ECC_REALISATION_COLUMNS = ("ecc_corrected", "ecc_detected", "ecc_miscorrected")
_INT_COLUMNS = {"realisations", "images_per_realisation", "ci_nominal", "realisation", "seed", "bits_changed",
                "faulty_cells", "images",
                *ECC_REALISATION_COLUMNS}  # fmt: skip

# The paper's BER list (config.PAPER_BERS) extended to where small models separate the quantizers
# (issue 4: maxabs 89.7% vs wcat 96.6% at 3e-2 on digits, within noise at 3e-3).
EXTENDED_BERS = (0.0, 1e-4, 4e-4, 8e-4, 1e-3, 2e-3, 4e-3, 6e-3, 8e-3, 1e-2, 2e-2, 3e-2, 5e-2)


def _parse(name: str) -> Callable[[str], Any]:
    return int if name in _INT_COLUMNS or name == "bits" else float


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    # the identity columns (run, model, quantizer, dataset) are text (wcatsim.store.columns)
    return typed_row(row, {name: _parse(name) for name in row if name not in TEXT_COLUMNS})


def _loaded(run: Any, device: str) -> Any:
    if isinstance(run, (str, Path)):
        from wcatsim.train.runs import load_run

        return load_run(run, device=device)
    return run


def ci_nominal(accuracies: Sequence[float], clean_acc: float) -> bool:
    """Return whether draws hold both a collapsed realisation and a fine one (the CI is then nominal).

    Collapsed: more than ``COLLAPSE_POINTS`` (10) accuracy points below ``clean_acc``
    (:func:`wcatsim.stats.tails.lower_tail`'s rule).  A mixture of the two is where a t-based 95% CI
    covers less than 95% (``benchmarks/coverage.py``); one mode alone (all fine, or all collapsed) is not
    flagged.  A rarer collapse that no draw saw cannot be flagged by any rule.
    """
    share = lower_tail(accuracies, clean_acc).collapsed_share
    return 0.0 < share < 1.0


def _point_row(
    realisations: Sequence[Realisation], clean_acc: float, rule: StoppingRule, data_bits: int,
    images_per_realisation: int = 0, pilot: Sequence[Realisation] = (),
) -> dict[str, Any]:
    # The rule's CI: Student t for the fixed protocol, Stein's with Hall's skew correction for adaptive.
    s = rule.summarize([r.accuracy for r in realisations], bounds=(0.0, 100.0))  # accuracies in percent
    tail = lower_tail([r.accuracy for r in realisations], clean_acc)
    changed = float(np.mean([r.bits_changed for r in realisations]))
    return {
        "flip_rate": changed / data_bits,
        "realisations": s.n,
        "acc_mean": s.mean,
        "acc_std": s.std,
        "acc_min": s.min,
        "acc_max": s.max,
        # one realisation (a measured chip) has no CI: written empty, not NaN
        "ci_low": None if math.isnan(s.ci_low) else s.ci_low,
        "ci_high": None if math.isnan(s.ci_high) else s.ci_high,
        "acc_p05": tail.acc_p05,
        "collapsed_share": tail.collapsed_share,
        "bits_changed_mean": changed,
        "clean_acc": clean_acc,
        **{f"{name}_mean": float(np.mean([getattr(r, name) for r in realisations]))
           for name in ECC_REALISATION_COLUMNS},
        # whole-set realisations have within_var 0: acc_std_between is then the realisations' std
        "acc_std_between": std_between([r.accuracy for r in realisations],
                                       [r.within_var for r in realisations]),
        "images_per_realisation": int(images_per_realisation),
        "ci_nominal": int(ci_nominal([r.accuracy for r in (*pilot, *realisations)], clean_acc)),
    }  # fmt: skip


class SweepRows(list):
    """The rows a sweep returns (a list of dicts, one per point), with what made them.

    ``settings`` and ``fingerprint``: the table's (what its sidecar records); ``meta``: the run, config and
    test data; ``realisations``: one row per realisation, in point order (empty unless ``per_realisation``);
    ``path``: the table written, None when it was held in memory (:mod:`wcatsim.api`).
    """

    def __init__(self, rows: Sequence[dict[str, Any]], table: PointTable, points: Sequence[float]) -> None:
        super().__init__(rows)
        self.settings = dict(table.settings)
        self.fingerprint = table.fingerprint
        self.meta = dict(table.meta)
        self.path = table.path
        self.realisations = [_typed(dict(r)) for p in points for r in table.realisations.get(float(p), [])]


def _realisation_rows(key: str, point: float, realisations: Sequence[Realisation]) -> list[dict[str, Any]]:
    return [
        {key: point, "realisation": r.index, "seed": r.seed, "accuracy": r.accuracy,
         "bits_changed": r.bits_changed, "faulty_cells": r.faulty_cells, "images": r.images,
         **{name: getattr(r, name) for name in ECC_REALISATION_COLUMNS}}
        for r in realisations
    ]  # fmt: skip


class _Progress:
    """A tqdm bar over realisations (no-op when progress is off)."""

    def __init__(self, enabled: bool, total: int | None, desc: str) -> None:
        from wcatsim.train.progress import bar

        # on a terminal or in a notebook; elsewhere each finished point's log message is the progress
        self.bar = bar(enabled, total=total, desc=desc, unit="real", leave=False, dynamic_ncols=True)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)

    def note(self, text: str) -> None:
        """Show ``text`` beside the bar (the last finished point: what a notebook's widget shows)."""
        if self.bar is not None:
            self.bar.set_postfix_str(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_sweep(
    *,
    points: Sequence[float],
    key: str,
    table: PointTable,
    make_task: Callable[[float], Callable[[int], Realisation]],
    rule: StoppingRule,
    executor: Executor,
    extra: Callable[[float], dict[str, Any]],
    clean_acc: float,
    data_bits: int,
    progress: bool,
    on_row: Callable[[dict[str, Any], bool], None] | None,
    desc: str,
    images_per_realisation: int = 0,
    board: ScalarLog | None = None,
    allocate: Callable[[float, Callable[[int], None]], Any] | None = None,
) -> list[dict[str, Any]]:
    # allocate(point, on_done): the allocated design's AllocatedPoint (its pilot chose n, and the final
    # stage's rule whose CI the row reports)
    pending = [p for p in points if table.done(p) is None]
    sized = allocate is None and not rule.adaptive
    bar = _Progress(progress, len(pending) * rule.most if sized else None, desc)
    board = board or ScalarLog(None)
    rows = []
    try:
        for index, point in enumerate(points):
            found = table.done(point)
            if found is not None:
                row = _typed(found)
                resumed = True
            else:
                n, point_rule, pilot = images_per_realisation, rule, []
                if allocate is not None:  # the pilot chose n and the final stage's rule
                    allocated = allocate(point, bar.update)
                    realisations, n = allocated.realisations, allocated.design.images
                    point_rule, pilot = allocated.rule, allocated.pilot
                else:
                    realisations = run_point(make_task(point), rule, executor, on_done=bar.update)
                row = {key: point, **extra(point),
                       **_point_row(realisations, clean_acc, point_rule, data_bits, n, pilot)}
                table.add(point, row, _realisation_rows(key, point, realisations))
                row = table.derive(row)  # the identity and the columns under their new names too
                row = _typed({k: row.get(k) for k in table.columns} | {key: point})
                resumed = False
            rows.append(row)
            logger.info("%s", _point_message(desc, key, row, index, len(points), resumed),
                        extra={"point": row, "resumed": resumed, "sweep": desc})  # fmt: skip
            log_point(board, desc.replace("-", "_"), index, row)
            bar.note(f"{key} {row[key]:g}: {_accuracy_text(row)}")
            if on_row is not None:
                on_row(row, resumed)
    finally:
        bar.close()
        board.close()
    return SweepRows(rows, table, points)


def _accuracy_text(row: dict[str, Any]) -> str:
    return "-" if row.get("acc_mean") is None else f"{row['acc_mean']:.2f}%"


def _point_message(desc: str, key: str, row: dict[str, Any], index: int, count: int, resumed: bool) -> str:
    """One line per finished point, for a log: where the sweep is and the point's accuracy (percent)."""
    ci = ""
    if row.get("ci_low") is not None and row.get("ci_high") is not None:
        ci = f", 95% CI {row['ci_low']:.2f}-{row['ci_high']:.2f}"
    return (f"{desc} {key} {row[key]:g} ({index + 1}/{count}): accuracy {_accuracy_text(row)}{ci} over "
            f"{row.get('realisations')} realisations" + (" (resumed)" if resumed else ""))  # fmt: skip


def _executor_setup(
    run: Any, executor: Executor | None, device: str, layers: Sequence[str] | None,
    word_bits: int, batch_size: int | None, protect: str = "none", eval_images: int = 0,
    images: int | str | None = None, activations: Any = None,
) -> tuple[Executor, EvalSpec, Any]:  # fmt: skip
    from wcatsim.memory.evaluator import FaultEvaluator

    # the scheme (resolved by the caller from its ecc and protect options) decides the stored code
    ecc = "secded" if protect in ("secded", "secded-zero") else None
    if run.dir is None and executor is not None and executor.name != "local":
        # a worker rebuilds the model from its run directory; a model given in Python has none
        raise InputError(f"a model given in Python runs with the local executor, not {executor.name!r}: "
                         "train or quantize it into a run directory (wcatsim train / quantize) for workers")
    where = str(Path(run.dir).resolve()) if run.dir is not None else f"<in memory {id(run.model):x}>"
    spec = EvalSpec(
        run_dir=where, device=device, layers=tuple(layers) if layers else None,
        word_bits=int(word_bits), ecc=ecc, batch_size=batch_size, protect=protect,
        eval_images=int(eval_images or 0), activations=activations,
    )  # fmt: skip
    evaluator = FaultEvaluator.for_run(
        run, layers=layers, word_bits=word_bits, ecc=ecc, batch_size=batch_size, protect=protect,
        eval_images=spec.eval_images, activations=activations,
    )
    n = images_per_realisation(images, evaluator.n_images)
    if n:
        from dataclasses import replace

        from wcatsim.experiments.montecarlo.nested import allocation

        allocation(np.unique(evaluator.labels, return_counts=True)[1], n)  # a refused n fails before any work
        spec = replace(spec, images_per_realisation=n)
    register(spec, evaluator)
    return executor or LocalExecutor(), spec, evaluator


def is_auto(images: int | str | None) -> bool:
    """Return whether ``images`` asks for the allocated design (:mod:`~.montecarlo.allocation`)."""
    return isinstance(images, str) and images.strip().lower() == "auto"


def images_per_realisation(images: int | str | None, n_images: int) -> int:
    """Return the subset size n of the nested design, 0 for the whole test set (the paper's protocol).

    ``images``: None or "all" (the default: behaviour as before), or a count; a count equal to the test
    set's ``n_images`` is the whole set too (its numbers are then exactly the whole-set ones).
    """
    if images is None or (isinstance(images, str) and images.strip().lower() == "all"):
        return 0
    try:
        n = int(images)
    except (TypeError, ValueError):
        raise InputError(f"`images` per realisation must be a count or 'all', got {images!r}") from None
    if n < 1:
        raise InputError(f"`images` per realisation must be at least 1 or 'all', got {images!r}")
    return 0 if n == n_images else n  # more than the set: refused by nested.allocation


def protocol_settings(protocol: str | None, images: int | str | None, samples: int,
                      ci_half_width: float) -> tuple[int | str | None, int, float]:
    """(images, samples, ci_half_width) after ``protocol``: "paper" is 50 realisations x the whole set.

    Giving ``protocol="paper"`` with another count, an adaptive half-width or an image subset is refused.
    """
    if protocol is None:
        return images, samples, ci_half_width
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}: use one of {', '.join(PROTOCOLS)}")
    whole = images is None or (isinstance(images, str) and images.strip().lower() == "all")
    if not whole or ci_half_width > 0 or samples != PAPER_SAMPLES:
        raise InputError(
            "protocol 'paper' is 50 realisations on the whole test set: drop `images`, `ci_half_width` "
            "and `samples`"
        )
    return "all", PAPER_SAMPLES, 0.0


def _nested_setting(n: int) -> dict[str, Any]:
    """Return what a sidecar's settings record about the nested design (it changes every number)."""
    return {
        "images": int(n),
        "subset": "class-stratified, >= 2 per class, largest remainder; seed (seed, point, realisation)",
        "estimator": "stratified, weights N_c/N (unbiased); image variance with the finite-population "
                     "correction",
    }


class _Allocator:
    """allocate(point, on_done) for :func:`_run_sweep`: pilot, design and final draws at one point.

    ``make(point, spec)`` builds the point's task for an :class:`EvalSpec`; each subset size gets its own
    spec (registered with the evaluator already loaded here, so nothing is loaded twice) and
    :meth:`close` forgets them.
    """

    def __init__(self, rule: Any, spec: EvalSpec, evaluator: Any, executor: Executor,
                 make: Callable[[float, EvalSpec], Callable[[int], Realisation]]) -> None:  # fmt: skip
        from wcatsim.experiments.montecarlo.nested import MIN_PER_CLASS

        self.rule, self.spec, self.evaluator, self.executor, self.make = rule, spec, evaluator, executor, make
        self.specs: set[EvalSpec] = set()
        counts = np.unique(evaluator.labels, return_counts=True)[1]
        self.n_total = int(evaluator.n_images)
        self.n_min = int(np.minimum(counts, MIN_PER_CLASS).sum())  # nested.allocation's floor

    def _spec(self, n: int) -> EvalSpec:
        from dataclasses import replace

        spec = replace(self.spec, images_per_realisation=0 if n >= self.n_total else int(n))
        if spec not in self.specs:
            register(spec, self.evaluator)
            self.specs.add(spec)
        return spec

    def __call__(self, point: float, on_done: Callable[[int], None]) -> Any:
        from wcatsim.experiments.montecarlo.allocation import run_allocated

        return run_allocated(lambda n: self.make(point, self._spec(n)), self.rule, self.n_total, self.n_min,
                             self.executor, on_done)  # fmt: skip

    def close(self) -> None:
        for spec in self.specs:
            unregister(spec)


def _allocated_rule(ci_half_width: float, cost_ratio: float | None) -> Any:
    from wcatsim.experiments.montecarlo.allocation import DEFAULT_HALF_WIDTH, AllocatedRule

    return AllocatedRule(half_width=ci_half_width or DEFAULT_HALF_WIDTH, cost_ratio=cost_ratio)


def _data_bits(evaluator: Any) -> int:
    """Weight bits stored in the faulty memory (the denominator of flip_rate)."""
    return int(evaluator.memory.n_weights) * int(evaluator.memory.bits)


def _numerics(evaluator: Any) -> dict[str, Any]:
    """Device type and batch size: they change the floating-point sums, hence (rarely) an accuracy."""
    return {"device": evaluator.device_type, "batch_size": evaluator.batch_size}


# The keywords a spec replaces (kept one release), with their defaults: a keyword is "given" when it differs.
_MEMORY_KEYWORDS = {"word_bits": 64, "ecc": None, "layers": None, "protect": None, "eval_images": 0,
                    "banks": None, "inference_time_ns": None}  # fmt: skip
_MONTECARLO_KEYWORDS = {"samples": 50, "ci_half_width": 0.0, "min_samples": 50, "max_samples": 200, "seed": 0,
                        "executor": None}  # fmt: skip


def _specs(
    memory: MemorySpec | None, montecarlo: MonteCarloSpec | None, keywords: dict[str, Any],
    samples_default: int = 50,
) -> tuple[MemorySpec, MonteCarloSpec]:
    """Return the two specs of a sweep: as given, or built from the old keywords (one release); never both."""
    specs = []
    sampling = {**_MONTECARLO_KEYWORDS, "samples": samples_default}
    for spec, cls, defaults in ((memory, MemorySpec, _MEMORY_KEYWORDS),
                                (montecarlo, MonteCarloSpec, sampling)):  # fmt: skip
        mine = {key: value for key, value in keywords.items() if key in defaults}
        if spec is None:
            fields = {key: (tuple(v) if key == "layers" and v is not None else v) for key, v in mine.items()}
            specs.append(cls(**fields))
            continue
        given = [key for key, value in mine.items() if value is not defaults[key] and value != defaults[key]]
        if given:
            name = cls.__name__.lower().replace("spec", "")
            keys = ", ".join(given)
            raise InputError(f"{keys} given beside {name}=: set them in the {cls.__name__} instead")
        specs.append(spec)
    return specs[0], specs[1]


def check_bers(bers: Sequence[float]) -> list[float]:
    """Return the BERs as floats, each a probability.

    Raises
    ------
    InputError
        For a BER outside [0, 1] or an empty list.
    """
    out = []
    for ber in bers:
        ber = float(ber)
        if not (0.0 <= ber <= 1.0) or math.isnan(ber):
            raise InputError(f"BER {ber:g} is outside [0, 1]: a bit error rate is a probability")
        out.append(ber)
    if not out:
        raise InputError("the BER list is empty: give e.g. `attack.random_flip.bers` 0,1e-3,1e-2")
    return list(dict.fromkeys(out))


def random_flip_sweep(
    run: Any,
    bers: Sequence[float],
    *,
    samples: int = 50,
    ci_half_width: float = 0.0,
    min_samples: int = 50,  # StoppingRule's pilot (the paper's 50)
    max_samples: int = 200,
    fault: str = "transient",
    protect_msb: float = 0.0,
    word_bits: int = 64,
    ecc: str | None = None,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    executor: Executor | None = None,
    out: str | Path | None = None,
    per_realisation: bool = False,
    progress: bool = False,
    on_row: Callable[[dict[str, Any], bool], None] | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    config: Any = None,
    protect: str | None = None,
    eval_images: int = 0,
    memory: MemorySpec | None = None,
    montecarlo: MonteCarloSpec | None = None,
    images: int | str | None = None,
    protocol: str | None = None,
    tensorboard: str | Path | None = None,
    cost_ratio: float | None = None,
    activations: Any = None,
) -> list[dict[str, Any]]:
    """Accuracy under random bit errors at each BER of ``bers``; writes ``random_flip.csv``, returns its rows.

    ``run``: a :class:`wcatsim.train.runs.LoadedRun` or a run directory.  Realisation i at
    BER p draws its faults from seed (``seed``, p, i), so two models with the same
    ``seed`` see the same faults (common random numbers).  ``samples`` realisations
    per BER (the paper's 50), or, with ``ci_half_width`` > 0, Stein's two-stage rule
    for that 95% CI half-width (a pilot of ``min_samples``, at most ``max_samples``;
    the pilot's std is floored at one test image's worth of accuracy; see
    :mod:`wcatsim.experiments.montecarlo.stopping`).  ``fault`` names
    a fault model of sram_models; ``protect_msb`` the fraction of weights whose sign
    bit is in hardened cells.  ``protect`` names a protection scheme (sram_models.protection;
    ``ecc="secded"`` is ``protect="secded"``; msb-8t's sign bits are taken as fault-free at every
    BER: a BER has no voltage to check the 8T cells' Vmin against).  With a scheme on, the table
    gains ``ecc_corrected_mean, ecc_detected_mean, ecc_miscorrected_mean`` (words per realisation).
    ``on_row(row, resumed)`` is called as each point ends.
    ``eval_images`` K > 0: every accuracy on one fixed, class-stratified, seeded subset of K test images
    (recorded in the sidecar); the CIs are then over realisations on that subset.

    ``images``: None or "all" (default): every realisation on the whole test set, as before; a count n:
    nested Monte Carlo, realisation i at BER p on its own class-stratified random subset of n images
    (seed (``seed``, p, i) in the subset domain, :func:`~wcatsim.experiments.montecarlo.seeds.subset_seed`),
    unbiased for the whole-set mean (:mod:`wcatsim.experiments.montecarlo.nested`); the table then gains
    ``acc_std_between`` and ``images_per_realisation``.  ``protocol="paper"``: the paper's 50
    realisations on the whole test set.  ``images="auto"``, and the default whenever ``ci_half_width``
    is given without ``images``: the allocated design (:mod:`wcatsim.experiments.montecarlo.allocation`):
    a pilot of 20 realisations measures the seconds per realisation and per image and the variance
    components, and the point gets the images per realisation and the realisations (at least 200) that
    reach ``ci_half_width`` (default 0.5) at the least measured cost; ``cost_ratio`` (seconds per
    realisation / seconds per image) fixes the cost instead of timing it (a reproducible design).
    ``images="all"`` with ``ci_half_width`` is Stein's rule on the whole test set, as before.

    ``progress``: a bar on a terminal or in a notebook; each finished point is also an INFO message of the
    logger ``wcatsim.experiments.sweeps.sweep``.  ``tensorboard``: a folder for each point's numbers as
    TensorBoard scalars ``random_flip/<column>``, step = the point's index (needs the tensorboard extra).

    ``memory`` (:class:`wcatsim.config.MemorySpec`: word_bits, protect, ecc, layers, eval_images) and
    ``montecarlo`` (:class:`wcatsim.config.MonteCarloSpec`: samples, the CI rule, seed, executor) replace
    the keywords of the same names, which stay one release; giving a spec and its keywords is an error.

    ``activations`` (:class:`wcatsim.config.ActivationSpec`): target weights (None, the default) is the
    sweep above; activations or both put the quantized layers' inputs in a faulty global buffer
    (:mod:`wcatsim.experiments.sweeps.targets`), read at the point's BER (``activations.ber`` for both
    when set); the table gains ``act_ber``.
    """
    from sram_models.protection import resolve_scheme
    from wcatsim.memory.evaluator import make_flip_model

    memory, montecarlo = _specs(memory, montecarlo, {
        "word_bits": word_bits, "ecc": ecc, "layers": layers, "protect": protect, "eval_images": eval_images,
        "samples": samples, "ci_half_width": ci_half_width, "min_samples": min_samples,
        "max_samples": max_samples, "seed": seed, "executor": executor,
    })  # fmt: skip
    word_bits, ecc, protect, eval_images = memory.word_bits, memory.ecc, memory.protect, memory.eval_images
    layers = list(memory.layers) if memory.layers is not None else None
    samples, ci_half_width, seed = montecarlo.samples, montecarlo.ci_half_width, montecarlo.seed
    min_samples, max_samples, executor = montecarlo.min_samples, montecarlo.max_samples, montecarlo.executor
    images, samples, ci_half_width = protocol_settings(protocol, images, samples, ci_half_width)
    # a half-width without an image count asks for the allocated design (issue 18 section 1)
    auto = is_auto(images) or (images is None and ci_half_width > 0)
    allocated = _allocated_rule(ci_half_width, cost_ratio) if auto else None
    board = ScalarLog(tensorboard)  # no tensorboard package: refused before any work

    bers = check_bers(bers)
    scheme = resolve_scheme(ecc, protect, protect_msb)  # contradictions fail before anything runs
    for ber in bers:  # an unknown fault name or a ber the model refuses fails here, before any work
        make_flip_model(fault, ber, protect_msb)
    act = targets.active(activations)
    run = _loaded(run, device)
    executor, spec, evaluator = _executor_setup(
        run, executor, device, layers, word_bits, batch_size, scheme, eval_images,
        None if auto else images, act,
    )
    nested = spec.images_per_realisation
    allocator = None
    try:
        rule = StoppingRule(
            samples=samples, ci_half_width=ci_half_width, min_samples=min_samples, max_samples=max_samples,
            # one image's worth of accuracy on the set a realisation reads
            std_floor=100.0 / (nested or evaluator.n_images) if ci_half_width > 0 else 0.0,
        )  # fmt: skip
        if allocated is not None:
            rule = allocated
            allocator = _Allocator(rule, spec, evaluator, executor,
                                   lambda ber, s: FlipTask(s, fault, ber, int(seed), float(protect_msb)))
        settings = {
            "kind": "random_flip", "model": model_fingerprint(evaluator), "fault": fault,
            "protect_msb": float(protect_msb), "word_bits": int(word_bits), "ecc": spec.ecc,
            "layers": list(evaluator.memory.layers), "seed": int(seed), "rule": rule.settings(),
            "protect": scheme, **_numerics(evaluator),
        }  # fmt: skip
        if evaluator.subset is not None:
            settings["eval_images"] = evaluator.subset
        if nested:  # only then: a whole-set table keeps its fingerprint
            settings["images_per_realisation"] = _nested_setting(nested)
        if allocator is not None:
            settings["images_per_realisation"] = {**_nested_setting(0), "images": "auto"}
        if act is not None:  # only then: a weights-only table keeps its fingerprint
            settings["activations"] = targets.record(act, evaluator, ber=act.ber)
        # no run directory and no path (a model given in Python): the table is held in memory
        default = targets.table_name(RANDOM_FLIP_FILE, act)
        out = Path(out) if out is not None else Path(run.dir) / default if run.dir else None
        protected = scheme != "none"
        with PointTable(
            out,
            standard_columns(RANDOM_FLIP_COLUMNS + (ECC_COLUMNS if protected else ())
                             + (targets.FLIP_ACT_COLUMNS if act is not None else ())),
            "ber", settings,
            meta=_meta(config, run, evaluator), family=targets.family("random_flip", act),
            realisation_columns=(
                standard_columns(
                    ("ber", *REALISATION_COLUMNS, *(ECC_REALISATION_COLUMNS if protected else ()))
                )
                if per_realisation else None
            ),
            derive=partial(standard_row, identity=_identity(config, run)),
        ) as table:  # fmt: skip
            return _run_sweep(
                points=bers, key="ber", table=table,
                make_task=lambda ber: FlipTask(spec, fault, ber, int(seed), float(protect_msb)),
                rule=rule, executor=executor, clean_acc=evaluator.clean_acc,
                extra=lambda ber: {} if act is None else {
                    "act_ber": act.ber if act.target == "both" and act.ber is not None else ber},
                data_bits=_data_bits(evaluator), progress=progress, on_row=on_row, desc="random-flip",
                images_per_realisation=nested or evaluator.n_images, board=board, allocate=allocator,
            )  # fmt: skip
    finally:
        if allocator is not None:
            allocator.close()
        unregister(spec)


def voltage_sweep(
    run: Any,
    technology: Any,
    voltages: Sequence[float],
    *,
    chips: int = 20,
    fault: str = "chip",
    ecc: str | None = None,
    word_bits: int = 64,
    stuck_at_one: float = 0.5,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    executor: Executor | None = None,
    out: str | Path | None = None,
    per_realisation: bool = False,
    progress: bool = False,
    on_row: Callable[[dict[str, Any], bool], None] | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    config: Any = None,
    banks: int | None = None,
    inference_time_ns: float | None = None,
    protect: str | None = None,
    fault_map: Any = None,
    tile_offset: int = 0,
    eval_images: int = 0,
    memory: MemorySpec | None = None,
    montecarlo: MonteCarloSpec | None = None,
    images: int | str | None = None,
    tensorboard: str | Path | None = None,
    ci_half_width: float = 0.0,
    cost_ratio: float | None = None,
    activations: Any = None,
) -> list[dict[str, Any]]:
    """Accuracy and energy per inference at each supply voltage; writes ``sweep_voltage.csv``, returns rows.

    ``technology``: a preset name, a preset file path, or a loaded Technology (the object
    itself goes to every executor).  ``fault="chip"``: ``chips`` simulated chips, chip c's
    faults from seed (``seed``, c) at every voltage (nested: lower voltage, superset of
    faulty cells, ``technology.faulty_cell_rate(V)`` of them; faulty cells stuck at 1 with
    probability ``stuck_at_one``); ``"transient"``: independent flips at
    ``technology.bit_error_rate(V)``, so both change the same expected number of bits of
    random data.  Energy from :func:`sram_models.energy.inference_energy` on the packed
    image (check bits included with ECC) with the organisation ``banks`` (default: NVDLA
    nv_small's 32) and, if given, the accelerator's ``inference_time_ns``; ``energy_norm`` =
    total energy over the same weights without ECC at nominal voltage.  Rows are ordered
    from the highest voltage down.  ``eval_images`` and ``images``: as in :func:`random_flip_sweep`;
    ``images="auto"`` (the allocated design, aiming at ``ci_half_width``, default 0.5, with ``cost_ratio``
    as there) chooses the chips per voltage too (``chips`` is then unused): chip c is still the same
    chip at every voltage, and a voltage that needs more chips reads more of them.

    ``protect``: a protection scheme (sram_models.protection; ``ecc="secded"`` is ``protect="secded"``);
    its cells count in the energy (``energy_norm`` stays relative to the unprotected image at nominal)
    and the table gains ``ecc_corrected_mean, ecc_detected_mean, ecc_miscorrected_mean``.
    ``fault_map``: a measured chip (``.npz`` path or ``sram_models.ChipMeasurement``): its stuck cells
    at each voltage it holds (``voltages`` None = all of them, else a subset), one chip, so
    ``realisations`` is 1 and the CI columns are empty; ``ber`` is the map's faulty-cell rate there,
    ``technology`` only gives the energy; ``tile_offset`` as in ``sram_models.MeasuredFaultMap``.

    ``memory`` (:class:`wcatsim.config.MemorySpec`: word_bits, protect, ecc, banks, inference_time_ns,
    layers, eval_images) and ``montecarlo`` (:class:`wcatsim.config.MonteCarloSpec`: samples = chips,
    seed, executor) replace the keywords of the same names, which stay one release.
    ``progress`` and ``tensorboard`` (scalars ``sweep_voltage/<column>``): as in :func:`random_flip_sweep`.

    ``activations`` (:class:`wcatsim.config.ActivationSpec`): target weights (None, the default) is the
    sweep above.  activations: the swept voltage is the activation buffer's (its own preset, layout and
    scheme; chip faults mapped onto its addresses, other models drawn afresh per read), the weights are
    fault-free at their preset's nominal voltage; both: the weights at the swept voltage and the buffer
    at ``activations.voltage`` (None: the swept one).  Energy counts both memories in the same columns
    (:mod:`wcatsim.experiments.sweeps.targets`) and the table gains ``act_voltage, act_ber,
    weights_energy_norm, act_energy_norm``.
    """
    from sram_models import Technology, load_technology
    from sram_models.energy import MemoryOrganisation, inference_energy
    from sram_models.protection import check_voltage, resolve_scheme

    if chips < 1:  # checked here too: the spec's own bound would name montecarlo.samples
        raise InputError(f"chips must be >= 1, got {chips}")
    memory, montecarlo = _specs(memory, montecarlo, {
        "word_bits": word_bits, "ecc": ecc, "layers": layers, "protect": protect, "eval_images": eval_images,
        "banks": banks, "inference_time_ns": inference_time_ns,
        "samples": chips, "seed": seed, "executor": executor,
    }, samples_default=20)  # fmt: skip
    word_bits, ecc, protect, eval_images = memory.word_bits, memory.ecc, memory.protect, memory.eval_images
    banks, inference_time_ns = memory.banks, memory.inference_time_ns
    layers = list(memory.layers) if memory.layers is not None else None
    chips, seed, executor = montecarlo.samples, montecarlo.seed, montecarlo.executor
    board = ScalarLog(tensorboard)  # no tensorboard package: refused before any work

    scheme = resolve_scheme(ecc, protect)
    measured = None
    if fault_map is not None:
        from sram_models.measured import ChipMeasurement, MeasuredFaultMap

        chip = fault_map if isinstance(fault_map, ChipMeasurement) else ChipMeasurement.load(fault_map)
        measured = MeasuredFaultMap(chip=chip, tile_offset=tile_offset)
        fault, chips = "measured", 1
        held = chip.voltages
        voltages = list(held) if voltages is None else [held[chip.index(v)] for v in voltages]
    if fault != "measured" and fault not in FAULT_MODELS:  # every registered model reads the preset's rates
        raise InputError(FAULT_MODELS.unknown_message(fault))
    if fault == "measured" and measured is None:
        raise InputError("fault='measured' needs fault_map= (a .npz written by `wcatsim sram import-map`)")
    if chips < 1:
        raise InputError(f"chips must be >= 1, got {chips}")
    organisation = MemoryOrganisation.from_options(banks, inference_time_ns)
    if isinstance(technology, (str, Path)):
        preset = str(technology)
        tech = load_technology(preset)
    elif isinstance(technology, Technology):
        tech, preset = technology, technology.name
    else:
        raise InputError(
            f"technology must be a preset name, a preset file or a Technology, got {technology!r}"
        )
    if measured is not None and measured.chip.voltage_unit != tech.voltage_unit:
        raise InputError(
            f"the fault map's voltages are in {measured.chip.voltage_unit}, {tech.name}'s in "
            f"{tech.voltage_unit}: choose a `attack.sweep.preset` in the map's unit"
        )
    volts = []
    for v in voltages:
        v = float(v)
        if not (tech.v_low <= v <= tech.v_high):
            raise InputError(
                f"voltage {v:g} {tech.voltage_unit} is outside {tech.name}'s range "
                f"{tech.v_low:g}..{tech.v_high:g} {tech.voltage_unit}: choose `attack.sweep.voltages` "
                "inside it"
            )
        check_voltage(scheme, tech, v)  # msb-8t: the 8T cells' Vmin
        volts.append(v)
    if not volts:
        raise InputError("the voltage list is empty: give e.g. `attack.sweep.voltages` 0.75:1.0:0.01")
    volts = sorted(set(volts), reverse=True)
    auto = is_auto(images)
    if auto and measured is not None:
        raise InputError("`images` auto chooses chips and images per chip: a measured fault map is one chip")
    if ci_half_width and not auto:
        raise InputError("a voltage sweep's `ci_half_width` is the allocated design's target: add "
                         "images='auto'")
    allocated = _allocated_rule(ci_half_width, cost_ratio) if auto else None
    act = targets.active(activations)
    act_tech = _act_technology(act, tech, measured, volts)
    run = _loaded(run, device)
    executor, spec, evaluator = _executor_setup(
        run, executor, device, layers, word_bits, batch_size, scheme, eval_images,
        None if auto else images, act,
    )
    nested = spec.images_per_realisation
    allocator = None
    try:
        image = evaluator.memory.image
        # the weights' supply: the swept voltage, or their nominal one when only the buffer is faulty
        w_volt = {v: (v if act is None or act.weights else tech.v_nominal) for v in volts}
        energies = {v: inference_energy(image, tech, w_volt[v], organisation=organisation) for v in volts}
        a_volt = {v: (act.voltage if act is not None and act.target == "both" and act.voltage is not None
                      else v) for v in volts}  # fmt: skip
        buffer_energy = {} if act is None else {
            v: evaluator.activations.energy(act_tech, a_volt[v], organisation) for v in volts}
        rule = StoppingRule(samples=int(chips))
        settings = {
            "kind": "sweep_voltage", "model": model_fingerprint(evaluator), "preset": preset,
            "technology": tech.describe(), "technology_fingerprint": tech.fingerprint(),
            "ber_meaning": tech.ber_meaning, "organisation": organisation.describe(),
            "fault": fault, "stuck_at_one": float(stuck_at_one),
            "word_bits": int(word_bits), "ecc": spec.ecc, "layers": list(evaluator.memory.layers),
            "seed": int(seed), "chips": int(chips), "protect": scheme, **_numerics(evaluator),
        }  # fmt: skip
        if measured is not None:
            settings |= {
                "fault_map": measured.chip.fingerprint(), "fault_map_chip": measured.chip.chip,
                "tile_offset": int(tile_offset), "ci": "none: one measured chip, no spread across chips",
            }  # fmt: skip
        default = targets.table_name(SWEEP_VOLTAGE_FILE, act)
        out = Path(out) if out is not None else Path(run.dir) / default if run.dir else None
        if evaluator.subset is not None:
            settings["eval_images"] = evaluator.subset
        if nested:  # only then: a whole-set table keeps its fingerprint
            settings["images_per_realisation"] = _nested_setting(nested)
        if allocated is not None:
            settings["images_per_realisation"] = {**_nested_setting(0), "images": "auto"}
            settings["chips"] = {"allocated": allocated.settings()}
            allocator = _Allocator(allocated, spec, evaluator, executor, lambda v, s: VoltageTask(
                s, tech, v, fault, int(seed), float(stuck_at_one), fault_map=measured,
                act_technology=act_tech))
        if act is not None:  # only then: a weights-only table keeps its fingerprint
            settings["activations"] = targets.record(
                act, evaluator, voltage=act.voltage, technology=act_tech.describe(),
                technology_fingerprint=act_tech.fingerprint(),
            )

        def extra(v: float) -> dict[str, Any]:
            report = energies[v]
            if act is not None:
                both = targets.combined_energy(report, buffer_energy[v])
                return {"ber": float(tech.ber(w_volt[v])), **both,
                        "act_voltage": a_volt[v], "act_ber": float(act_tech.ber(a_volt[v]))}  # fmt: skip
            return {
                # a measured chip: its own faulty-cell rate at v (the preset gives the energy only)
                "ber": float(tech.ber(v)) if measured is None else measured.chip.faulty_rate(v),
                "energy_per_inference_pj": report.total_pj,
                "energy_norm": report.total_norm,
                "dynamic_pj": report.dynamic_pj,
                "leakage_pj": report.leakage_pj,
                "leakage_share": report.leakage_share,
                "inference_time_ns": report.inference_time_ns,
            }

        protected = scheme != "none"
        with PointTable(
            out,
            standard_columns(SWEEP_VOLTAGE_COLUMNS + (ECC_COLUMNS if protected else ())
                             + (targets.VOLTAGE_ACT_COLUMNS if act is not None else ())),
            "voltage", settings,
            meta=_meta(config, run, evaluator), descending=True, family=targets.family("sweep_voltage", act),
            realisation_columns=(
                standard_columns(
                    ("voltage", *REALISATION_COLUMNS, *(ECC_REALISATION_COLUMNS if protected else ()))
                )
                if per_realisation else None
            ),
            derive=partial(standard_row, identity=_identity(config, run), voltage=voltage_columns(tech),
                           act_voltage=voltage_columns(act_tech) if act_tech is not None else None),
        ) as table:  # fmt: skip
            return _run_sweep(
                points=volts, key="voltage", table=table,
                make_task=lambda v: VoltageTask(
                    spec, tech, v, fault, int(seed), float(stuck_at_one), fault_map=measured,
                    act_technology=act_tech if act is not None else None,
                ),
                rule=rule, executor=executor, extra=extra, clean_acc=evaluator.clean_acc,
                data_bits=_data_bits(evaluator), progress=progress, on_row=on_row, desc="sweep-voltage",
                images_per_realisation=nested or evaluator.n_images, board=board, allocate=allocator,
            )  # fmt: skip
    finally:
        if allocator is not None:
            allocator.close()
        unregister(spec)


def _act_technology(act: Any, tech: Any, measured: Any, volts: Sequence[float]) -> Any:
    """Return the buffer's Technology (its preset, else the weights'), voltages checked; None without one."""
    from sram_models import load_technology
    from sram_models.protection import check_voltage

    if act is None:
        return None
    if measured is not None:
        raise InputError("a measured fault map holds the weights' chip only: leave "
                         "`attack.activations.target` at weights with `option.fault_map`")  # fmt: skip
    act_tech = load_technology(act.preset) if act.preset else tech
    if act_tech != tech and not (act_tech.has_absolute_energy and tech.has_absolute_energy):
        raise InputError(
            f"{act_tech.name} and {tech.name}: a preset with only relative energies counts in its own "
            "units, so the buffer's preset (`attack.activations.preset`) must be the weights' or both "
            "must have absolute figures"
        )
    swept = not (act.target == "both" and act.voltage is not None)  # the buffer at the swept voltages
    fixed = list(volts) if swept else [act.voltage]
    if swept:  # then the two presets count volts in one unit
        if act_tech.voltage_unit != tech.voltage_unit:
            raise InputError(
                f"the buffer's preset {act_tech.name} counts volts in {act_tech.voltage_unit}, the swept "
                f"{tech.name} in {tech.voltage_unit}: give `attack.activations.voltage` in "
                f"{act_tech.voltage_unit} (target both), or a buffer preset in {tech.voltage_unit}"
            )
    for v in fixed:
        if not act_tech.v_low <= float(v) <= act_tech.v_high:
            raise InputError(
                f"the buffer's voltage {float(v):g} is outside {act_tech.name}'s range {act_tech.v_low:g}.."
                f"{act_tech.v_high:g} {act_tech.voltage_unit}: choose `attack.activations.voltage` inside it"
            )
        check_voltage(act.protect, act_tech, float(v))  # msb-8t on the buffer: the 8T cells' Vmin
    return act_tech


def compare_realisations(
    table_a: str | Path, table_b: str | Path, key: str = "ber"
) -> list[dict[str, Any]]:
    """Accuracy difference a - b per operating point from two per-realisation tables, with its own CI.

    Both runs must have used the same base seed (common random numbers: realisation i saw the same
    faults in both), which the seeds in the tables confirm; the paired differences then estimate the
    difference far more precisely than the two separate CIs suggest.
    """
    from wcatsim.experiments.montecarlo.stats import paired_difference
    from wcatsim.store.columns import read_table

    def by_point(path: str | Path) -> dict[float, dict[int, dict[str, str]]]:
        rows = read_table(path)  # old or new column names
        if not rows:
            raise InputError(f"{path} has no realisation rows: run the sweep with `option.per_realisation`")
        out: dict[float, dict[int, dict[str, str]]] = {}
        for row in rows:
            out.setdefault(float(row[key]), {})[int(row["realisation"])] = row
        return out

    a, b = by_point(table_a), by_point(table_b)
    result = []
    for point in sorted(set(a) & set(b), reverse=key == "voltage"):
        common = sorted(set(a[point]) & set(b[point]))
        if any(a[point][i]["seed"] != b[point][i]["seed"] for i in common):
            raise InputError(
                f"{key} {point:g}: the two tables used different fault seeds (rerun both with one "
                "`montecarlo.seed`)"
            )
        d = paired_difference([float(a[point][i]["accuracy"]) for i in common],
                              [float(b[point][i]["accuracy"]) for i in common])  # fmt: skip
        result.append({key: point, "pairs": d.n, "diff_mean": d.mean, "diff_std": d.std,
                       "ci_low": d.ci_low, "ci_high": d.ci_high})  # fmt: skip
    return result


def _identity(config: Any, run: Any) -> dict[str, Any]:
    """Return the run's identity columns (run, model, quantizer, bits, dataset: wcatsim.store.columns)."""
    return identity_of(run, config)


def _meta(config: Any, run: Any, evaluator: Any = None) -> dict[str, Any]:
    cfg = config if config is not None else getattr(run, "config", None)
    if run.dir is None:  # a model given in Python: its own name, not the default config's model and data
        cfg = config
        meta = {"run_dir": None, "model": run.model_name, "dataset": run.data.name}
    else:
        meta = {"run_dir": str(run.dir)}
    meta["config"] = cfg.to_dict() if hasattr(cfg, "to_dict") else None
    if evaluator is not None:
        meta["test_data"] = evaluator.data_description  # in memory or streamed (never changes a number)
    return meta


__all__ = [
    "ECC_COLUMNS",
    "EXTENDED_BERS",
    "LABEL_COLUMNS",
    "NESTED_COLUMNS",
    "PAPER_SAMPLES",
    "ci_nominal",
    "compare_realisations",
    "RANDOM_FLIP_COLUMNS",
    "RANDOM_FLIP_FILE",
    "SWEEP_VOLTAGE_COLUMNS",
    "SweepRows",
    "SWEEP_VOLTAGE_FILE",
    "random_flip_sweep",
    "voltage_sweep",
]
