"""Model registry: ``build_model(name, num_classes, in_channels, image_size, **args)``.

``model_args(name)`` lists a model's keyword arguments (docs/models.md describes them and every
model's state-dict keys).  Any other ``nn.Module`` can be quantized through
:func:`wcatsim.train.quant.quantize` directly.
"""

from .registry import MODEL_NAMES, build_model, model_args

__all__ = ["MODEL_NAMES", "build_model", "model_args"]
