"""`wcatsim --help` must load neither torch nor numba (it runs on every tab-completion)."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from wcatsim.cli.main import COMMANDS, cli


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert name in result.output


def test_importing_the_cli_loads_neither_torch_nor_numba() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from wcatsim.cli.main import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = sorted(m for m in ('torch', 'numba', 'matplotlib') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"`wcatsim --help` imported {out.stdout.strip()}"


def test_every_command_module_imports_without_torch() -> None:
    # Each command's own --help must be light too: library imports go inside the command.
    code = (
        "import sys, importlib\n"
        "from wcatsim.cli.main import COMMANDS\n"
        "import pathlib\n"
        "for name, (target, _) in COMMANDS.items():\n"
        "    mod = target.split(':')[0]\n"
        "    if pathlib.Path(mod.replace('.', '/') + '.py').exists():\n"
        "        importlib.import_module(mod)\n"
        "print(','.join(sorted(m for m in ('torch', 'numba') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"a command module imported {out.stdout.strip()} at import time"


def test_range_parser_includes_both_ends() -> None:
    from wcatsim.cli._common import parse_range

    assert parse_range("0.6:1.0:0.1") == [0.6, 0.7, 0.8, 0.9, 1.0]
    assert parse_range("1.0:0.6:0.15") == [0.6, 0.75, 0.9, 1.0]
    assert parse_range("0.8,0.9") == [0.8, 0.9]
