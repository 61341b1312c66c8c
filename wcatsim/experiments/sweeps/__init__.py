"""Sweeps over operating points: random bit errors at a BER list, and SRAM supply voltages."""

from wcatsim.experiments.sweeps.sweep import *  # noqa: F403
from wcatsim.experiments.sweeps.sweep import __all__  # noqa: F401
