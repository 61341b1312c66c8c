"""Monte Carlo over fault realisations: statistics, seeds, adaptive stopping, executors.

Torch-free: the model side of a realisation lives in :mod:`wcatsim.memory.evaluator` and
:mod:`wcatsim.experiments.montecarlo.tasks`, imported only where a realisation is evaluated.
"""

from wcatsim.experiments.montecarlo.engine import Realisation, run_point
from wcatsim.experiments.montecarlo.executors import (
    DaskExecutor,
    LocalExecutor,
    ProcessExecutor,
    make_executor,
)
from wcatsim.experiments.montecarlo.seeds import chip_seed, transient_seed
from wcatsim.experiments.montecarlo.stats import Summary, half_width, paired_difference, summarize, t_quantile
from wcatsim.experiments.montecarlo.stopping import StoppingRule

__all__ = [
    "DaskExecutor",
    "LocalExecutor",
    "ProcessExecutor",
    "Realisation",
    "StoppingRule",
    "Summary",
    "chip_seed",
    "half_width",
    "make_executor",
    "paired_difference",
    "run_point",
    "summarize",
    "t_quantile",
    "transient_seed",
]
