"""The attack batch seen through the integer image: loss, weight gradients, candidate losses.

Every forward runs the model from the integer codes with :func:`wcatsim.image.run_from_image`; the
float parameters are never written.  For the gradient, the dequantized weights that
``run_from_image`` installs are made leaf tensors that require grad (``run_from_image`` computes them
without autograd), so ``dL/dw`` is the gradient at exactly the weights the layer computes with.
Candidate forwards share the layers below the changed one through :class:`PrefixReplay`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from wcatsim.image import run_from_image
from wcatsim.memory.replay import PrefixReplay
from wcatsim.train.quant import quantized_layers


def as_model_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` in the memory layout the attack's forwards use: channels-last for images into a conv net.

    The CPU convolutions run NHWC markedly faster (1.6x for ResNet-20 on a 2-core machine, measured); the
    layout is fixed once per tensor, so every forward of the attack sees the same kernels.
    """
    if x.dim() == 4 and any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return x.contiguous(memory_format=torch.channels_last)
    return x


@contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[None]:
    """No parameter requires grad inside the block: the backward computes only the image-weight grads."""
    saved = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in saved:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


class ImageAttackProblem:
    """Loss and gradients of one attack batch for a quantized model run from integer codes.

    ``share_prefix=False`` gives the plain version (a full forward per candidate); both give the same
    numbers, the shared one faster.  ``loss(logits, y)`` is what the attack maximises (its objective's,
    :mod:`wcatsim.experiments.attacks.objectives`; default the untargeted mean cross-entropy).
    """

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        steps: dict[str, float],
        bits: dict[str, int],
        share_prefix: bool = True,
        loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    ) -> None:
        self.model = model
        self.layers = quantized_layers(model)
        self.layer_names = list(self.layers)
        self.steps = dict(steps)
        self.bits = dict(bits)
        device = next(model.parameters()).device
        self.x = as_model_input(model, x.to(device))
        self.y = y.to(device)
        self.share_prefix = share_prefix
        self.loss_fn = loss
        self._replay = PrefixReplay(model, list(self.layers.values())) if share_prefix else None
        self.forwards = 0  # attack-batch forwards run (gradient forwards included)

    def _loss(self) -> torch.Tensor:
        self.forwards += 1
        return self.loss_fn(self.model(self.x), self.y)

    def loss_and_gradients(self, codes: dict[str, torch.Tensor]) -> tuple[float, dict[str, torch.Tensor]]:
        with run_from_image(self.model, codes), frozen_parameters(self.model):
            weights = {name: layer._image_weight for name, layer in self.layers.items()}
            for w in weights.values():
                w.requires_grad_(True)
            try:
                with torch.enable_grad():
                    if self._replay is not None:
                        with self._replay.recording():
                            loss = self._loss()
                    else:
                        loss = self._loss()
                    loss.backward()
                grads = {}
                for name, w in weights.items():
                    # A weight the loss does not reach (e.g. a layer after an all-zero ReLU) has no grad.
                    g = w.grad if w.grad is not None else torch.zeros_like(w)
                    grads[name] = g.detach().to("cpu", torch.float32)
            finally:
                for w in weights.values():
                    w.grad = None
                    w.requires_grad_(False)
            # The model modifies some outputs in place: now known, record once more with copies.  A
            # module may do so only without autograd (ResNet-18's in-place batch norm), so the no-grad
            # forward can find more; each failed record adds positions, so this ends.
            for _ in range(len(self._replay.units) + 1 if self._replay is not None else 0):
                if self._replay.recorded:
                    break
                with torch.no_grad(), self._replay.recording():
                    self._loss()
        return float(loss.detach()), grads

    @contextmanager
    def candidates(self, codes: dict[str, torch.Tensor]) -> Iterator[None]:
        """Inside the block, :meth:`candidate_loss` evaluates changes to ``codes``.

        The image is installed once for the whole block; each candidate then replaces one layer only.
        """
        with torch.no_grad(), run_from_image(self.model, codes):
            yield

    def candidate_loss(self, layer: str, layer_codes: torch.Tensor) -> float:
        """Attack-batch loss with ``layer``'s codes replaced (call inside :meth:`candidates`)."""
        with run_from_image(self.model, {layer: layer_codes}):
            if self._replay is None:
                return float(self._loss())
            # Unit calls before ``layer``'s first call are replayed from the record of the current codes.
            with self._replay.replaying(self._replay.first_call(self.layers[layer])):
                return float(self._loss())
