"""TensorBoard scalars of a training run and of a sweep (the optional ``tensorboard`` extra).

``train(..., tensorboard=DIR)`` writes one point per epoch (:func:`log_epoch`): ``train/loss``,
``train/accuracy``, ``val/accuracy`` (percent), ``lr``, ``range_ratio/mean`` and, for each layer whose
quantizer learns its range (wcat, lsq), ``range/<layer>`` (the clipping range in weight units) and
``range_ratio/<layer>`` (range / max|w|); the best checkpoint's ``test/accuracy`` at the last epoch.

A sweep (``random_flip_sweep``/``voltage_sweep``, ``tensorboard=DIR``) writes one point per operating
point (:func:`log_point`): every numeric column of its table row as ``<sweep>/<column>``, the step being
the point's index in the sweep's order.  TensorBoard's x axis is an integer step, and a BER or a voltage
is not one: the operating point itself is the scalar ``random_flip/ber`` or ``sweep_voltage/voltage``
at the same step.

The writer is ``torch.utils.tensorboard.SummaryWriter``, which needs the ``tensorboard`` package:
``pip install 'wcatsim[tensorboard]'``.  See docs/logging.md.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

from wcatsim.errors import InputError

INSTALL_HINT = "pip install 'wcatsim[tensorboard]'"


class ScalarLog:
    """Scalars into a TensorBoard log directory (an event file per writer), or nowhere.

    Parameters
    ----------
    log_dir : str or Path or None
        The folder TensorBoard reads (``tensorboard --logdir``); None: every call does nothing, so a
        caller without ``tensorboard=`` pays nothing (the package is not imported).

    Raises
    ------
    InputError
        ``log_dir`` is given and the ``tensorboard`` package is missing, or ``log_dir`` is a file.
    """

    def __init__(self, log_dir: str | Path | None) -> None:
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.writer: Any = None  # opened at the first scalar: a run that fails before it leaves no file
        if self.log_dir is None:
            return
        if self.log_dir.exists() and not self.log_dir.is_dir():
            raise InputError(
                f"`option.tensorboard` {self.log_dir} is a file: give a folder for the event files"
            )
        try:
            import tensorboard  # noqa: F401  (torch's writer needs it; fail here, before any work)
        except ImportError:
            raise InputError(f"`option.tensorboard` needs the tensorboard package: {INSTALL_HINT}") from None

    def scalar(self, tag: str, value: Any, step: int) -> None:
        """Write ``value`` under ``tag`` at ``step``; a None, NaN or non-numeric value is skipped."""
        if self.log_dir is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
            return
        if not math.isfinite(float(value)):
            return
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(log_dir=str(self.log_dir))
        self.writer.add_scalar(tag, float(value), int(step))

    def flush(self) -> None:
        """Write what is buffered to the event file (TensorBoard shows it from then on)."""
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __enter__(self) -> ScalarLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def log_epoch(log: ScalarLog, model: Any, row: dict[str, Any]) -> None:
    """One epoch of training: the ``metrics.csv`` row's numbers and the learned ranges per layer.

    Parameters
    ----------
    log : ScalarLog
        Where the scalars go.
    model : torch.nn.Module
        The model after the epoch (its quantized layers' ranges are read).
    row : dict
        The epoch's ``metrics.csv`` row (``epoch`` 1-based is the step).
    """
    if log.log_dir is None:
        return
    from wcatsim.train.quant import layer_stats, quantized_layers

    step = int(row["epoch"])
    for tag, column in (("train/loss", "train_loss"), ("train/accuracy", "train_accuracy"),
                        ("val/accuracy", "val_accuracy"), ("lr", "lr"),
                        ("range_ratio/mean", "mean_range_ratio")):  # fmt: skip
        log.scalar(tag, row.get(column), step)
    learned = {name for name, layer in quantized_layers(model).items()
               if layer.quantizer.range_parameter() is not None}  # fmt: skip
    for name, stats in layer_stats(model).items():
        if name in learned:
            log.scalar(f"range/{name}", stats["range"], step)
            if stats["max_abs_weight"] > 0:
                log.scalar(f"range_ratio/{name}", stats["range"] / stats["max_abs_weight"], step)
    log.flush()  # an epoch is minutes on a real model: show it now


def log_point(log: ScalarLog, sweep: str, index: int, row: dict[str, Any]) -> None:
    """One operating point of a sweep: every numeric column of its row as ``<sweep>/<column>``.

    Parameters
    ----------
    log : ScalarLog
        Where the scalars go.
    sweep : str
        The tag prefix, the table's name (``random_flip``, ``sweep_voltage``).
    index : int
        The point's position in the sweep (the step).
    row : dict
        The point's table row (accuracies in percent, as in the CSV).
    """
    for column, value in row.items():
        log.scalar(f"{sweep}/{column}", value, index)
    log.flush()


__all__ = ["INSTALL_HINT", "ScalarLog", "log_epoch", "log_point"]
