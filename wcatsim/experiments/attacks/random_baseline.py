"""The random-flip baseline: as many flips as the attack needed, on uniformly random bits of the image.

It shows the attack is not luck: the same number of flips at random places barely moves accuracy.
"""

from __future__ import annotations

import torch

from wcatsim.train.quant.functions import flip_bits


def random_bit_flips(
    codes: dict[str, torch.Tensor], bits: dict[str, int], n_flips: int, seed: int | list[int]
) -> dict[str, torch.Tensor]:
    """A copy of ``codes`` with ``n_flips`` distinct bits, drawn uniformly from all stored bits, flipped
    (the ``exact-count`` fault model of sram_models draws them)."""
    from sram_models.faults.exact_count import ExactCount

    out = {name: codes[name].clone() for name in codes}
    masks = ExactCount(count=max(int(n_flips), 0)).flip_masks(
        {name: codes[name].numel() for name in codes}, bits, seed
    )
    for name, mask in masks.items():
        if not mask.any():
            continue
        flat = out[name].view(-1)
        flat.copy_(flip_bits(flat, torch.from_numpy(mask), bits[name]).to(flat.dtype))
    return out


def random_flip_accuracy(evaluator, codes: dict[str, torch.Tensor], bits: dict[str, int], n_flips: int,
                         seed: int | list[int]) -> float:
    """Whole-test-set accuracy (percent) after ``n_flips`` random distinct bit flips of ``codes``."""
    return evaluator.accuracy(random_bit_flips(codes, bits, n_flips, seed))
