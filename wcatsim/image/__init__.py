"""The integer weight image (the deployable weights) and running a model from it."""

from wcatsim.image.weight_image import LayerImage, run_from_image, weight_image

__all__ = ["LayerImage", "run_from_image", "weight_image"]
