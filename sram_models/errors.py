"""The one exception type for bad user input, shared by every package, and how its messages name keys.

It lives here because ``sram_models`` is the bottom of the import graph
(``wcatsim.cli -> wcatsim -> sram_models``); ``wcatsim.errors`` re-exports it.  The CLI
turns it into a one-line message and exit code 2, so its message must name the
fix ("voltage 0.3 is outside chandramoorthy14's range 0.6..1.0 V: ...").

Library messages speak in keys, never in command-line flags: a value the user chose is named by its
key in backquotes, so that a Python caller reads the key and the CLI can name the flag of the running
command instead (``wcatsim.cli._common.handles_errors`` calls :func:`render_keys`, the one place a key becomes
a flag):

- a setting key of the schema (``wcatsim.config``), e.g. ```plan.budget``` or ```memory.eval_images```;
- ```option.NAME``` for a choice that is no setting (an argument of the call, e.g. ```option.out``` for
  the output folder, ```option.allow_degenerate```): on the command line it is the flag ``--NAME`` with
  ``_`` written ``-``.

A text that is a shell command to type (```wcatsim bfa --run DIR```) is no key and stays as written
(tests/test_error_keys.py lists the few allowed).
"""

from __future__ import annotations

import re
from collections.abc import Callable

# A key as a message names it: a backquoted dotted name of lower-case words (`plan.budget`,
# `attack.bfa.k_top`, `option.out`); a backquoted text with a space or a dash is no key.
KEY_MARK = re.compile(r"`((?:[a-z][a-z0-9_]*\.)+[a-z][a-z0-9_]*)`")

# The namespace of keys that name a choice with no setting (a call argument; a flag on the command line).
OPTION_PREFIX = "option."


class InputError(ValueError):
    """Bad input from a user: a value, file or option that can be fixed by them."""


def keys_in(message: str) -> list[str]:
    """Return the keys a message names (in order, repeats kept), e.g. ``["plan.budget"]``."""
    return KEY_MARK.findall(message)


def option_flag(key: str) -> str | None:
    """Return the flag of an ``option.NAME`` key, or None for a setting key.

    ``option.allow_degenerate`` -> ``--allow-degenerate``: the name with ``_`` written ``-``.
    """
    if not key.startswith(OPTION_PREFIX):
        return None
    return "--" + key[len(OPTION_PREFIX):].replace("_", "-")


def render_keys(message: str, flag_of: Callable[[str], str | None]) -> str:
    """Return ``message`` with each backquoted key replaced by the flag that sets it.

    The flag is ``flag_of(key)``, else the option's flag for an ``option.NAME`` key; a key with neither
    stays as written.

    Parameters
    ----------
    message : str
        A library error message whose keys are backquoted (see the module doc).
    flag_of : callable
        The flag of a setting key in the running command, or None where it has none.

    Returns
    -------
    str
        The message as a command-line user reads it.
    """

    def flag(match: re.Match[str]) -> str:
        key = match.group(1)
        return flag_of(key) or option_flag(key) or match.group(0)

    return KEY_MARK.sub(flag, message)
