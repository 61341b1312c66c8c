"""Simulated chips with one voltage domain per set of layers: every domain in arrays of its own.

Each domain's layers are packed into a :class:`sram_models.MemoryImage` of their own
(so the domain starts at an array boundary and its words hold only its weights),
and chip ``c``'s persistent faults in domain ``d`` come from a
:class:`sram_models.ChipFaultMap` with the seed :func:`domain_chip_seed`
(base seed, domain name, chip index).  That seed depends on nothing else, so

- **common random numbers**: chip ``c`` has exactly the same faulty cells (and stuck
  values) in domain ``d`` whether ``d`` is swept alone (the sensitivity curves) or
  read together with every other domain at its own voltage (the joint checks); the
  other domains' voltages only decide *their* faults.  Within a domain the faults are
  nested across voltages, as in every chip sweep;
- **disjoint chip sets**: planning uses chips ``0 .. P-1``, verification set ``s``
  (1, 2, ...) chips ``P + (s-1) V .. P + s V - 1``; different chip indices give
  independent seeds, so a verification set's chips were never seen by the search;
- **a final set used by nothing else**: chips ``P + M V .. P + (M+1) V - 1`` (``M``: the
  most adjustment sets allowed), after every set the adjustment may spend.

The activation buffer (``plan-voltage --target both``, :class:`BufferChips`) is one more domain of
every chip: its cells on chip ``c`` come from ``domain_chip_seed(seed, "activations", c)`` through
:func:`wcatsim.memory.activations.voltage_read` (the buffer's stuck cells are derived from that seed,
:func:`wcatsim.memory.activations.chip_buffer_seed`), so the same common random numbers and disjoint
sets hold for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from sram_models.errors import InputError
from wcatsim.experiments.plan.domains import Domain

# Tag of this stream of seeds (wcatsim.experiments.montecarlo.seeds uses 1 for transient draws, 2 for chips):
# a domain's chip never shares its seed with a whole-image chip of a sweep.
_DOMAIN_CHIP = 3



def domain_chip_seed(base_seed: int, domain: str, chip: int) -> int:
    """The seed of chip ``chip``'s faults in voltage domain ``domain`` (a 63-bit integer)."""
    if int(base_seed) < 0 or int(chip) < 0:
        raise InputError(f"seeds and chip indices must be >= 0, got seed {base_seed}, chip {chip}")
    name = np.frombuffer(hashlib.sha256(str(domain).encode()).digest()[:16], dtype=np.uint32)
    entropy = [int(base_seed), _DOMAIN_CHIP, *(int(w) for w in name), int(chip)]
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
    return int(state) & 0x7FFF_FFFF_FFFF_FFFF


def planning_chips(n: int) -> list[int]:
    """Chip indices of the planning set."""
    return list(range(int(n)))


def verification_chips(planning: int, per_set: int, set_number: int) -> list[int]:
    """Chip indices of verification set ``set_number`` (1, 2, ...): after the planning chips, disjoint."""
    if set_number < 1:
        raise InputError("verification sets are numbered from 1")
    start = int(planning) + (int(set_number) - 1) * int(per_set)
    return list(range(start, start + int(per_set)))


def final_chips(planning: int, per_set: int, max_sets: int) -> list[int]:
    """Chip indices of the final set: the set after the last adjustment set ``max_sets`` allows.

    Placed after all of them (not after the last one used) so that which chips are final does not
    depend on how the adjustment went, and no adjustment set can ever share a chip with it.
    """
    if int(max_sets) < 1:
        raise InputError("the adjustment allows at least one set")
    return verification_chips(planning, per_set, int(max_sets) + 1)


def make_layout(bits: int, word_bits: int, protect: str) -> Any:
    """The word layout of every domain: ``bits``-bit weights in ``word_bits``-bit words, protected by the
    scheme ``protect`` (:mod:`sram_models.protection`: its check cells sit in the domain's own words)."""
    from sram_models import WordLayout
    from sram_models.protection import check_scheme

    return WordLayout(bits=int(bits), word_bits=int(word_bits), protect=check_scheme(protect))


class DomainChips:
    """The domains' packed images and the chips' faults in them.

    ``model``: the quantized model; ``layout``: every domain's word layout (bits,
    word width, protection).  ``read(voltages, chip)`` returns the codes every layer
    reads on that chip with domain ``d`` at ``voltages[d]`` (``None``: the domain
    fault-free, as if at a safe voltage: its clean codes).
    """

    def __init__(
        self,
        model: Any,
        domains: Sequence[Domain],
        layout: Any,
        technology: Any,
        stuck_at_one: float = 0.5,
        base_seed: int = 0,
        cache_chips: int = 20,
    ) -> None:
        from sram_models import ChipFaultMap
        from wcatsim.memory.evaluator import ModelMemory

        self.domains = list(domains)
        if len({d.name for d in self.domains}) != len(self.domains):
            raise InputError("two voltage domains have the same name: give every domain its own")
        self.memories = [ModelMemory(model, layers=list(d.layers), layout=layout) for d in self.domains]
        self.images = [m.image for m in self.memories]
        self.technology = technology
        self.base_seed = int(base_seed)
        # One map for every domain (seeds differ); its cache holds what one sensitivity point
        # (one domain, every chip of a set) or one joint read (one chip, every domain) needs.
        self.faults = ChipFaultMap(
            technology=technology, stuck_at_one=stuck_at_one,
            cache_size=max(int(cache_chips), len(self.domains)) + 1,
        )  # fmt: skip
        self.clean: dict[str, np.ndarray] = {}
        for memory in self.memories:
            self.clean.update(memory.clean_codes)

    def seed(self, domain: int, chip: int) -> int:
        return domain_chip_seed(self.base_seed, self.domains[domain].name, chip)

    def read(self, voltages: Sequence[float | None], chip: int) -> tuple[dict[str, np.ndarray], int]:
        """(codes of every layer, faulty cells over the faulty domains) on chip ``chip``."""
        if len(voltages) != len(self.domains):
            raise InputError(f"give one voltage per domain ({len(self.domains)}), got {len(voltages)}")
        codes = dict(self.clean)
        faulty = 0
        for d, v in enumerate(voltages):
            if v is None:
                continue
            result = self.faults.corrupt(self.images[d], seed=self.seed(d, chip), voltage=float(v))
            codes.update(result.codes)
            faulty += int(result.faulty_cells)
        return codes, faulty


class BufferChips:
    """The activation buffer as a voltage domain of every chip: its read at a voltage on a chip.

    Parameters
    ----------
    spec : wcatsim.config.ActivationSpec
        The buffer's settings (target both; ``fault`` None reads it through the ``chip`` model, as the
        weights' domains).
    technology : sram_models.Technology
        The plan's technology (the buffer's faults and energy).
    stuck_at_one : float
        Share of faulty cells stuck at 1.
    base_seed : int
        The plan's base seed.
    name : str
        The buffer domain's name (its chips' seeds depend on it).
    """

    def __init__(self, spec: Any, technology: Any, stuck_at_one: float = 0.5, base_seed: int = 0,
                 name: str = "activations") -> None:  # fmt: skip
        self.spec = spec
        self.technology = technology
        self.stuck_at_one = float(stuck_at_one)
        self.base_seed = int(base_seed)
        self.name = name

    def seed(self, chip: int) -> int:
        """The seed of chip ``chip``'s buffer cells (:func:`domain_chip_seed` of the buffer's name)."""
        return domain_chip_seed(self.base_seed, self.name, chip)

    def read(self, voltage: float | None, chip: int) -> Any:
        """The buffer's read on chip ``chip`` at ``voltage`` (an ActivationRead), None for a clean buffer."""
        if voltage is None:
            return None
        from wcatsim.memory.activations import voltage_read

        # the plan's chips are persistent faults: the chip model unless the buffer names its own
        return voltage_read(self.spec, "chip", self.technology, float(voltage), self.seed(chip),
                            self.stuck_at_one)  # fmt: skip


__all__ = [
    "BufferChips",
    "DomainChips",
    "domain_chip_seed",
    "final_chips",
    "make_layout",
    "planning_chips",
    "verification_chips",
]
