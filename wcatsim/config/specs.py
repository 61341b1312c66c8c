"""The experiment specs the fault experiments take, and the ``[plan]`` section of ``wcatsim plan-voltage``.

The specs replace 20+ keyword arguments.

:class:`MemorySpec` says how the weights are held in SRAM, :class:`MonteCarloSpec` how many fault
realisations are drawn and from which seeds; ``random_flip_sweep`` and ``voltage_sweep``
(:mod:`wcatsim.experiments.sweeps.sweep`) take one of each. Every field is declared once here: its type,
its bounds (``Field(ge=...)``), its unit in the doc, and the one-line doc the CLI's help reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from wcatsim.config.settings import check, check_choice, settings


@settings("memory")
class MemorySpec:
    """How the integer weights are held in SRAM (the layout and energy organisation of sram_models)."""

    word_bits: int = Field(64, ge=1, description="Data bits per SRAM word the weights are packed into.")
    protect: str | None = Field(
        None,
        description="Protection scheme of the weight memory (sram_models.SCHEME_NAMES); None = from ecc, "
        "else none.",
    )
    ecc: str | None = Field(
        None, description="Error-correcting code per word, alias of protect (none, secded); None = unset."
    )
    banks: int | None = Field(
        None, ge=1, description="Banks read in parallel; None = sram_models' default organisation."
    )
    inference_time_ns: float | None = Field(
        None, gt=0, description="The accelerator's inference time in ns; None = the time the reads take."
    )
    layers: tuple[str, ...] | None = Field(
        None, description="Qualified names of the layers whose weights are in the memory; None = every layer."
    )
    eval_images: int = Field(
        0, ge=0, description="> 0: every accuracy on one fixed, stratified, seeded subset of this many test "
        "images; 0 = the whole test set.",
    )

    def __post_init__(self) -> None:
        if self.protect not in (None, ""):
            check_choice(self.protect, "memory.protect", "SCHEME_NAMES", "protection scheme")


@settings("montecarlo")
class MonteCarloSpec:
    """How many fault realisations (chips) are drawn per point, from which seeds, on which executor."""

    samples: int = Field(
        50, ge=1, description="Realisations per point, fixed-count protocol (the paper's 50); chips per "
        "voltage in a voltage sweep.",
    )
    ci_half_width: float = Field(
        0.0, ge=0, description="> 0: Stein's two-stage rule for this 95% CI half-width, in accuracy points; "
        "0 = fixed count.",
    )
    min_samples: int = Field(50, ge=1, description="Adaptive: the pilot's realisations; never fewer.")
    max_samples: int = Field(200, ge=1, description="Adaptive: never more realisations than this.")
    seed: int = Field(0, ge=0, description="Base seed of the fault draws (common random numbers).")
    executor: Any = Field(
        None, description="Where realisations run (a wcatsim.experiments.montecarlo Executor); None = here."
    )
    # 1 on CPU: the kernels already use every core on one realisation, and a batch of B multiplies the
    # activations held by B (wcatsim.memory.batched); more pays on a GPU that one small forward leaves idle.
    batch_realisations: int = Field(
        1, ge=1, description="Realisations per batched forward (same draws and results); 1 = one at a time.",
    )
    # ResNet-20 on 2 busy CPU cores: 2.8x faster per realisation after an 84 s compile (benchmarks/forward.py,
    # docs/performance.md): pays from a few hundred realisations on, so off by default.
    compile: bool = Field(
        False, description="Evaluate through torch.compile: faster per realisation after a one-off compile.",
    )

    def __post_init__(self) -> None:
        check(
            self.min_samples <= self.max_samples,
            "montecarlo.min_samples",
            f"need min_samples <= max_samples, got {self.min_samples} and {self.max_samples}",
        )


@settings("plan")
class PlanConfig:
    """``wcatsim plan-voltage``: what a plan must meet and how it is searched and verified.

    :class:`wcatsim.experiments.plan.planner.PlanSettings` checks the values.
    """

    budget: float = Field(1.0, ge=0, description="Accuracy points below clean accuracy the plan may lose.")
    metric: Literal["mean", "ci_low"] = Field(
        "mean", description="mean: mean accuracy over chips; ci_low: the lower end of its 95% CI."
    )
    planning_chips: int = Field(20, ge=1, description="Chips the search sees.")
    verification_chips: int = Field(20, ge=1, description="Chips per verification set, unseen by the search.")
    max_verification_sets: int = Field(
        5, ge=1, description="Fresh verification sets tried before a plan is reported as missing."
    )
    protect: str = Field("none", description="Protection scheme of every domain's words.")
    word_bits: int = Field(64, ge=1, description="Data bits per SRAM word.")
    stuck_at_one: float = Field(0.5, ge=0, le=1, description="Share of faulty cells stuck at 1.")
    seed: int = Field(0, ge=0, description="Base seed of every chip's faults.")
    banks: int | None = Field(
        None, ge=1, description="Banks read in parallel; None = the default organisation."
    )
    inference_time_ns: float | None = Field(
        None, gt=0, description="The accelerator's inference time in ns; None = the time the reads take."
    )
    eval_images: int = Field(
        0, ge=0, description="> 0: every accuracy on a fixed subset of this many images."
    )
    # Nested design of the sensitivity curves (issue 18 section 1; wcatsim.experiments.plan.subsets): each
    # planning chip on its own seeded, class-stratified subset of this many test images, the same at every
    # voltage and domain.  0/"all": the whole set, the default (the curves as before).  No "auto" (the
    # sweeps' allocated design): it chooses the realisations too, and a plan's planning chips are fixed.
    images: int | Literal["all"] = Field(
        0, description="Sensitivity curves: test images per planning chip (its own stratified subset); "
        "0/'all': all.",
    )

    def __post_init__(self) -> None:
        check_choice(self.protect, "plan.protect", "SCHEME_NAMES", "protection scheme")
        check(isinstance(self.images, str) or self.images >= 0, "plan.images",
              f"must be a count >= 0 or 'all', got {self.images}")


__all__ = ["MemorySpec", "MonteCarloSpec", "PlanConfig"]
