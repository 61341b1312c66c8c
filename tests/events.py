"""Read TensorBoard event files back with TensorBoard's own reader (tests of ``--tensorboard``)."""

from __future__ import annotations

from pathlib import Path

import pytest


def scalars(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of the event files in ``log_dir``: [(step, value)] in step order.

    TensorBoard's EventAccumulator needs the ``tensorboard`` extra (``make install`` installs it); the
    calling test is skipped without it. Values are float32, as TensorBoard stores them.
    """
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    events = accumulator.EventAccumulator(str(log_dir))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
