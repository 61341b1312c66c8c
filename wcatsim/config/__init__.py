"""The settings schema: every setting once (type, unit, bounds, doc), TOML layers and ``--set``.

Torch-free: ``import wcatsim.config`` loads neither torch nor numba, so ``wcatsim --help`` stays fast.
"""

from wcatsim.config.quant import CLAMP_GRADS, LSQ_GRADIENTS, RANGE_INITS, QuantConfig
from wcatsim.config.schema import *  # noqa: F403
from wcatsim.config.schema import __all__ as _schema_all

__all__ = ["CLAMP_GRADS", "LSQ_GRADIENTS", "QuantConfig", "RANGE_INITS", *_schema_all]
