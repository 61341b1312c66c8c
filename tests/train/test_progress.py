"""Progress bars where they are readable (a terminal, a Jupyter notebook), none in a log (issue 19 §2).

A notebook is faked the way tqdm.autonotebook recognises one: an ``IPython`` module in ``sys.modules``
whose ``get_ipython()`` has ``IPKernelApp`` in its config. Its stderr is no terminal, which is what kept
``tqdm.auto`` from ever drawing there before.
"""

from __future__ import annotations

import io
import sys
import types
import warnings

import pytest

from wcatsim.train import progress


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _fake_ipython(kernel: bool) -> types.ModuleType:
    shell = types.SimpleNamespace(config={"IPKernelApp": {}} if kernel else {"TerminalIPythonApp": {}})
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell  # type: ignore[attr-defined]
    return module


@pytest.fixture
def no_ipython(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)


def test_a_log_file_gets_no_bar_a_terminal_does(monkeypatch, no_ipython) -> None:
    monkeypatch.setattr(sys, "stderr", _Stream(tty=False))
    assert not progress.in_notebook() and not progress.shows_bars()
    assert progress.bar(True, total=3) is None
    monkeypatch.setattr(sys, "stderr", _Stream(tty=True))
    drawn = progress.bar(True, total=3, desc="x")
    try:
        assert drawn is not None and drawn.total == 3
        drawn.update(2)
        assert drawn.n == 2
    finally:
        drawn.close()
    assert "x" in sys.stderr.getvalue()  # it drew on the (fake) terminal
    assert progress.bar(False, total=3) is None  # progress=False: never a bar


def test_a_notebook_gets_the_tqdm_auto_bar_although_its_stderr_is_no_terminal(monkeypatch) -> None:
    import tqdm.std

    monkeypatch.setattr(sys, "stderr", _Stream(tty=False))
    monkeypatch.setitem(sys.modules, "IPython", _fake_ipython(kernel=True))
    assert progress.in_notebook() and progress.shows_bars()
    with warnings.catch_warnings():  # tqdm.auto warns when ipywidgets is missing (a text bar then)
        warnings.simplefilter("ignore")
        drawn = progress.bar(True, total=4, desc="notebook", file=sys.stderr)
    try:  # tqdm.auto's class: the widget one under a real kernel with ipywidgets, a text bar otherwise
        assert isinstance(drawn, tqdm.std.tqdm) and drawn.total == 4
    finally:
        drawn.close()


def test_a_terminal_ipython_is_no_notebook(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Stream(tty=False))
    monkeypatch.setitem(sys.modules, "IPython", _fake_ipython(kernel=False))
    assert not progress.in_notebook() and progress.bar(True, total=1) is None
    broken = types.ModuleType("IPython")
    broken.get_ipython = lambda: None  # type: ignore[attr-defined]  # IPython imported, no shell running
    monkeypatch.setitem(sys.modules, "IPython", broken)
    assert not progress.in_notebook()
