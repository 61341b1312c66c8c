"""Every weight's sign bit in an 8T cell that does not fail above its own Vmin (hybrid 8T-6T array)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sram_models.protection.cells import EIGHT_T
from sram_models.protection.registry import PLAIN, PROTECTION_SCHEMES, Scheme

if TYPE_CHECKING:
    from sram_models.layout import WordLayout
    from sram_models.technology import Technology


@dataclass(frozen=True)
class HardenedSignScheme(Scheme):
    """Sign bits in 8T cells (no failures at or above the 8T Vmin); the other bits are 6T cells."""

    hardened_signs: bool = True

    def cells_per_word(self, layout: WordLayout) -> dict[str, int]:
        """One 8T cell per weight slot (its sign bit), the rest 6T."""
        signs = layout.weights_per_word
        return {"6T": layout.phys_bits - signs, "8T": signs}

    def voltage_floor(self, technology: Technology) -> float | None:
        """The 8T cells' Vmin: ``EIGHT_T.v_min_ratio`` (8T/6T Vmin) x the preset's 6T Vmin ``v_min``."""
        return EIGHT_T.v_floor(technology.v_min)


MSB_8T = PROTECTION_SCHEMES.register("msb-8t", HardenedSignScheme(
    "msb-8t", PLAIN,
    "every weight's sign bit in an 8T cell that does not fail above its own Vmin",
    "hybrid 8T-6T array of Srinivasan et al., DATE 2016 (arXiv:1602.08556); 8T Vmin from Chang "
    "et al., JSSC 2008", False,
    "none (the sign bits change cell kind)",
))  # fmt: skip
