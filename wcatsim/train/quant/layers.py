"""Quantized Conv2d and Linear: subclasses that keep the ``weight``/``bias`` state-dict keys.

A float checkpoint of the same architecture therefore loads into the quantized model
(``strict=False`` for the quantizer's own ``quantizer.*`` entries).  The bias stays float (assumed to
be held in protected memory).  While a model runs from an integer image (:mod:`wcatsim.image.weight_image`),
the layer uses the dequantized image weights instead of quantizing its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .quantizers import WeightQuantizer


class QuantizedLayerMixin:
    """Shared by the quantized layers: the quantizer, the image override, the effective weight."""

    quantizer: WeightQuantizer
    _image_weight: torch.Tensor | None

    def _attach(self, quantizer: WeightQuantizer) -> None:
        self.quantizer = quantizer
        self._image_weight = None

    @property
    def bits(self) -> int:
        return self.quantizer.bits

    def quantized_weight(self) -> torch.Tensor:
        """The weights the forward uses: the image's while running from one, else fake-quant ones."""
        if self._image_weight is not None:
            return self._image_weight
        return self.quantizer(self.weight)


class QConv2d(QuantizedLayerMixin, nn.Conv2d):
    """nn.Conv2d whose weights are fake-quantized by ``self.quantizer`` in every forward."""

    @classmethod
    def from_float(cls, conv: nn.Conv2d, quantizer: WeightQuantizer) -> QConv2d:
        layer = cls(
            conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
            dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None,
            padding_mode=conv.padding_mode, device="meta",
        )
        layer.weight = conv.weight
        layer.bias = conv.bias
        layer._attach(quantizer.to(conv.weight.device))
        layer.train(conv.training)
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.quantized_weight(), self.bias)


class QLinear(QuantizedLayerMixin, nn.Linear):
    """nn.Linear whose weights are fake-quantized by ``self.quantizer`` in every forward."""

    @classmethod
    def from_float(cls, linear: nn.Linear, quantizer: WeightQuantizer) -> QLinear:
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None, device="meta")
        layer.weight = linear.weight
        layer.bias = linear.bias
        layer._attach(quantizer.to(linear.weight.device))
        layer.train(linear.training)
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.quantized_weight(), self.bias)


QUANTIZED_TYPES = (QConv2d, QLinear)
