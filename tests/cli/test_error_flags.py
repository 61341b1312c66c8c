"""One library error, two readers: from Python it names the setting key, through ``wcatsim`` the flag of
the running command (wcatsim.cli._common.handles_errors -> cli_message, the one place a key becomes a
flag)."""

from __future__ import annotations

import importlib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sram_models.errors import InputError
from wcatsim.cli._common import KEY_FLAGS, SETTING_FLAGS, cli_message, key_flag
from wcatsim.cli.main import COMMANDS, cli


def _python_message(call) -> str:  # noqa: ANN001 - a zero-argument callable that raises
    with pytest.raises(InputError) as caught:
        call()
    return str(caught.value)


def _cli_line(argv: list[str]) -> str:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0][len("error: "):]


def _plan_ci_low_one_chip() -> None:
    from wcatsim.experiments.plan.planner import PlanSettings

    PlanSettings(metric="ci_low", planning_chips=1)


def _organisation_zero_time() -> None:
    from sram_models.energy import MemoryOrganisation

    MemoryOrganisation.from_options(None, 0.0)


def _override_without_value() -> None:
    from wcatsim.config import parse_override

    parse_override("foo")


# (the library call, the command line that reaches it, the Python message, the CLI message): a setting
# mirrored by an option (SETTING_FLAGS), a spec key a command sets by hand (KEY_FLAGS), an option key.
CASES = [
    (
        _plan_ci_low_one_chip,
        ["plan-voltage", "--run", "{empty}", "--metric", "ci_low", "--chips", "1"],
        "`plan.metric` ci_low needs at least 2 chips per set (a CI needs a spread)",
        "--metric ci_low needs at least 2 chips per set (a CI needs a spread)",
    ),
    (
        _organisation_zero_time,
        ["sweep-voltage", "--run", "{empty}", "--inference-time-ns", "0"],
        "`memory.inference_time_ns` must be a positive number, got 0.0",
        "--inference-time-ns must be a positive number, got 0.0",
    ),
    (
        _override_without_value,
        ["train", "--set", "foo"],
        "`option.set` 'foo': expected KEY=VALUE, e.g. `option.set` trainer.epochs=5",
        "--set 'foo': expected KEY=VALUE, e.g. --set trainer.epochs=5",
    ),
]


@pytest.mark.parametrize("call,argv,python,command_line", CASES, ids=[c[1][0] for c in CASES])
def test_python_names_the_key_and_the_cli_the_flag(
    call, argv: list[str], python: str, command_line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    assert _python_message(call) == python
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(tmp_path)  # `train` would name a run directory under ./runs: nothing is written
    assert _cli_line([a.replace("{empty}", str(empty)) for a in argv]) == command_line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"] and not any(empty.iterdir())


def test_cli_message_translates_keys_of_the_running_command_only() -> None:
    text = "`attack.sweep.protect` x; `memory.protect` y; `plan.budget` z; `option.allow_degenerate`"
    assert cli_message(text, "sweep-voltage") == (
        "--protect x; --protect y; `plan.budget` z; --allow-degenerate"
    )
    assert cli_message(text, "plan-voltage") == (
        "`attack.sweep.protect` x; --protect y; --budget z; --allow-degenerate"
    )
    # no running command (a library caller): only option keys become flags, setting keys stay keys
    assert cli_message("`plan.budget` and `option.out`", "") == "`plan.budget` and --out"
    # a key only as a whole backquoted name: a longer key, a shell command or a bare key is left alone
    assert cli_message("`attack.sweep.protect_msb`", "sweep-voltage") == "`attack.sweep.protect_msb`"
    assert cli_message("run `wcatsim bfa --run d` first", "bfa") == "run `wcatsim bfa --run d` first"
    assert cli_message("plan.budget = -1 in a.toml", "plan-voltage") == "plan.budget = -1 in a.toml"


def _command(name: str) -> click.Command:
    module, attribute = COMMANDS[name][0].split(":")
    return getattr(importlib.import_module(module), attribute)


def test_every_key_flag_is_an_option_of_its_command_and_the_tables_agree() -> None:
    from wcatsim.config import setting_field
    from wcatsim.config.specs import MemorySpec, MonteCarloSpec

    specs = {"memory": MemorySpec.__pydantic_fields__, "montecarlo": MonteCarloSpec.__pydantic_fields__}
    for command, table in KEY_FLAGS.items():
        opts = {o for p in _command(command).params if isinstance(p, click.Option) for o in p.opts}
        for key, flag in table.items():
            assert flag in opts, f"{command} has no option {flag} (KEY_FLAGS[{command!r}][{key!r}])"
            section, _, name = key.partition(".")
            if section in specs:
                assert name in specs[section], f"{key} is no field of the {section} spec"
            else:
                setting_field(key)  # a ConfigError for a key that names no setting
            # one table per key: a key mirrored by a setting option is translated by SETTING_FLAGS alone
            assert key not in SETTING_FLAGS.get(command, {}), f"{command}: {key} is in both tables"
            assert key_flag(command, key) == flag
