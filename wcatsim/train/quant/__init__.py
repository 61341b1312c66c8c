"""Weight quantization: quantizers, quantized layers (the config is wcatsim.config.quant; the integer
image is wcatsim.image).

Weights only, per layer, signed symmetric N-bit two's complement.  Biases and batch-norm parameters stay
float and are assumed to be held in protected memory (they are not part of the integer image and are
never hit by simulated bit errors).

``QuantConfig(method="float")`` is the unquantized reference: :func:`quantize` returns the model
unchanged, :func:`quantized_layers` is empty and :func:`weight_image` raises InputError (a float model
has no integer image to corrupt).

Stable names other parts rely on: ``QConv2d/QLinear._image_weight`` (the tensor a layer computes with
while running from an image; a leaf tensor without grad, which the Bit-Flip Attack differentiates
through), and ``functions.MIN_BITS/MAX_BITS/grid_bounds/to_unsigned/flip_bits``.
"""

from wcatsim.config.quant import CLAMP_GRADS, LSQ_GRADIENTS, RANGE_INITS, QuantConfig

from .functions import dequantize, flip_bits, grid_bounds, quantize_to_grid, random_bit_flips
from .layers import QConv2d, QLinear
from .model import (
    clip_weights_,
    collapsed_ranges,
    layer_stats,
    param_groups,
    quant_config_of,
    quantize,
    quantized_layers,
    range_parameters,
    reinit_ranges,
)
from .quantizers import (
    FixedRangeQuantizer,
    FloatWeights,
    LsqQuantizer,
    MaxAbsQuantizer,
    PlclipQuantizer,
    WcatQuantizer,
    WeightQuantizer,
)

__all__ = [
    "QuantConfig", "CLAMP_GRADS", "RANGE_INITS", "LSQ_GRADIENTS",
    "quantize", "quantized_layers", "quant_config_of", "range_parameters", "reinit_ranges", "clip_weights_",
    "collapsed_ranges",
    "layer_stats",
    "param_groups",
    "QConv2d", "QLinear",
    "FloatWeights",
    "WeightQuantizer", "MaxAbsQuantizer", "LsqQuantizer", "WcatQuantizer", "FixedRangeQuantizer",
    "PlclipQuantizer",
    "grid_bounds", "quantize_to_grid", "dequantize", "flip_bits", "random_bit_flips",
]
