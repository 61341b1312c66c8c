"""Progress display that suits where the output goes.

A progress bar redraws one line with carriage returns: right on a terminal, unreadable in a log
file.  So bars are drawn only when stderr is a terminal; elsewhere the commands print one line per
finished epoch or operating point instead (their own table and log lines).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: stderr, where bars go) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced by an object without isatty
        return False


def bar(enabled: bool, **kwargs: Any) -> Any:
    """A tqdm bar when ``enabled`` and stderr is a terminal, else None."""
    if not (enabled and on_terminal()):
        return None
    from tqdm.auto import tqdm

    return tqdm(**kwargs)


__all__ = ["bar", "on_terminal"]
