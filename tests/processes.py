"""Helpers for the tests that signal a real wcatsim process."""

from __future__ import annotations

import signal


def interruptible() -> None:
    """``preexec_fn`` for a child the test will Ctrl-C: SIGINT back to its default. A shell that starts
    the test run in the background (``nohup make test &``) leaves SIGINT ignored, the child inherits
    that, and Python then installs no KeyboardInterrupt handler: the signal would be lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
