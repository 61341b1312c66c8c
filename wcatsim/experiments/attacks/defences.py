"""Defences against the Bit-Flip Attack, registered in :data:`DEFENCES` (issue 20 §3).

``checksum`` is RADAR-style run-time detection (Li, Rakin, He, Fan and Chakrabarti, DATE 2021): each
quantized layer's weights are split into ``G`` interleaved groups (weight ``i`` in group ``i mod G``, so
that neighbouring weights, which an attacker could flip together, fall in different groups); each group
keeps a 2-bit signature of a keyed sum of its integer codes, ``S = sum_i k_i c_i`` with a secret
``k_i = ±1`` per weight (the key stops an attacker from choosing flips whose changes cancel in a plain
sum).  The signature is bits ``N-1`` and ``N-2`` of ``S`` (``N`` the weight's bits): flipping bit ``j``
of one code changes ``S`` by ``±2^j``, which toggles bit ``j`` of ``S``, so one flip of either of the two
most significant bits in a group is always detected (the BFA flips almost only those; RADAR reports
9.6 of 10 flips detected on ResNet-18).  Flips of the lower bits are not seen; two flips of the same bit
in one group may cancel.  A flagged group is zeroed (RADAR's recovery).

Here the attacker is *unaware* of the defence (as in RADAR's evaluation): the attack runs as without
it; the defence checks the attacked image afterwards.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sram_models.errors import InputError
from sram_models.registry import Registry

DEFENCES: Registry = Registry("defence", homes=(__name__,))

# Weights per group.  RADAR evaluates several group sizes; 16 is this project's choice (smaller groups
# detect more and zero less at once, at more signature bits: 2 bits per 16 N-bit weights).
GROUP_SIZE = 16


@DEFENCES.register("none")
class NoDefence:
    """No defence: nothing is detected or repaired."""

    name = "none"

    def reference(self, codes: dict[str, torch.Tensor], bits: dict[str, int]) -> None:
        """Nothing is stored."""
        return None

    def flagged(self, reference: None, codes: dict[str, torch.Tensor],
                bits: dict[str, int]) -> dict[str, torch.Tensor]:
        """No group is flagged (empty masks)."""
        return {name: torch.zeros(0, dtype=torch.bool) for name in codes}


@DEFENCES.register("checksum")
class Checksum:
    """RADAR-style 2-bit signatures over interleaved weight groups; flagged groups are zeroed.

    Parameters
    ----------
    group_size : int
        Weights per group (a layer of ``n`` weights has ``ceil(n / group_size)`` groups).
    seed : int
        Seed of the secret ±1 key.
    """

    name = "checksum"

    def __init__(self, group_size: int = GROUP_SIZE, seed: int = 0) -> None:
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
            raise InputError(f"group_size must be a positive integer, got {group_size!r}")
        self.group_size = group_size
        self.seed = seed

    def groups(self, n: int) -> int:
        """Groups of a layer of ``n`` weights."""
        return max(1, math.ceil(n / self.group_size))

    def group_index(self, n: int) -> torch.Tensor:
        """Group of each of ``n`` weights (interleaved: weight ``i`` in group ``i mod G``)."""
        return torch.arange(n) % self.groups(n)

    def key(self, layer: str, n: int) -> torch.Tensor:
        """The secret ±1 key of a layer's ``n`` weights (int64), seeded by ``seed`` and the layer's name."""
        salt = [self.seed, *layer.encode()]
        signs = np.random.default_rng(salt).integers(0, 2, size=n) * 2 - 1
        return torch.from_numpy(signs.astype(np.int64))

    def signatures(self, codes: dict[str, torch.Tensor], bits: dict[str, int]) -> dict[str, torch.Tensor]:
        """Per layer, a ``(G, 2)`` int64 tensor: bits ``N-1`` and ``N-2`` of each group's keyed sum."""
        out = {}
        for name, c in codes.items():
            flat = c.reshape(-1).to(torch.int64)
            g = self.groups(flat.numel())
            sums = torch.zeros(g, dtype=torch.int64).index_add_(0, self.group_index(flat.numel()),
                                                                 flat * self.key(name, flat.numel()))
            n_bits = bits[name]
            # floor division and mod 2 on int64 give the two's-complement bits of S (negative S too)
            out[name] = torch.stack([torch.div(sums, 2 ** b, rounding_mode="floor") % 2
                                     for b in (n_bits - 1, max(n_bits - 2, 0))], dim=1)
        return out

    def reference(self, codes: dict[str, torch.Tensor], bits: dict[str, int]) -> dict[str, torch.Tensor]:
        """The signatures of the clean image (kept beside the weights)."""
        return self.signatures(codes, bits)

    def flagged(self, reference: dict[str, torch.Tensor], codes: dict[str, torch.Tensor],
                bits: dict[str, int]) -> dict[str, torch.Tensor]:
        """Per layer, a bool tensor over its groups: the signature differs from the reference."""
        now = self.signatures(codes, bits)
        return {name: (now[name] != reference[name]).any(dim=1) for name in codes}

    def repair(self, codes: dict[str, torch.Tensor],
               flagged: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A copy of ``codes`` with every weight of a flagged group set to 0."""
        out = {}
        for name, c in codes.items():
            zero = flagged[name][self.group_index(c.numel())].reshape(c.shape)
            out[name] = torch.where(zero, torch.zeros_like(c), c)
        return out

    def detected(self, flips: list[tuple[str, int]], flagged: dict[str, torch.Tensor],
                 sizes: dict[str, int]) -> int:
        """How many of the flipped weights ``(layer, flat index)`` lie in a flagged group."""
        return sum(int(flagged[layer][index % self.groups(sizes[layer])]) for layer, index in flips)


__all__ = ["DEFENCES", "GROUP_SIZE", "Checksum", "NoDefence"]
