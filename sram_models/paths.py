"""Where the shipped data lives, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path


def data_dir() -> Path:
    """The project's ``data/`` folder.

    A wheel carries it as ``sram_models/_data`` (see ``pyproject.toml``); a
    checkout (editable install or plain ``PYTHONPATH``) has it at the top.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data", here.parent / "data"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"wcatsim's data folder is missing (looked in {here / '_data'} and {here.parent / 'data'}); "
        "reinstall the package"
    )
