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
from collections.abc import Callable
from typing import Any

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
    detects = False

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
    detects = True

    def __init__(self, group_size: int = GROUP_SIZE, seed: int = 0) -> None:
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
            raise InputError(f"group_size must be a positive integer, got {group_size!r}")
        self.group_size = group_size
        self.seed = seed

    def settings(self) -> dict[str, Any]:
        """What the attack's summary records of this defence."""
        return {
            "defence": self.name,
            "defence_group_size": self.group_size,
            "defence_rule": (
                "RADAR-style (Li et al., DATE 2021): per layer, interleaved groups of defence_group_size "
                "weights (weight i in group i mod G), each with bits N-1 and N-2 of its keyed sum "
                "sum(k_i c_i), k_i = +-1 secret; a group whose signature changed is zeroed; the attacker is "
                "unaware (the attack runs as undefended; the defence checks the image at the break)"
            ),
        }

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


def codes_after(clean_codes: dict[str, torch.Tensor], rows: list[dict[str, Any]],
                flips: int) -> dict[str, torch.Tensor]:
    """The image after the first ``flips`` flips of a trial's log (``rows``), from a copy of the clean one."""
    codes = {name: c.clone() for name, c in clean_codes.items()}
    for row in rows:
        if row["flip"] <= flips:
            codes[row["layer"]].view(-1)[int(row["index"])] = int(row["code_after"])
    return codes


def defend_trial(defence: Checksum, reference: Any, clean_codes: dict[str, torch.Tensor],
                 rows: list[dict[str, Any]], flips: int, bits: dict[str, int],
                 accuracy: Callable[[dict[str, torch.Tensor]], float]) -> dict[str, Any]:
    """The defence's check of one trial's attacked image (the attacker unaware of it).

    Parameters
    ----------
    defence : Checksum
        A detecting defence.
    reference : object
        ``defence.reference`` of the clean image.
    clean_codes : dict
        The clean image.
    rows : list of dict
        The trial's flip log (``layer``, ``index``, ``code_after``, ``flip``).
    flips : int
        Flips of the log the attacked image holds (those to the break).
    bits : dict
        Per layer, its N.
    accuracy : callable
        Whole-test-set accuracy (percent) of an image.

    Returns
    -------
    dict
        ``detected_flips`` (flipped weights in a flagged group), ``flagged_groups`` (groups zeroed, all
        layers) and ``defended_acc`` (percent, after zeroing them).
    """
    codes = codes_after(clean_codes, rows, flips)
    flagged = defence.flagged(reference, codes, bits)
    sizes = {name: c.numel() for name, c in codes.items()}
    flipped = [(row["layer"], int(row["index"])) for row in rows if row["flip"] <= flips]
    return {
        "detected_flips": defence.detected(flipped, flagged, sizes),
        "flagged_groups": sum(int(f.sum()) for f in flagged.values()),
        "defended_acc": accuracy(defence.repair(codes, flagged)),
    }


__all__ = ["DEFENCES", "GROUP_SIZE", "Checksum", "NoDefence", "codes_after", "defend_trial"]
