"""``plan_voltage``: one supply voltage per domain of layers, least energy within an accuracy budget.

The method (it scales linearly in the number of domains, e.g. ResNet-50's ~50 layers):

1. **Sensitivity curves.**  For every domain, the planning chips are swept down the
   voltage grid with faults in that domain only (every other domain reads clean);
   the loss at a voltage is clean accuracy minus the metric (mean over chips, or the
   lower end of its 95% CI), floored at 0.  A domain's sweep stops at the first
   voltage where its loss alone exceeds the budget: no plan can use that voltage or
   any lower one for it (the lower voltages are marked not allowed).
2. **Greedy descent** (:func:`wcatsim.experiments.plan.search.greedy_descent`) on those curves:
   the predicted loss of a plan is the sum of its domains' losses, its energy the sum
   of each domain's energy surrogate (the energy of the plan with only that domain
   lowered, minus what the others spend at the top; a domain lowered alone pays its
   level shifters, which the highest domain of a plan does not, so the surrogate
   overstates them and the plan's own energy is costed exactly); starting with every domain at
   the top of the grid, the domain whose move saves the most energy per accuracy point
   lost goes down next, while the predicted loss stays within the budget.
3. **Joint check and back-off**, on the planning chips: the plan is evaluated with
   every domain faulty at its own voltage at once.  If it misses the budget, the
   descent's moves are undone, least efficient first, by bisection over the moves
   (:func:`wcatsim.experiments.plan.search.back_off`) until the joint check passes.
4. **Uniform baseline**, on the same planning chips: every domain at one voltage,
   scanned down from the top until the budget first fails; the qualifying voltage of
   least energy (:func:`wcatsim.experiments.plan.search.uniform_choice`).  Every domain at that
   voltage is also a plan that passed the joint check: where the descent ended costlier
   (its additive prediction is a heuristic), that plan is taken instead.
5. **Adjustment** on held-out chips (disjoint seeds, :mod:`wcatsim.experiments.plan.chips`):
   the plan and the uniform voltage are both evaluated on the same held-out set.
   If one misses the budget there, it goes up (the uniform voltage one step; for the
   plan, the domains that lost most alone on those chips, until their losses cover the
   miss, each one step, :func:`wcatsim.experiments.plan.search.failing_domains`), and both are
   evaluated again on a fresh disjoint set, up to ``max_verification_sets`` sets.  These
   sets take part in choosing the plan and are then spent: their accuracies are selected
   (the loop stops on the first set where both pass) and are not reported as verified.
6. **Final set** (:func:`final_verification`): the plan and the uniform voltage are frozen,
   then evaluated once on a set of chips used by nothing else
   (:func:`wcatsim.experiments.plan.chips.final_chips`).  What that set shows is reported as
   the verified accuracy, whether it holds the budget or not (``verified_within_budget``
   can be false); the plan is not changed after it.

Energies: :func:`wcatsim.experiments.plan.energy.domains_energy` (each domain in arrays of its
own at its own voltage, normalised to the whole image unprotected at nominal, plus the level
shifters a bit read from a domain below the highest crosses).  The
uniform baseline is costed as one memory holding every weight at that voltage (what a
design without domains builds, no per-domain padding), and its accuracy is measured
on the domains' cells of the same chips (faults are independent per cell, so the split
into domains does not change the accuracy's distribution; sharing the cells makes the
plan-versus-uniform comparison a paired one).

**Both memories** (``activations``: an :class:`wcatsim.config.ActivationSpec` with target both,
``plan-voltage --target both``): the quantized layers' inputs sit in an activation buffer
(:mod:`wcatsim.memory.activations`, on the plan's technology), which is one more domain, of kind buffer
(:func:`wcatsim.experiments.plan.domains.buffer_domain`), after the weights' domains.  Every accuracy is
then measured with the activations stored (``clean_acc``: stored without faults); the buffer's
sensitivity curve has faults in the buffer alone (the weights clean, as at nominal), and every joint
check, adjustment and the final set read chip ``c``'s buffer at its domain's voltage
(:class:`wcatsim.experiments.plan.chips.BufferChips`).  Energies count both memories, over both at
nominal (:func:`wcatsim.experiments.plan.energy.domains_energy` with its buffer, as the sweeps' both
table); the buffer's read bits cross level shifters when it sits below the highest domain, like any
domain's; the uniform baseline puts both memories on one rail at one voltage.

**The buffer alone** (``activations`` with target activations, ``plan-voltage --target activations``):
the buffer's domain is the one planned domain; the weights are read fault-free (their clean codes on
every chip) and costed as one memory in the plan's layout at the technology's nominal voltage
(:func:`wcatsim.experiments.plan.energy.buffer_alone_energy`), as ``sweep-voltage --target activations``
holds them.  Every step above runs on that one domain (the greedy descent is exact for one domain); the
uniform baseline is the buffer at one voltage beside the same weights at nominal, which is the plan's
own design, so ``saving_over_uniform`` is 0 unless the two are adjusted differently on held-out chips.
``plan_voltage.json`` records the held weights as ``weights_memory`` and ``plan_voltage.csv`` has a row
``weights`` for them (their energy share), before the buffer's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sram_models.errors import InputError
from wcatsim.config.specs import PlanConfig
from wcatsim.experiments.plan import search
from wcatsim.experiments.plan.chips import (
    BufferChips,
    DomainChips,
    domain_chip_seed,
    final_chips,
    make_layout,
    planning_chips,
    verification_chips,
)
from wcatsim.experiments.plan.domains import BUFFER, PER_LAYER, Domain, buffer_domain, load_domains
from wcatsim.experiments.plan.energy import (
    BUFFER_ALONE_ENERGY_MODEL,
    BUFFER_ENERGY_MODEL,
    DEFAULT_LEVEL_SHIFTERS,
    ENERGY_MODEL,
    LevelShifters,
    buffer_alone_energy,
    domains_energy,
)
from wcatsim.store.columns import accept_both, identity_of, standard_columns, standard_row, voltage_columns

PLAN_JSON = "plan_voltage.json"
PLAN_CSV = "plan_voltage.csv"
SENSITIVITY_CSV = "plan_voltage_sensitivity.csv"
PLAN_CSV_COLUMNS = ("name", "weights", "voltage", "energy_share", "energy_norm", "layers")
# acc_std_between (percent): the spread of the chips' whole-set accuracies, net of image sampling (the chips'
# std on the whole test set); images_per_realisation: test images each chip read (the nested design, issue 18)
SENSITIVITY_COLUMNS = ("domain", "voltage", "chips", "acc_mean", "ci_low", "ci_high", "loss", "energy_norm",
                       "acc_std_between", "images_per_realisation")
METRICS = ("mean", "ci_low")
# Voltages of the default grid of a preset without a table: 26 from v_low to v_high, i.e. the sweeps'
# default 0.75:1.0:0.01 on chandramoorthy14.
GRID_POINTS = 26


@dataclass(frozen=True)
class PlanSettings:
    """What a plan is asked to meet and how it is searched and verified."""

    budget: float = 1.0
    """accuracy points below clean accuracy the plan may lose (1: the literature's 'no visible loss')"""
    metric: str = "mean"
    """mean: mean accuracy over chips; ci_low: the lower end of its 95% CI (also charges for few chips)"""
    planning_chips: int = 20
    """chips the search sees (20: the sweeps' default chips per voltage)"""
    verification_chips: int = 20
    """chips per verification set, never seen by the search (20, as many as the search saw)"""
    max_verification_sets: int = 5
    """held-out sets the plan may be adjusted on before it is frozen (each one spent); the final set
    (``verification_chips`` chips) comes after them"""
    protect: str = "none"
    """protection scheme of every domain's words (sram_models layout)"""
    word_bits: int = 64
    """data bits per SRAM word (the 512x64 arrays of chandramoorthy14)"""
    stuck_at_one: float = 0.5
    """share of faulty cells stuck at 1 (no bias known)"""
    seed: int = 0
    """base seed of every chip's faults"""
    banks: int | None = None
    """banks read in parallel (None: sram_models' default organisation, as the sweeps)"""
    inference_time_ns: float | None = None
    """the accelerator's inference time (None: the time the reads take), as ``sweep-voltage``"""
    eval_images: int = 0
    """> 0: every accuracy on one fixed, class-stratified, seeded subset of this many test images
    (``--eval-images``, as the sweeps; the verified accuracy and its CI are then over chips on it)"""
    images: int | str = 0
    """the sensitivity curves' images per chip: 0 or ``all`` the whole test set (the default, as before);
    N: each planning chip on its own seeded, class-stratified subset of N images, the same at every
    voltage and domain (:mod:`wcatsim.experiments.plan.subsets`; every later stage reads the whole set)"""

    def __post_init__(self) -> None:
        if not (isinstance(self.budget, (int, float)) and math.isfinite(self.budget) and self.budget >= 0):
            raise InputError(f"`plan.budget` must be >= 0 accuracy points, got {self.budget!r}")
        if self.metric not in METRICS:
            raise InputError(f"`plan.metric` must be mean or ci_low, got {self.metric!r}")
        for name in ("planning_chips", "verification_chips", "max_verification_sets"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name.replace('_', ' ')} must be a positive integer, got {value!r}")
        if self.metric == "ci_low" and min(self.planning_chips, self.verification_chips) < 2:
            raise InputError("`plan.metric` ci_low needs at least 2 chips per set (a CI needs a spread)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"`plan.seed` must be a non-negative integer, got {self.seed!r}")
        images = self.eval_images
        if isinstance(images, bool) or not isinstance(images, int) or images < 0:
            raise InputError(
                f"`plan.eval_images` must be >= 0 (0 = the whole test set), got {self.eval_images!r}"
            )
        from wcatsim.experiments.plan.subsets import subset_size

        subset_size(self.images, -1)  # its form (a count or all); its bounds once the test set is known
        from sram_models.protection import check_scheme

        object.__setattr__(self, "protect", check_scheme(self.protect))
        self.organisation()  # bad --banks / --inference-time-ns fail here

    @classmethod
    def from_config(cls, plan: Any) -> PlanSettings:
        """The settings of a ``[plan]`` section (:class:`wcatsim.config.PlanConfig`), checked here."""
        return cls(**{f.name: getattr(plan, f.name) for f in dataclasses.fields(cls)})

    def organisation(self) -> Any:
        """The memory organisation of the energy model (sram_models.energy.MemoryOrganisation)."""
        from sram_models.energy import MemoryOrganisation

        return MemoryOrganisation.from_options(self.banks, self.inference_time_ns)


@dataclass(frozen=True)
class PointStats:
    """Accuracy over one set of chips at one assignment of voltages."""

    chips: int
    acc_mean: float
    ci_low: float
    ci_high: float
    # not compared: NaN (not measured) would make equal stats unequal
    acc_std_between: float = field(default=math.nan, compare=False)
    """percent: the chips' spread net of image sampling (their std on the whole set); nan: not measured"""
    images_per_realisation: int = 0
    """test images each chip read (0: not recorded)"""

    def value(self, metric: str) -> float:
        if metric == "mean" or math.isnan(self.ci_low):
            return self.acc_mean
        return self.ci_low


@dataclass
class VoltagePlan:
    """The result of :func:`plan_voltage` (``to_json()`` is ``plan_voltage.json``)."""

    domains: list[Domain]
    voltages: list[float]
    energy_norm: float
    domain_energy_norm: list[float]
    verified: PointStats
    clean_acc: float
    uniform_voltage: float
    uniform_energy_norm: float
    uniform_verified: PointStats
    settings: PlanSettings
    grid: list[float]
    preset: str
    voltage_unit: str
    verification_sets: int
    history: list[dict[str, Any]]
    search_info: dict[str, Any]
    sensitivity: list[dict[str, Any]] = field(repr=False, default_factory=list)
    run_dir: str | None = None
    final_set: dict[str, Any] | None = None
    """the final set (:meth:`FinalSet.to_json`): its chips and every chip's accuracy"""
    eval_images: dict[str, Any] | None = None
    """the --eval-images subset record (images, of, seed, indices), None for the whole test set"""
    level_shifter_norm: float = 0.0
    """the level shifters' part of ``energy_norm`` (bits read from domains below the highest)"""
    level_shifters: LevelShifters = DEFAULT_LEVEL_SHIFTERS
    """the level-shifter parameters the energies were costed with"""
    identity: dict[str, Any] = field(repr=False, default_factory=dict)
    """the run's identity columns of plan_voltage.csv (wcatsim.store.columns.run_identity)"""
    technology: Any = field(repr=False, default=None)
    """the Technology the voltages are in (plan_voltage.csv's voltage_v and voltage_norm)"""
    target: str = "weights"
    """``weights`` (the weights' domains), ``both`` (and the activation buffer's domain, last) or
    ``activations`` (the buffer's domain alone, the weights held fault-free at nominal)"""
    buffer: dict[str, Any] | None = None
    """target both or activations: the buffer as planned (fault model, bits, word width, scheme,
    calibration, ranges)"""
    held: dict[str, Any] | None = None
    """target activations: the weights' memory held at nominal (name, weights, voltage, energy_norm,
    layers, faults), costed in ``energy_norm`` but not planned"""

    @property
    def saving_over_uniform(self) -> float:
        """Uniform plan's energy minus this plan's, as a fraction of the nominal energy; the plan's
        includes its level shifters (the uniform design, one rail, has none)."""
        return self.uniform_energy_norm - self.energy_norm

    def _within(self, stats: PointStats) -> bool:
        return self.clean_acc - stats.value(self.settings.metric) <= self.settings.budget + search.TOLERANCE

    @property
    def within_budget(self) -> bool:
        """The plan holds the budget on the final set (chips used by nothing else)."""
        return self._within(self.verified)

    @property
    def uniform_within_budget(self) -> bool:
        return self._within(self.uniform_verified)

    def domain_rows(self) -> list[dict[str, Any]]:
        """``plan_voltage.csv``'s rows: one per domain (target activations: the held weights first)."""
        total = self.energy_norm
        held = []
        if self.held is not None:  # the weights at nominal: their share of the energy, so the shares sum to 1
            h = self.held
            held = [{"name": h["name"], "weights": h["weights"], "voltage": h["voltage"],
                     "energy_share": h["energy_norm"] / total if total else 0.0,
                     "energy_norm": h["energy_norm"], "layers": " ".join(h["layers"])}]  # fmt: skip
        return held + [
            {"name": d.name, "weights": d.weights, "voltage": v, "energy_share": e / total if total else 0.0,
             "energy_norm": e, "layers": " ".join(d.layers)}
            for d, v, e in zip(self.domains, self.voltages, self.domain_energy_norm, strict=True)
        ]  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        s = self.settings
        return {
            # the keys other tools read (issue 12)
            "domains": [self._domain_entry(d, v) for d, v in zip(self.domains, self.voltages, strict=True)],
            "energy_norm": self.energy_norm,
            "verified_acc_mean": self.verified.acc_mean,
            "verified_ci_low": self.verified.ci_low,
            "clean_acc": self.clean_acc,
            "uniform_voltage": self.uniform_voltage,
            "uniform_energy_norm": self.uniform_energy_norm,
            "saving_over_uniform": self.saving_over_uniform,
            "budget": s.budget,
            "metric": s.metric,
            # more
            "verified_ci_high": self.verified.ci_high,
            "verified_within_budget": self.within_budget,
            "uniform_verified_acc_mean": self.uniform_verified.acc_mean,
            "uniform_verified_ci_low": self.uniform_verified.ci_low,
            "uniform_verified_ci_high": self.uniform_verified.ci_high,
            "uniform_within_budget": self.uniform_within_budget,
            "verification_sets": self.verification_sets,
            # domains at the lowest allowed voltage: the plan might go lower where the preset reaches
            "bounded_by_grid": [d.name for d, v in zip(self.domains, self.voltages, strict=True)
                                if v <= min(self.grid) + 1e-12],  # fmt: skip
            "planning_chips": s.planning_chips,
            "verification_chips": s.verification_chips,
            "verification_history": self.history,
            "domain_details": self.domain_rows(),
            "preset": self.preset,
            "voltage_unit": self.voltage_unit,
            "voltages_allowed": self.grid,
            "protect": s.protect,
            "word_bits": s.word_bits,
            "stuck_at_one": s.stuck_at_one,
            "seed": s.seed,
            "eval_images": self.eval_images,
            "organisation": s.organisation().describe(),
            "energy_model": ENERGY_MODEL + {"weights": "", "both": BUFFER_ENERGY_MODEL,
                                             "activations": BUFFER_ALONE_ENERGY_MODEL}[self.target],
            "level_shifter_norm": self.level_shifter_norm,
            "level_shifters": self.level_shifters.describe(),
            "uniform_energy_basis": (
                "the buffer at the uniform voltage, the weights in one memory at nominal (the plan's own "
                "design: one planned domain)" if self.target == "activations" else
                "one memory holding every weight at the uniform voltage"
                + ("; the buffer on the same rail" if self.target == "both" else "")),
            "chip_seeds": "domain_chip_seed(seed, domain name, chip); planning chips 0..P-1, adjustment "
            "set s: chips P+(s-1)V .. P+sV-1; final set: chips P+MV .. P+(M+1)V-1 (M: max sets)",
            "search": self.search_info,
            "run_dir": self.run_dir,
            # the frozen plan and uniform voltage on chips used by nothing else: the verified figures above
            "final_set": self.final_set,
            # target both or activations only (a weights plan keeps its keys): which memories, and the
            # buffer planned; the buffer alone also records the weights it held at nominal
            **({"target": self.target, "activation_buffer": self.buffer} if self.target != "weights" else {}),
            **({"weights_memory": self.held} if self.held is not None else {}),
        }

    def _domain_entry(self, domain: Domain, voltage: float) -> dict[str, Any]:
        """One domain of ``plan_voltage.json``; a plan over both memories names every domain's kind."""
        entry: dict[str, Any] = {"name": domain.name, "weights": domain.weights, "voltage": voltage}
        if self.target != "weights":
            entry["kind"] = domain.kind
            if domain.kind == BUFFER:
                entry["activations"] = domain.activations
        return entry


def default_grid(technology: Any) -> list[float]:
    """The preset's grid: a tabulated preset's own voltages inside its range, else ``GRID_POINTS``
    evenly spaced voltages from v_low to v_high.  Highest first."""
    lo, hi = float(technology.v_low), float(technology.v_high)
    table = getattr(technology, "voltages", None)
    if table:
        grid = [float(v) for v in table if lo - 1e-9 <= float(v) <= hi + 1e-9]
    else:
        grid = [round(lo + (hi - lo) * i / (GRID_POINTS - 1), 10) for i in range(GRID_POINTS)]
    return sorted(set(grid), reverse=True)


def check_grid(technology: Any, voltages: Sequence[float] | None, protect: str = "none") -> list[float]:
    """The allowed voltages, highest first, each inside the preset's range (and, for msb-8t, at or
    above the 8T cells' Vmin: sram_models.protection.check_voltage)."""
    from sram_models.protection import check_voltage

    if voltages is None:
        grid = default_grid(technology)
        for v in grid:
            check_voltage(protect, technology, v)
        return grid
    out = []
    for v in voltages:
        v = float(v)
        technology.check_voltage(v)
        check_voltage(protect, technology, v)
        out.append(v)
    if not out:
        raise InputError("the voltage list is empty: give e.g. `option.voltages` 0.75:1.0:0.01")
    return sorted(set(out), reverse=True)


def point_stats(accuracies: Sequence[float]) -> PointStats:
    """Mean accuracy over chips and its Student-t 95% CI, clipped to 0..100 percent.

    Parameters
    ----------
    accuracies : sequence of float
        One accuracy (percent) per chip.

    Returns
    -------
    PointStats
    """
    from wcatsim.experiments.montecarlo.stats import summarize

    s = summarize(accuracies, bounds=(0.0, 100.0))
    return PointStats(s.n, s.mean, s.ci_low, s.ci_high)


class _Bench:
    """Evaluates accuracies of the model on sets of chips at per-domain voltages."""

    def __init__(
        self, evaluator: Any, chips: DomainChips, metric: str, on_eval: Callable[[int], None],
        buffer: BufferChips | None = None, weights_planned: bool = True,
    ) -> None:
        self.evaluator = evaluator
        self.chips = chips
        self.buffer = buffer  # the buffer's domain, after the weights' (target both) or alone (activations)
        # False (target activations): the weights are read clean on every chip and get no voltage here
        self.weights_planned = bool(weights_planned)
        self.metric = metric
        self.clean = float(evaluator.clean_acc)
        self.on_eval = on_eval
        self.evaluations = 0  # chip reads asked for
        self.forwards = 0  # of which evaluated on the test set (the others read codes seen before)
        # Accuracy per distinct read (a digest of every layer's codes): nested faults make a small domain
        # read the same codes at several voltages, and the joint checks repeat reads; the forward pass is
        # deterministic, so a repeated read has the accuracy already measured.  (With chip subsets the
        # key holds the subset too: the same codes on other images are another measurement.)
        self._seen: dict[bytes, float] = {}
        # The nested design (wcatsim.experiments.plan.subsets), while nested() is active: chip c read on
        # its own subset; within: the image-sampling variance of each accuracy of the last accuracies().
        self.subsets: Any = None
        self.within: list[float] = []
        self._within: dict[bytes, float] = {}
        self._share = 1  # chips whose subsets split the clean-prefix records' memory

    @contextlib.contextmanager
    def nested(self, subsets: Any, chips: int = 1) -> Any:
        """Inside this block each chip is read on its own image subset (``subsets``: a
        :class:`~wcatsim.experiments.plan.subsets.ChipSubsets`; None: the whole set, as outside);
        ``chips``: how many chips' subsets share the clean-prefix records (when they are replayed)."""
        self.subsets, self._share = subsets, max(1, int(chips))
        try:
            yield
        finally:
            self.subsets = None

    def images(self) -> int:
        """Test images a chip reads now (the subset's size inside :meth:`nested`)."""
        return int(self.subsets.n) if self.subsets is not None else int(self.evaluator.n_images)

    def accuracy(self, codes: dict[str, np.ndarray], act: Any = None, chip: int | None = None) -> float:
        """Accuracy of the read ``codes`` with the buffer read ``act`` (None: a clean buffer, or none);
        inside :meth:`nested`, of chip ``chip`` on its subset (its image-sampling variance appended to
        ``within``)."""
        import hashlib

        digest = hashlib.blake2b(digest_size=20)
        for name in sorted(codes):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(codes[name]).tobytes())
        if act is not None:  # the buffer's cells: its chip's seed and voltage decide them
            digest.update(f"buffer {act.seed} {act.voltage!r}".encode())
        chosen = self.subsets.indices(chip) if self.subsets is not None and chip is not None else None
        if chosen is not None:
            digest.update(b"subset")
            digest.update(chosen.tobytes())
        key = digest.digest()
        found = self._seen.get(key)
        if found is None:
            if chosen is None:
                found, _, images = self.evaluator.evaluate(codes, act)
            else:
                found, images = self._on_subset(codes, act, chip, chosen, key)
            self.forwards += 1 if images else 0
            self._seen[key] = found
        self.within.append(self._within.get(key, 0.0))
        return found

    def _on_subset(self, codes: dict[str, np.ndarray], act: Any, chip: int, chosen: np.ndarray,
                   key: bytes) -> tuple[float, int]:  # fmt: skip
        """(accuracy, images read) of chip ``chip`` on its subset ``chosen``, as a nested sweep's chip."""
        # the clean read: its whole-set accuracy is known exactly, at no cost (as the sweeps' nested chips)
        if act is None and self.evaluator.memory.changed_bits(codes) == 0:
            return self.clean, 0
        if act is None:  # the chip's clean prefix, on its own images, replayed inside sharing_clean_prefix()
            right = self.evaluator.correct_replayed(codes, chosen, ("plan chip", chip), self._share)
        else:
            right = self.evaluator.correct(codes, chosen, act)
        accuracy, self._within[key] = self.subsets.estimate(right, chip)
        return accuracy, int(chosen.size)

    def accuracies(self, voltages: Sequence[float | None], chip_ids: Sequence[int]) -> list[float]:
        """Accuracy (percent) on every chip of ``chip_ids`` with domain ``d`` at ``voltages[d]`` (the
        buffer's voltage last, with a buffer; the buffer's alone when the weights are not planned)."""
        n_weights = len(self.chips.domains) if self.weights_planned else 0
        if len(voltages) != n_weights + (self.buffer is not None):
            raise InputError(f"give one voltage per domain ({n_weights + (self.buffer is not None)}), "
                             f"got {len(voltages)}")  # fmt: skip
        # weights not planned: every domain of theirs fault-free (their clean codes)
        weights = list(voltages[:n_weights]) if self.weights_planned else [None] * len(self.chips.domains)
        accs = []
        self.within = []
        for chip in chip_ids:
            codes, _ = self.chips.read(weights, chip)
            act = self.buffer.read(voltages[n_weights], chip) if self.buffer is not None else None
            accs.append(self.accuracy(codes, act, chip))
            self.evaluations += 1
            self.on_eval(1)
        return accs

    def stats(self, voltages: Sequence[float | None], chip_ids: Sequence[int]) -> PointStats:
        from wcatsim.experiments.montecarlo.nested import std_between

        accs = self.accuracies(voltages, chip_ids)
        st = point_stats(accs)
        # the spread between chips net of image sampling (the chips' std where they read the whole set)
        return dataclasses.replace(st, acc_std_between=std_between(accs, self.within),
                                   images_per_realisation=self.images())  # fmt: skip

    def loss(self, stats: PointStats) -> float:
        return self.clean - stats.value(self.metric)


def check_buffer(
    activations: Any, technology: Any, grid: Sequence[float], domains: str | Path = PER_LAYER
) -> Any:
    """The activation buffer's settings for a plan (None for target weights), checked before any work.

    A plan puts the buffer on the plan's technology and chooses its voltage, so
    ``attack.activations.preset`` (another preset) and ``attack.activations.voltage`` are refused;
    target activations (the buffer alone, the weights held in one memory at nominal) refuses a domains
    file (it groups weights into domains, and no weight is planned).

    Parameters
    ----------
    activations : wcatsim.config.ActivationSpec or None
        The buffer's settings.
    technology : sram_models.Technology
        The plan's technology.
    grid : sequence of float
        The allowed voltages (the buffer's scheme is checked at each: msb-8t's 8T cells have a Vmin).
    domains : str or Path
        The plan's ``--domains`` (``layer`` or a file).

    Returns
    -------
    wcatsim.config.ActivationSpec or None
    """
    if activations is None or activations.target == "weights":
        return None
    if activations.target not in ("both", "activations"):
        raise InputError(
            f"`attack.activations.target` {activations.target}: a plan covers the weights (weights), "
            "the weights and the activation buffer (both) or the buffer alone (activations)"
        )
    if activations.target == "activations" and str(domains) != PER_LAYER:
        raise InputError(
            f"the domains file {domains}: with `attack.activations.target` activations the weights are held "
            "fault-free in one memory at nominal and only the buffer is planned; plan with the default "
            "domains (layer)"
        )
    if activations.preset not in (None, technology.name):
        raise InputError(
            f"`attack.activations.preset` {activations.preset}: a plan puts the buffer on the plan's "
            f"preset ({technology.name}); leave it unset"
        )
    if activations.voltage is not None:
        raise InputError("`attack.activations.voltage`: a plan chooses the buffer's voltage; leave it unset")
    from sram_models.protection import check_voltage

    for v in grid:
        check_voltage(activations.protect, technology, float(v))
    return activations


def plan_voltage(
    run: Any,
    technology: Any,
    voltages: Sequence[float] | None = None,
    domains: str | Path = "layer",
    settings: PlanSettings | PlanConfig | None = None,
    out_dir: str | Path | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    share_prefix: bool = True,
    level_shifters: LevelShifters | None = None,
    activations: Any = None,
) -> VoltagePlan:
    """Plan one voltage per domain (method: module docstring); write the plan files into ``out_dir``.

    ``run``: a LoadedRun or a run directory; ``technology``: a preset name, file or
    Technology; ``voltages``: the allowed grid (default :func:`default_grid`);
    ``domains``: ``"layer"`` or a domains TOML file (:mod:`wcatsim.experiments.plan.domains`).
    ``out_dir`` defaults to the run directory; ``None`` results are also returned.
    ``share_prefix``: the sensitivity curves (one domain faulty at a time) replay the clean activations
    before the domain (:meth:`FaultEvaluator.sharing_clean_prefix
    <wcatsim.memory.evaluator.FaultEvaluator.sharing_clean_prefix>`): the same curves, sooner.
    ``level_shifters``: the cost of a bit crossing from a lower domain (default
    :data:`~wcatsim.experiments.plan.energy.DEFAULT_LEVEL_SHIFTERS`); every energy of the search counts it.
    ``activations``: an :class:`wcatsim.config.ActivationSpec`; target both adds the activation buffer as a
    domain of its own, target activations plans that domain alone with the weights fault-free at nominal
    (module docstring); None or target weights: the weights' domains alone.
    """
    from sram_models import MemoryImage, Technology, load_technology
    from wcatsim.memory.evaluator import FaultEvaluator

    settings = PlanSettings.from_config(settings) if isinstance(settings, PlanConfig) else settings
    settings = settings or PlanSettings()
    shifters = DEFAULT_LEVEL_SHIFTERS if level_shifters is None else level_shifters
    say = log or (lambda text: None)
    if not isinstance(technology, Technology):
        technology = load_technology(technology)
    tech = technology
    # target activations: the weights sit at nominal, so their scheme is not checked at the grid's voltages
    weights_planned = activations is None or activations.target != "activations"
    grid = check_grid(tech, voltages, settings.protect if weights_planned else "none")
    act = check_buffer(activations, tech, grid, domains)
    if isinstance(run, (str, Path)):
        from wcatsim.train.runs import load_run

        run = load_run(run, device=device)
    make_layout(2, settings.word_bits, settings.protect)  # a bad --word-bits fails before any work
    organisation = settings.organisation()

    evaluator = FaultEvaluator.for_run(
        run, word_bits=settings.word_bits, ecc=None, batch_size=batch_size, eval_images=settings.eval_images,
        activations=act,
    )  # fmt: skip
    weights = {name: int(codes.size) for name, codes in evaluator.memory.clean_codes.items()}
    doms = load_domains(domains, weights)
    layout = make_layout(evaluator.memory.bits, settings.word_bits, settings.protect)
    per_set = max(settings.planning_chips, settings.verification_chips)
    chips = DomainChips(run.model, doms, layout, tech, settings.stuck_at_one, settings.seed, per_set)
    buffer = buffer_chips = None
    if act is not None:  # the buffer: one more domain, after the weights' (their chips stay as they were)
        buffer = evaluator.activations
        held = buffer_domain(buffer.layers, buffer.volume_per_inference)
        if weights_planned and any(d.name == held.name for d in doms):
            raise InputError(f"a weights domain is named {held.name!r}, the activation buffer's domain: "
                             "rename it in the domains file")  # fmt: skip
        buffer_chips = BufferChips(act, tech, settings.stuck_at_one, settings.seed, held.name)
        # target activations: the buffer is the only planned domain (the weights' chips read clean)
        doms = [*doms, held] if weights_planned else [held]
    reference = evaluator.memory.image  # the whole image, packed as one memory, unprotected
    # the uniform design: one memory, protected as asked (target activations: the weights held at nominal)
    whole = MemoryImage.pack(chips.clean, layout)
    n_dom, n_steps = len(doms), len(grid)
    # no run directory and no out_dir (a model given in Python): nothing is written, the curves held in memory
    target = Path(out_dir) if out_dir is not None else Path(run.dir) if run.dir is not None else None
    bar = _progress(progress)
    say = bar.wrap(say)
    bench = _Bench(evaluator, chips, settings.metric, bar.update, buffer_chips, weights_planned)
    budget = settings.budget
    plan_ids = planning_chips(settings.planning_chips)

    def plan_volts(steps: Sequence[int]) -> list[float]:
        return [grid[int(j)] for j in steps]

    def energy_of(steps: Sequence[int]) -> Any:
        volts = plan_volts(steps)  # the buffer's last, with a buffer
        if not weights_planned:  # the buffer alone, the weights in one memory at nominal
            return buffer_alone_energy(whole, volts[0], tech, reference, buffer, organisation, shifters)
        return domains_energy(chips.images, volts, tech, reference, organisation, shifters, buffer)

    cache: _SensitivityCache | None = None  # its table stays locked while the planner runs
    try:
        # 1. sensitivity curves on the planning chips
        say(f"[plan] {n_dom} domains x up to {n_steps} voltages x {len(plan_ids)} planning chips "
            f"(faults in one domain at a time)")  # fmt: skip
        subsets = _chip_subsets(evaluator, settings)  # None: the sensitivity curves on the whole test set
        loss = np.full((n_dom, n_steps), np.inf)
        top = energy_of([0] * n_dom)
        surrogate = np.zeros((n_dom, n_steps))
        cache = _SensitivityCache(target, _fingerprint(evaluator, tech, doms, chips, settings, act), tech,
                                  identity_of(run))
        # Faults in one domain at a time: the activations before it are the clean ones, computed once per
        # test batch (bounded memory) and replayed for every voltage and chip of the domain.
        # With a buffer, a weights domain's points read the buffer clean and replay the prefix recorded
        # through its clean hooks; the buffer's own points (faults from the first layer on) run whole.
        # (Chips on subsets of their own: each chip's clean prefix on its own images, the memory split;
        # with a buffer, FaultEvaluator.correct_replayed reads them whole.)
        replay = share_prefix and weights_planned
        sharing = evaluator.sharing_clean_prefix() if replay else contextlib.nullcontext()
        with sharing, bench.nested(subsets, len(plan_ids)):
            for d, dom in enumerate(doms):
                for j, v in enumerate(grid):
                    steps = [0] * n_dom
                    steps[d] = j
                    surrogate[d, j] = energy_of(steps).total_norm - top.total_norm + top.domain_norm[d]
                    st = cache.get(dom.name, v)
                    if st is None:
                        volts: list[float | None] = [None] * n_dom
                        volts[d] = v
                        st = bench.stats(volts, plan_ids)
                    lost = bench.loss(st)
                    cache.put(dom.name, v, st, lost, surrogate[d, j] - top.domain_norm[d] + top.total_norm)
                    loss[d, j] = max(0.0, lost)
                    if lost > budget + search.TOLERANCE:
                        if j > 0:
                            loss[d, j] = np.inf  # this voltage and every lower one are out of reach for it
                        break
                cache.save()
                held = (f"{dom.activations} activations per inference" if dom.kind == BUFFER
                        else f"{dom.weights} weights")  # fmt: skip
                if loss[d, 0] > budget + search.TOLERANCE:
                    say(f"  {dom.name} ({held}): alone MISSES the budget at {grid[0]:g} "
                        f"{tech.voltage_unit}")  # fmt: skip
                else:
                    reach = grid[int(np.flatnonzero(np.isfinite(loss[d]))[-1])]
                    say(f"  {dom.name} ({held}): alone within budget down to {reach:g} {tech.voltage_unit}")

        # 2. greedy descent, 3. joint check with back-off
        descent = search.greedy_descent(loss, surrogate, budget)
        joint: dict[int, PointStats] = {}

        def joint_passes(k: int) -> bool:
            joint[k] = bench.stats(plan_volts(descent.trajectory[k]), plan_ids)
            return bench.loss(joint[k]) <= budget + search.TOLERANCE

        say(f"[plan] greedy descent: {len(descent.moves)} moves, predicted loss {descent.predicted_loss:.3f} "
            f"points; joint check on the planning chips")  # fmt: skip
        chosen, checks = search.back_off(descent.trajectory, joint_passes)
        steps = list(descent.trajectory[chosen])
        say(f"  joint checks: {len(checks)}; kept {chosen} of {len(descent.moves)} moves")

        # 4. uniform baseline on the same planning chips
        uniform_loss = [math.inf] * n_steps
        rails = 1 + (buffer is not None)  # the buffer, if any, on the weights' one rail
        uniform_energy = [
            domains_energy([whole], [v] * rails, tech, reference, organisation, shifters, buffer).total_norm
            if weights_planned else energy_of([j]).total_norm  # the buffer alone: the plan's own design
            for j, v in enumerate(grid)
        ]
        uniform_planning = []
        for j, v in enumerate(grid):
            st = bench.stats([v] * n_dom, plan_ids)
            uniform_loss[j] = bench.loss(st)
            uniform_planning.append({"voltage": v, "acc_mean": st.acc_mean, "ci_low": st.ci_low,
                                     "loss": uniform_loss[j], "energy_norm": uniform_energy[j]})  # fmt: skip
            if uniform_loss[j] > budget + search.TOLERANCE:
                break
        uni = search.uniform_choice(uniform_loss, uniform_energy, budget)
        say(f"  uniform: {grid[uni]:g} {tech.voltage_unit} on the planning chips")
        # Every domain at the uniform voltage is a plan too, and it passed the same joint check: where the
        # descent (additive losses, a heuristic) ended costlier, that plan is the better one.
        uniform_as_plan = energy_of([uni] * n_dom).total_norm < energy_of(steps).total_norm - 1e-12
        if uniform_as_plan:
            steps = [uni] * n_dom
            say("  the descent's plan costs more than every domain at the uniform voltage: taking that")

        # 5. adjustment on held-out chip sets (spent), 6. the frozen plan on the final set
        names = [d.name for d in doms]
        verdict = verify_held_out(bench, grid, names, steps, uni, settings, say)
        steps, uni, history = verdict.steps, verdict.uniform_step, verdict.history
        final_set = final_verification(bench, grid, names, steps, uni, settings, say)
        plan_stats, uniform_stats = final_set.plan, final_set.uniform
    finally:
        bar.close()
        if cache is not None:
            cache.close()

    final = energy_of(steps)
    plan = VoltagePlan(
        domains=doms,
        voltages=plan_volts(steps),
        energy_norm=final.total_norm,
        domain_energy_norm=list(final.domain_norm),
        verified=plan_stats,
        clean_acc=bench.clean,
        uniform_voltage=grid[uni],
        uniform_energy_norm=uniform_energy[uni],
        uniform_verified=uniform_stats,
        settings=settings,
        grid=grid,
        preset=tech.name,
        voltage_unit=tech.voltage_unit,
        verification_sets=len(history),
        history=history,
        search_info={
            "method": "per-domain sensitivity on the planning chips, greedy descent (steepest energy saved "
            "per accuracy point lost), joint check with bisection back-off, adjustment on held-out sets, "
            "then the frozen plan evaluated once on a final set of chips used by nothing else",
            "moves": len(descent.moves),
            "moves_kept": chosen,
            "predicted_loss": descent.predicted_loss,
            "joint_checks": [{"moves": k, "within_budget": ok,
                              "acc_mean": joint[k].acc_mean, "ci_low": joint[k].ci_low}
                             for k, ok in checks],  # fmt: skip
            "planned_voltages": plan_volts(descent.trajectory[chosen]),
            "uniform_as_plan": uniform_as_plan,
            "uniform_planning": uniform_planning,
            "sensitivity_points_reused": cache.reused,
            "sensitivity_design": _design(evaluator, subsets, settings),
            "evaluations": bench.evaluations,
            "forward_passes": bench.forwards,
        },
        sensitivity=cache.rows_for([d.name for d in doms], grid),
        run_dir=str(run.dir) if getattr(run, "dir", None) is not None else None,
        final_set=final_set.to_json(),
        eval_images=evaluator.subset,
        level_shifter_norm=final.level_shifter_norm,
        level_shifters=shifters,
        identity=identity_of(run),
        technology=tech,
        target="weights" if act is None else act.target,
        buffer=None if buffer is None else {"fault": act.fault or "chip", **buffer.describe()},
        held=None if weights_planned else {
            "name": "weights", "weights": int(sum(weights.values())), "voltage": float(tech.v_nominal),
            "energy_norm": final.held_norm, "layers": list(weights), "protect": settings.protect,
            "faults": "none: read fault-free, held at the nominal voltage in one memory"},
    )
    if target is not None:
        write_plan(plan, target)
    return plan


@dataclass
class HeldOut:
    """What adjustment on held-out chips ended with (the last set's figures: selected, since the loop
    stops on the first set where both pass; the reported accuracy is the final set's)."""

    steps: list[int]
    uniform_step: int
    plan: PointStats
    uniform: PointStats
    history: list[dict[str, Any]]


def verify_held_out(
    bench: Any,
    grid: Sequence[float],
    names: Sequence[str],
    steps: Sequence[int],
    uniform_step: int,
    settings: PlanSettings,
    say: Callable[[str], None] = lambda text: None,
) -> HeldOut:
    """Adjust the plan (grid ``steps`` per domain) and the uniform voltage on fresh chip sets.

    ``bench``: ``stats(voltages, chip ids) -> PointStats`` and ``loss(stats) -> points``.
    Set ``s`` holds the chips :func:`wcatsim.experiments.plan.chips.verification_chips` gives.  Both
    are evaluated on each set; when one misses the budget it goes up (the uniform voltage one
    grid step; the plan's failing domains, :func:`search.failing_domains` from their losses
    alone on this set, one step each) and both are evaluated on the next set, until both
    hold or ``settings.max_verification_sets`` sets are spent.  The sets are spent: their figures
    choose the plan, so :func:`final_verification` reports the frozen result on chips of its own.
    """
    steps, uni = [int(j) for j in steps], int(uniform_step)
    n_dom, budget = len(names), settings.budget
    history: list[dict[str, Any]] = []
    for set_number in range(1, settings.max_verification_sets + 1):
        ids = verification_chips(settings.planning_chips, settings.verification_chips, set_number)
        volts = [grid[j] for j in steps]
        plan_stats = bench.stats(volts, ids)
        uniform_stats = bench.stats([grid[uni]] * n_dom, ids)
        plan_loss, uni_loss = bench.loss(plan_stats), bench.loss(uniform_stats)
        plan_ok = plan_loss <= budget + search.TOLERANCE
        uni_ok = uni_loss <= budget + search.TOLERANCE
        entry: dict[str, Any] = {
            "set": set_number, "chips": [ids[0], ids[-1]],
            "voltages": dict(zip(names, volts, strict=True)),
            "acc_mean": plan_stats.acc_mean, "ci_low": plan_stats.ci_low, "within_budget": plan_ok,
            "uniform_voltage": grid[uni], "uniform_acc_mean": uniform_stats.acc_mean,
            "uniform_ci_low": uniform_stats.ci_low, "uniform_within_budget": uni_ok,
        }  # fmt: skip
        history.append(entry)
        say(f"[plan] verification set {set_number}: plan {_fmt_stats(plan_stats)} "
            f"({'within' if plan_ok else 'MISSES'} budget), uniform {grid[uni]:g}: "
            f"{_fmt_stats(uniform_stats)} ({'within' if uni_ok else 'MISSES'})")  # fmt: skip
        if (plan_ok and uni_ok) or set_number == settings.max_verification_sets:
            return HeldOut(steps, uni, plan_stats, uniform_stats, history)
        if not plan_ok:
            lowered = [j > 0 for j in steps]
            solo = []
            for d in range(n_dom):
                alone: list[float | None] = [None] * n_dom
                alone[d] = volts[d]
                solo.append(max(0.0, bench.loss(bench.stats(alone, ids))) if lowered[d] else 0.0)
            raised = search.failing_domains(solo, lowered, plan_loss - budget)
            for d in raised:
                steps[d] -= 1
            entry["raised"] = [names[d] for d in raised]
        if not uni_ok and uni > 0:
            uni -= 1
            entry["uniform_raised_to"] = grid[uni]
    raise AssertionError("unreachable: the loop returns on its last set")  # pragma: no cover


@dataclass
class FinalSet:
    """The frozen plan and uniform voltage evaluated once on the final set of chips."""

    chips: list[int]
    voltages: list[float]
    uniform_voltage: float
    plan_accuracies: list[float]
    uniform_accuracies: list[float]
    plan: PointStats
    uniform: PointStats
    plan_within_budget: bool
    uniform_within_budget: bool

    def to_json(self) -> dict[str, Any]:
        """``plan_voltage.json``'s ``final_set``."""
        return {
            "chips": list(self.chips),
            "seeds": "domain_chip_seed(seed, domain name, chip) for every chip above",
            "voltages": list(self.voltages),
            "acc_mean": self.plan.acc_mean, "ci_low": self.plan.ci_low, "ci_high": self.plan.ci_high,
            "within_budget": self.plan_within_budget,
            "accuracies": list(self.plan_accuracies),
            "uniform_voltage": self.uniform_voltage,
            "uniform_acc_mean": self.uniform.acc_mean, "uniform_ci_low": self.uniform.ci_low,
            "uniform_ci_high": self.uniform.ci_high, "uniform_within_budget": self.uniform_within_budget,
            "uniform_accuracies": list(self.uniform_accuracies),
        }  # fmt: skip


def final_verification(
    bench: Any,
    grid: Sequence[float],
    names: Sequence[str],
    steps: Sequence[int],
    uniform_step: int,
    settings: PlanSettings,
    say: Callable[[str], None] = lambda text: None,
) -> FinalSet:
    """Evaluate the frozen plan and uniform voltage once on the final set; change neither.

    The final set's chips (:func:`wcatsim.experiments.plan.chips.final_chips`) come after every
    adjustment set ``max_verification_sets`` allows, so no search, back-off or adjustment saw them,
    whatever number of adjustment sets was used.  Its result is reported as found: a plan that misses
    there is reported missing, with no retry (a retry would select the set and bias the figure).

    Parameters
    ----------
    bench
        ``accuracies(voltages, chip ids) -> list of percent`` and ``loss(stats) -> points``.
    grid, names, steps, uniform_step
        The voltage grid (highest first), the domains' names, the plan's grid index per domain and
        the uniform voltage's grid index.
    settings : PlanSettings
        Chip counts and the budget.
    say : callable
        Progress lines.

    Returns
    -------
    FinalSet
    """
    ids = final_chips(settings.planning_chips, settings.verification_chips, settings.max_verification_sets)
    volts = [float(grid[int(j)]) for j in steps]
    uniform_voltage = float(grid[int(uniform_step)])
    plan_accs = [float(a) for a in bench.accuracies(volts, ids)]
    uniform_accs = [float(a) for a in bench.accuracies([uniform_voltage] * len(names), ids)]
    plan_stats, uniform_stats = point_stats(plan_accs), point_stats(uniform_accs)
    plan_ok = bench.loss(plan_stats) <= settings.budget + search.TOLERANCE
    uni_ok = bench.loss(uniform_stats) <= settings.budget + search.TOLERANCE
    say(f"[plan] final set (chips {ids[0]}..{ids[-1]}, used by nothing else): plan {_fmt_stats(plan_stats)} "
        f"({'within' if plan_ok else 'MISSES'} budget), uniform {uniform_voltage:g}: "
        f"{_fmt_stats(uniform_stats)} "
        f"({'within' if uni_ok else 'MISSES'})")  # fmt: skip
    return FinalSet(ids, volts, uniform_voltage, plan_accs, uniform_accs, plan_stats, uniform_stats,
                    bool(plan_ok), bool(uni_ok))  # fmt: skip


def write_plan(plan: VoltagePlan, out_dir: str | Path) -> dict[str, Path]:
    """``plan_voltage.json`` and ``plan_voltage.csv``, atomically (the sensitivity table is written as it
    is computed)."""
    from wcatsim.store.atomic import atomic_write_csv, atomic_write_json

    out_dir = Path(out_dir)
    paths = {"json": out_dir / PLAN_JSON, "csv": out_dir / PLAN_CSV}
    convert = voltage_columns(plan.technology) if plan.technology is not None else None
    atomic_write_csv(paths["csv"], standard_columns(PLAN_CSV_COLUMNS),  # identity first, units named
                     [standard_row(row, plan.identity, convert) for row in plan.domain_rows()])
    atomic_write_json(paths["json"], plan.to_json())
    return paths


def format_plan(plan: VoltagePlan | dict[str, Any]) -> str:
    """The plan as an aligned text table (one line per domain), then the comparison with uniform."""
    data = plan.to_json() if isinstance(plan, VoltagePlan) else plan
    unit = data.get("voltage_unit", "V")
    details = data.get("domain_details") or [{**d, "energy_share": math.nan} for d in data["domains"]]
    head = ["domain", "weights", f"voltage ({unit})", "energy share"]
    lines = [head]
    kinds = {d["name"]: d.get("kind", "weights") for d in data["domains"]}
    for d in details:
        share = f"{100 * float(d['energy_share']):.1f}%"
        held = "buffer" if kinds.get(d["name"]) == "buffer" else str(d["weights"])
        lines.append([str(d["name"]), held, f"{float(d['voltage']):.3f}", share])
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    table = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in lines
    ]

    def acc(mean: Any, low: Any) -> str:
        missing = low is None or (isinstance(low, float) and math.isnan(low))
        return f"{float(mean):.2f}% (CI low {'—' if missing else f'{float(low):.2f}'})"

    def flag(key: str) -> str:
        return "" if data.get(key, True) else "  MISSES THE BUDGET"

    sets = data.get("verification_sets")
    plan_acc = acc(data["verified_acc_mean"], data["verified_ci_low"])
    uni_acc = acc(data.get("uniform_verified_acc_mean", math.nan), data.get("uniform_verified_ci_low"))
    table += [
        f"plan:    energy_norm {float(data['energy_norm']):.4f}, verified {plan_acc}"
        + flag("verified_within_budget"),
        f"uniform: {float(data['uniform_voltage']):.3f} {unit}, energy_norm "
        f"{float(data['uniform_energy_norm']):.4f}, verified {uni_acc}" + flag("uniform_within_budget"),
        f"clean {float(data['clean_acc']):.2f}%, budget {float(data['budget']):g} point(s) on the "
        f"{data['metric']}; saving_over_uniform {float(data['saving_over_uniform']):.4f}"
        + (f"; {sets} held-out set(s) spent adjusting" if sets else ""),
    ]
    table.append(_planned_memory(data, unit))
    for d in data["domains"]:
        if d.get("kind") == "buffer":
            table.append(
                f"{d['name']}: the activation buffer ({d.get('activations')} activations per inference, "
                "written and read once each); energies are over both memories at nominal"
            )
    if data.get("level_shifter_norm") is not None:
        table.append(
            f"level shifters: {float(data['level_shifter_norm']):.4f} of the nominal energy, in the plan's "
            "energy_norm and so in saving_over_uniform (bits read from domains below the highest; "
            + ("the uniform voltage, the buffer's beside the weights at nominal, pays them too)"
               if data.get("target") == "activations" else "the uniform design has none)")
        )
    final = data.get("final_set")
    if final:
        table.append(
            "verified: the frozen plan and uniform voltage once on the final set (chips "
            f"{final['chips'][0]}.."
            f"{final['chips'][-1]}, used by nothing else), reported as found"
        )
    if float(data["saving_over_uniform"]) < 0:
        table.append(
            "the uniform voltage in one memory costs less than these domains: each domain's arrays of its "
            "own (and their leaking padding) cost more than the voltages save; group layers with --domains"
        )
    if data.get("bounded_by_grid"):
        table.append(
            "at the lowest allowed voltage (a lower one, where the preset reaches, might hold too): "
            + ", ".join(data["bounded_by_grid"])
        )
    return "\n".join(table)


def _planned_memory(data: dict[str, Any], unit: str) -> str:
    """The line of :func:`format_plan` saying which memory the plan planned (``target``)."""
    target = data.get("target", "weights")  # a weights plan keeps its keys: no target recorded
    if target == "activations":
        held = data.get("weights_memory") or {}
        return (f"memory planned: the activation buffer alone; the weights ({held.get('weights')}) held "
                f"fault-free in one memory at nominal ({float(held.get('voltage', math.nan)):.3f} {unit}), "
                "in every energy; the uniform voltage is the buffer's")  # fmt: skip
    if target == "both":
        return "memory planned: both, the weights' domains and the activation buffer (one voltage per memory)"
    return "memory planned: the weights (activations in float, not stored in a buffer)"


def _fingerprint(evaluator: Any, tech: Any, doms: Sequence[Domain], chips: DomainChips,
                 settings: PlanSettings, activations: Any = None) -> str:
    """What a sensitivity point's accuracy depends on (not the budget or metric: they only decide where a
    domain's sweep stops and how its points are read)."""
    from wcatsim.memory.evaluator import model_fingerprint
    from wcatsim.store.results import fingerprint

    described = {
        "model": model_fingerprint(evaluator),
        "technology": tech.fingerprint(),
        "domains": [[d.name, list(d.layers)] for d in doms],
        "layout": repr(chips.memories[0].layout),
        "planning_chips": settings.planning_chips, "stuck_at_one": settings.stuck_at_one,
        "seed": settings.seed,
        # device and batch size change the floating-point sums, hence (rarely) an accuracy
        "device": evaluator.device_type, "batch_size": evaluator.batch_size,
    }  # fmt: skip
    n = _images(evaluator, settings)
    if n:  # only then: a whole-set table keeps its fingerprint
        described["images_per_realisation"] = _design(evaluator, n, settings)
    if activations is not None:  # only then: a weights plan keeps its fingerprint
        described["activations"] = {"target": activations.target, "fault": activations.fault or "chip",
                                    **evaluator.activations.describe()}  # fmt: skip
    return fingerprint(described, spaced=True)  # spaced: as the table has always been hashed


_SENSITIVITY_NUMBERS = ("acc_mean", "ci_low", "ci_high", "loss", "energy_norm", "acc_std_between")


def _images(evaluator: Any, settings: PlanSettings) -> int:
    """The sensitivity stage's images per chip (0: the whole set held by ``evaluator``)."""
    from wcatsim.experiments.plan.subsets import subset_size

    return subset_size(settings.images, evaluator.n_images)


def _chip_subsets(evaluator: Any, settings: PlanSettings) -> Any:
    """Each planning chip's image subset (:class:`~wcatsim.experiments.plan.subsets.ChipSubsets`), or None
    for the whole set; a size the stratified allocation cannot give is refused here, before any work."""
    from wcatsim.experiments.plan.subsets import ChipSubsets

    n = _images(evaluator, settings)
    if n and evaluator.streamed:  # refused before any work, not at the first faulty read
        raise InputError("`plan.images` needs the test set held in memory; this one is streamed (drop "
                         "`plan.images`, or set `data.stream` false where it fits)")  # fmt: skip
    if not n:
        return None
    # the clean answers on every image, once: each chip's estimate is a difference from them (subsets.py)
    clean = evaluator.correct(None, np.arange(evaluator.n_images))
    return ChipSubsets(evaluator.labels, n, settings.seed, clean, evaluator.clean_acc)


def _design(evaluator: Any, subsets: Any, settings: PlanSettings) -> dict[str, Any]:
    """``search.sensitivity_design`` of plan_voltage.json (``subsets``: a ChipSubsets, a size or None)."""
    from wcatsim.experiments.plan.subsets import design_record

    n = subsets if isinstance(subsets, int) else subsets.n if subsets is not None else 0
    return design_record(n, evaluator.n_images, settings.seed)


def _sensitivity_row(row: dict[str, str]) -> dict[str, Any]:
    """A sensitivity row read back, typed (KeyError/ValueError for a damaged one: evaluated again)."""
    return {
        "domain": row["domain"], "voltage": float(row["voltage"]), "chips": int(row["chips"]),
        **{k: float(row[k]) if row[k] != "" else math.nan for k in _SENSITIVITY_NUMBERS},
        # a table written before the column existed lacks it: KeyError, the point is evaluated again
        "images_per_realisation": int(row["images_per_realisation"]),
    }  # fmt: skip


class _SensitivityCache:
    """The sensitivity table on disk (``plan_voltage_sensitivity.csv``, its sidecar holding the fingerprint
    only), through the one result store (:class:`wcatsim.store.results.PointTable`): a rerun with the same
    model, technology, domains, layout, planning chips, device and batch size reuses every point already
    evaluated; one of other settings keeps the earlier table under its fingerprint; the table is locked
    while the planner runs."""

    def __init__(self, out_dir: Path | None, fingerprint: str, tech: Any = None,
                 identity: dict[str, Any] | None = None) -> None:  # fmt: skip
        from wcatsim.store.files import OUTPUTS
        from wcatsim.store.results import PointTable

        convert = voltage_columns(tech) if tech is not None else None
        # The plan and its figures were made from this table: kept aside with it, under its fingerprint
        # (left under the plain names, they would stand beside the new table showing the old plan).
        made_from = [out_dir / name for name in OUTPUTS["plan_voltage"]
                     if name not in (SENSITIVITY_CSV, Path(SENSITIVITY_CSV).with_suffix(".json").name)
                     ] if out_dir is not None else []  # fmt: skip
        self.table = PointTable(
            out_dir / SENSITIVITY_CSV if out_dir is not None else None, standard_columns(SENSITIVITY_COLUMNS),
            ("domain", "voltage"), {},
            fingerprint_key=fingerprint, sidecar="fingerprint", order="insertion",
            key_types={"domain": str}, check_path=False,
            parse=lambda row: _sensitivity_row(accept_both(row, tech)),  # old or new column names
            derive=lambda row: standard_row(row, identity, convert), also=made_from,
        )  # fmt: skip
        self.fingerprint = fingerprint
        self.reused = 0

    def close(self) -> None:
        self.table.close()

    def get(self, domain: str, voltage: float) -> PointStats | None:
        row = self.table.done((domain, voltage))
        if row is None:
            return None
        self.reused += 1
        return PointStats(row["chips"], row["acc_mean"], row["ci_low"], row["ci_high"],
                          row["acc_std_between"], row["images_per_realisation"])  # fmt: skip

    def put(self, domain: str, voltage: float, st: PointStats, loss: float, energy_norm: float) -> None:
        row = {
            "domain": domain, "voltage": float(voltage), "chips": st.chips, "acc_mean": st.acc_mean,
            "ci_low": st.ci_low, "ci_high": st.ci_high, "loss": loss, "energy_norm": energy_norm,
            "acc_std_between": st.acc_std_between, "images_per_realisation": st.images_per_realisation,
        }  # fmt: skip
        self.table.add((domain, voltage), row, write=False)  # written per domain, by save()

    def save(self) -> None:
        self.table.flush()

    def rows_for(self, domains: Sequence[str], grid: Sequence[float]) -> list[dict[str, Any]]:
        rows = self.table.rows
        return [rows[(d, float(v))] for d in domains for v in grid if (d, float(v)) in rows]


def _fmt_stats(st: PointStats) -> str:
    low = "—" if math.isnan(st.ci_low) else f"{st.ci_low:.2f}"
    return f"{st.acc_mean:.2f}% [CI low {low}]"


class _progress:
    """A tqdm bar over chip evaluations (no-op when off)."""

    def __init__(self, enabled: bool) -> None:
        from wcatsim.train.progress import bar

        # a bar on a terminal or in a notebook: redrawn lines are unreadable in a log file
        self.bar = bar(enabled, desc="plan-voltage", unit="chip", leave=False, dynamic_ncols=True)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def wrap(self, log: Callable[[str], None]) -> Callable[[str], None]:
        """``log`` with the bar lifted while it writes (no line mixed into the bar)."""
        if self.bar is None:
            return log

        def write(text: str) -> None:
            with self.bar.external_write_mode():
                log(text)

        return write

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


__all__ = [
    "PLAN_CSV",
    "PLAN_JSON",
    "PlanSettings",
    "FinalSet",
    "check_buffer",
    "HeldOut",
    "PointStats",
    "VoltagePlan",
    "check_grid",
    "default_grid",
    "domain_chip_seed",
    "final_verification",
    "format_plan",
    "plan_voltage",
    "point_stats",
    "verify_held_out",
    "write_plan",
]
