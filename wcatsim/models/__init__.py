"""Model registry: ``build_model(name, num_classes, in_channels, image_size)``.

Any other ``nn.Module`` can be quantized through :func:`wcatsim.quant.quantize` directly.
"""

from .registry import MODEL_NAMES, build_model

__all__ = ["MODEL_NAMES", "build_model"]
