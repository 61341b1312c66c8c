"""Piecewise clustering (He, Rakin, Li, Fan, "Defending and harnessing the bit-flip based adversarial
weight attack", CVPR 2020, Eq. 5), a training penalty against the Bit-Flip Attack.

Per layer, the penalty pulls the positive weights towards their mean and the negative weights towards
theirs.  Two forms (``trainer.clustering_form``):

- ``squared`` (default): ``sum_l ||W_l+ - mean(W_l+)||_2^2 + ||W_l- - mean(W_l-)||_2^2``, the
  within-centre sum of squares.  This is what the authors' released code computes
  (``piecewise_clustering`` in ``utils.py`` of github.com/elliothe/BFA: ``(w - w.mean()).pow(2).sum()`` per
  side, default lambda 1e-3 with SGD at lr 0.1), so it is the form behind the paper's numbers.  Its
  gradient ``2 (w - mean)`` pulls every weight in proportion to its distance, as a weight decay towards
  the centre would.
- ``norm``: ``||.||_2`` unsquared, Eq. 5 as the paper prints it.  Its gradient ``(w - mean) / ||W - mean||``
  has a per-weight size of about ``1/sqrt(n)``: a layer of ``n`` weights is pulled ``sqrt(n)`` times more
  weakly than a tiny one, whatever lambda.

With the weights close to two centres, the largest codes are rare and many weights share a magnitude, so
no single top-bit flip moves a weight much further from the others than the rest.  The loss is
``cross_entropy + lambda * penalty`` (``trainer.clustering``, 0 = off); the penalty is on the latent float
weights of every convolution and linear layer (the quantized layers of a quantized model), the means are
taken with gradient (the formula as written; their own term of the gradient sums to 0).
"""

from __future__ import annotations

import torch
from torch import nn


def clustered_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights the penalty acts on: every convolution's and linear layer's ``weight``, by name."""
    return {name: m.weight for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}


CLUSTERING_FORMS = ("squared", "norm")


def clustering_penalty(model: nn.Module, form: str = "squared") -> torch.Tensor:
    """``sum_l ||W_l+ - mean(W_l+)||_2^p + ||W_l- - mean(W_l-)||_2^p`` over :func:`clustered_weights`.

    Parameters
    ----------
    model : torch.nn.Module
        The model being trained.
    form : {"squared", "norm"}
        ``p = 2`` (the authors' code, the default) or ``p = 1`` (Eq. 5 as printed); see the module's doc.

    Returns
    -------
    torch.Tensor
        A scalar (0 for a model without such layers); a side with no weight (all weights of one sign)
        adds 0.
    """
    if form not in CLUSTERING_FORMS:
        raise ValueError(f"clustering form must be one of {CLUSTERING_FORMS}, got {form!r}")
    total = torch.zeros(())
    for w in clustered_weights(model).values():
        total = total.to(w.device)
        for side in (w[w > 0], w[w < 0]):
            if side.numel():
                deviation = side - side.mean()
                spread = deviation.pow(2).sum() if form == "squared" else torch.linalg.vector_norm(deviation)
                total = total + spread
    return total


__all__ = ["CLUSTERING_FORMS", "clustered_weights", "clustering_penalty"]
