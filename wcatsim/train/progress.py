"""Progress display that suits where the output goes.

A progress bar redraws one line with carriage returns: right on a terminal and in a Jupyter notebook
(``tqdm.auto`` draws a widget there, or a text bar without ipywidgets), unreadable in a log file.  So
bars are drawn only on a terminal or in a notebook; elsewhere (a log file, a pipe, a batch job) the
library's one line per finished epoch or operating point is the progress: it goes through
:mod:`logging` (loggers under ``wcatsim``), where the caller's handler puts it (the CLI's prints it;
see docs/logging.md).

Before issue 19 the test was "stderr is a terminal" alone, and a notebook's stderr is not one: the
``tqdm.auto`` bar was never drawn there.  :func:`shows_bars` adds the notebook.
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


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (the test ``tqdm.autonotebook`` makes).

    IPython is looked up in ``sys.modules`` only: a process that never imported it is no notebook, and
    nothing is imported here.
    """
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    if get is None:
        return False
    try:
        shell = get()
        return shell is not None and "IPKernelApp" in getattr(shell, "config", {})
    except Exception:  # an IPython too old or half torn down: no notebook
        return False


def shows_bars() -> bool:
    """Whether a progress bar is readable where this process writes: a terminal or a notebook."""
    return on_terminal() or in_notebook()


def bar(enabled: bool, **kwargs: Any) -> Any:
    """A ``tqdm.auto`` bar when ``enabled`` and :func:`shows_bars`, else None.

    Parameters
    ----------
    enabled : bool
        The caller's ``progress`` (False: never a bar).
    **kwargs
        Passed to ``tqdm.auto.tqdm`` (``total``, ``desc``, ``unit``, ...).

    Returns
    -------
    tqdm or None
        None off a terminal and outside a notebook: the logged lines are the progress there.
    """
    if not (enabled and shows_bars()):
        return None
    from tqdm.auto import tqdm

    return tqdm(**kwargs)


__all__ = ["bar", "in_notebook", "on_terminal", "shows_bars"]
