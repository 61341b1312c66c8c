"""Library errors speak in setting keys, never in command-line flags (issue 16 §3).

Every ``raise`` in ``wcatsim/`` (but its command line, ``wcatsim/cli/``) and ``sram_models/`` is read
from the source (ast): the text of its message may name no ``--flag`` (the CLI translates keys to flags,
``wcatsim.cli._common.cli_message``), and each key it names in backquotes must exist: a setting of the
schema (``wcatsim.config``), a field of the memory or Monte Carlo spec, or ``option.NAME`` where
``--NAME`` is an option of some command.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import click

from sram_models.errors import keys_in, option_flag

REPO = Path(__file__).resolve().parents[1]
LIBRARY = ("wcatsim", "sram_models")
# the command line speaks in flags: it is the one part of the wcatsim package the scan leaves out
COMMAND_LINE = "wcatsim/cli/"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")

# The only flags a library message may spell out: shell commands to type, quoted as such (a key there
# would read wrong from Python too, where the advice is to run the command). (file, the command text)
SHELL_COMMANDS = {
    ("wcatsim/analysis/plots/bfa.py", "run `wcatsim bfa --run "),
    ("wcatsim/analysis/pareto.py", ": run `wcatsim sweep-voltage --run "),
    ("wcatsim/analysis/security.py", "rerun it with `wcatsim bfa --defended-break --defence"),
}


def raise_messages(source: str) -> list[tuple[int, str]]:
    """(line, text) of every raise statement's call in ``source``: the string pieces of its arguments
    (an f-string's literal parts; implicit concatenation is one piece), joined by spaces."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            call = node.exc
            parts = [
                piece.value
                for arg in [*call.args, *(k.value for k in call.keywords)]
                for piece in ast.walk(arg)
                if isinstance(piece, ast.Constant) and isinstance(piece.value, str)
            ]
            found.append((node.lineno, " ".join(parts)))
    return found


def library_files() -> list[Path]:
    """The library's source files: every ``*.py`` of ``LIBRARY`` but the command line's."""
    return [
        path
        for package in LIBRARY
        for path in sorted((REPO / package).rglob("*.py"))
        if not path.relative_to(REPO).as_posix().startswith(COMMAND_LINE)
    ]


def library_messages() -> list[tuple[str, int, str]]:
    """(file relative to the repository, line, message text) of every raise in the library."""
    out = []
    for path in library_files():
        relative = path.relative_to(REPO).as_posix()
        for line, text in raise_messages(path.read_text(encoding="utf-8")):
            out.append((relative, line, text))
    return out


def flagged(messages: list[tuple[str, int, str]]) -> list[str]:
    """``file:line: text`` of each message that names a flag outside the allowed shell commands."""
    bad = []
    for relative, line, text in messages:
        allowed = [command for where, command in SHELL_COMMANDS if where == relative and command in text]
        rest = text
        for command in allowed:  # the command's own flags are allowed, nothing else in the message
            rest = rest.replace(command, "")
        if FLAG.search(rest):
            bad.append(f"{relative}:{line}: {text}")
    return bad


def test_the_scan_finds_a_flag_in_a_raise() -> None:
    source = (
        "def f(x):\n"
        "    if x:\n"
        "        raise ValueError(f'--budget must be >= 0, got {x}')\n"
        "    raise InputError('the list is empty: '\n"
        "                     'give e.g. --voltages 0.75:1.0:0.01')\n"
        "    raise InputError(f'`plan.budget` must be >= 0, got {x}')\n"
    )
    found = [(line, text) for line, text in raise_messages(source) if FLAG.search(text)]
    assert sorted(line for line, _ in found) == [3, 4]
    assert flagged([("x.py", 3, "a --flag"), ("x.py", 4, "`plan.budget` x"), ("x.py", 5, "a-- b")]) == [
        "x.py:3: a --flag"
    ]
    # an allowed shell command covers only its own text
    where, command = sorted(SHELL_COMMANDS)[0]
    assert flagged([(where, 1, f"{command}DIR` first")]) == []
    assert flagged([(where, 1, f"{command}DIR` first, or pass --fresh")]) != []


def test_no_library_error_names_a_flag() -> None:
    messages = library_messages()
    assert len(messages) > 300, "the scan found too few raise statements: is it reading the library?"
    bad = flagged(messages)
    assert not bad, "library errors name settings by key, not by flag:\n" + "\n".join(bad)
    # each allow-listed command is still there (a stale entry would allow nothing but hide a removal)
    for where, command in SHELL_COMMANDS:
        assert any(w == where and command in text for w, _, text in messages), (where, command)


def _spec_fields() -> dict[str, set[str]]:
    from wcatsim.config.specs import MemorySpec, MonteCarloSpec

    return {
        "memory": set(MemorySpec.__pydantic_fields__),
        "montecarlo": set(MonteCarloSpec.__pydantic_fields__),
    }


def _all_flags() -> set[str]:
    from wcatsim.cli.main import COMMANDS

    flags: set[str] = set()
    stack: list[click.Command] = []
    for target, _ in COMMANDS.values():
        module, attribute = target.split(":")
        stack.append(getattr(importlib.import_module(module), attribute))
    while stack:
        command = stack.pop()
        if isinstance(command, click.Group):
            stack.extend(command.commands.values())
        flags.update(opt for p in command.params if isinstance(p, click.Option) for opt in p.opts)
    return flags


def test_every_key_a_library_error_names_exists() -> None:
    from wcatsim.config import setting_field
    from wcatsim.errors import ConfigError

    specs, flags = _spec_fields(), _all_flags()
    named = {(key, f"{where}:{line}") for where, line, text in library_messages() for key in keys_in(text)}
    assert len({key for key, _ in named}) >= 20, "the library's errors name too few keys: is the scan right?"
    for key, where in sorted(named):
        if option_flag(key) is not None:
            flag = option_flag(key)
            assert flag in flags, f"{where}: {key} is no option of any command ({flag})"
            continue
        section, _, name = key.partition(".")
        if section in specs:
            assert name in specs[section], f"{where}: {key} is no field of the {section} spec"
            continue
        try:
            setting_field(key)
        except ConfigError as exc:
            raise AssertionError(f"{where}: {key} names no setting ({exc})") from None


def test_no_library_argument_defaults_to_a_flag() -> None:
    # an argument that names the option in messages (check_table_path's ``option``) defaults to a key too
    bad = []
    for path in library_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.arguments):
                for default in [*node.defaults, *(d for d in node.kw_defaults if d is not None)]:
                    if isinstance(default, ast.Constant) and FLAG.match(str(default.value)):
                        bad.append(f"{path.relative_to(REPO)}:{default.lineno}: {default.value}")
    assert not bad, "library defaults name keys (`option.out`), not flags:\n" + "\n".join(bad)
