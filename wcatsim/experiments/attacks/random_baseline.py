"""The random-flip baseline: as many flips as the attack needed, on uniformly random bits of the image.

It shows the attack is not luck: the same number of flips at random places barely moves accuracy.
"""

from __future__ import annotations

import numpy as np
import torch

from wcatsim.train.quant.functions import flip_bits


def random_bit_flips(
    codes: dict[str, torch.Tensor], bits: dict[str, int], n_flips: int, seed: int | list[int]
) -> dict[str, torch.Tensor]:
    """A copy of ``codes`` with ``n_flips`` distinct bits, drawn uniformly from all stored bits, flipped."""
    names = list(codes)
    sizes = np.array([codes[name].numel() * bits[name] for name in names], dtype=np.int64)
    total = int(sizes.sum())
    n_flips = min(int(n_flips), total)
    out = {name: codes[name].clone() for name in names}
    if n_flips <= 0:
        return out
    positions = np.random.default_rng(seed).choice(total, size=n_flips, replace=False)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    layer_of = np.searchsorted(offsets, positions, side="right") - 1
    for li, name in enumerate(names):
        local = positions[layer_of == li] - offsets[li]
        if local.size == 0:
            continue
        # One XOR mask per weight: two drawn bits of the same weight must both flip.
        mask = np.zeros(out[name].numel(), dtype=np.int64)
        np.add.at(mask, local // bits[name], np.left_shift(1, local % bits[name]))
        flat = out[name].view(-1)
        flat.copy_(flip_bits(flat, torch.from_numpy(mask), bits[name]).to(flat.dtype))
    return out


def random_flip_accuracy(evaluator, codes: dict[str, torch.Tensor], bits: dict[str, int], n_flips: int,
                         seed: int | list[int]) -> float:
    """Whole-test-set accuracy (percent) after ``n_flips`` random distinct bit flips of ``codes``."""
    return evaluator.accuracy(random_bit_flips(codes, bits, n_flips, seed))
