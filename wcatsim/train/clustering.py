"""Piecewise clustering (He, Rakin, Li, Fan, "Defending and harnessing the bit-flip based adversarial
weight attack", CVPR 2020, Eq. 5), a training penalty against the Bit-Flip Attack.

Per layer, the penalty pulls the positive weights towards their mean and the negative weights towards
theirs: ``sum_l ||W_l+ - mean(W_l+)||_2 + ||W_l- - mean(W_l-)||_2``.  With the weights close to two
centres, the largest codes are rare and many weights share a magnitude, so no single top-bit flip moves a
weight much further from the others than the rest (the paper: 19.3x more flips to break ResNet-20 on
CIFAR-10).  The loss is ``cross_entropy + lambda * penalty`` (``trainer.clustering``, 0 = off); the
penalty is on the latent float weights of every convolution and linear layer (the quantized layers of a
quantized model), the means are taken with gradient (the formula as written).
"""

from __future__ import annotations

import torch
from torch import nn


def clustered_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights the penalty acts on: every convolution's and linear layer's ``weight``, by name."""
    return {name: m.weight for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}


def clustering_penalty(model: nn.Module) -> torch.Tensor:
    """``sum_l ||W_l+ - mean(W_l+)||_2 + ||W_l- - mean(W_l-)||_2`` over :func:`clustered_weights`.

    Parameters
    ----------
    model : torch.nn.Module
        The model being trained.

    Returns
    -------
    torch.Tensor
        A scalar (0 for a model without such layers); a side with no weight (all weights of one sign)
        adds 0.
    """
    total = torch.zeros(())
    for w in clustered_weights(model).values():
        total = total.to(w.device)
        for side in (w[w > 0], w[w < 0]):
            if side.numel():
                total = total + torch.linalg.vector_norm(side - side.mean())
    return total


__all__ = ["clustered_weights", "clustering_penalty"]
