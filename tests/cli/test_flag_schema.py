"""Every CLI option that mirrors a setting agrees with the schema (wcatsim.config): the setting exists,
the option's default is None (so the config layers' value is used, merged in cli._common.merge_flags),
its type accepts what the setting's type accepts, and a generated option's help is the field's doc."""

from __future__ import annotations

import importlib
import typing

import click
import pytest

from cli._common import SETTING_FLAGS, FiniteFloat, merge_flags
from cli.main import COMMANDS
from wcatsim.config import ExperimentConfig, PlanConfig, RandomFlipConfig, setting_field
from wcatsim.errors import ConfigError

PAIRS = [(command, key, flag) for command, table in SETTING_FLAGS.items() for key, flag in table.items()]


def _command(name: str) -> click.Command:
    module, attribute = COMMANDS[name][0].split(":")
    return getattr(importlib.import_module(module), attribute)


def _option(command: click.Command, flag: str) -> click.Option:
    found = [p for p in command.params if isinstance(p, click.Option) and flag in p.opts]
    assert len(found) == 1, f"{command.name} has no option {flag}"
    return found[0]


def _accepts(annotation: typing.Any, param_type: click.ParamType) -> bool:
    """Whether a click type can give a value of the setting's type (a str option may be parsed later)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return isinstance(param_type, click.Choice) and set(param_type.choices) == set(args)
    if args and type(None) not in args and typing.get_origin(annotation) is not tuple:  # a union
        return any(_accepts(arg, param_type) for arg in args)
    if args and type(None) in args:
        return any(_accepts(arg, param_type) for arg in args if arg is not type(None))
    if annotation is int:
        return isinstance(param_type, (click.types.IntParamType, click.IntRange))
    if annotation is float:
        return isinstance(param_type, (FiniteFloat, click.types.FloatParamType))
    if annotation is str:
        return isinstance(param_type, (click.types.StringParamType, click.Choice))
    if typing.get_origin(annotation) is tuple:  # a list setting is given as comma text
        return isinstance(param_type, click.types.StringParamType)
    return False


@pytest.mark.parametrize("command,key,flag", PAIRS)
def test_option_matches_its_setting(command: str, key: str, flag: str) -> None:
    info = setting_field(key)
    option = _option(_command(command), flag)
    assert option.default is None, f"{command} {flag}: the default must come from {key}, not the option"
    section = key.rsplit(".", 1)[0]
    hints = typing.get_type_hints(type(_section(section)))
    annotation = hints[key.rsplit(".", 1)[1]]
    assert _accepts(annotation, option.type), f"{command} {flag} ({option.type!r}) cannot give {key}"
    if info.description:  # a field with a doc: the option's help is generated from it
        doc = info.description.rstrip(".")
        assert doc in (option.help or ""), f"{command} {flag}: help is not {key}'s doc"


def _section(dotted: str) -> typing.Any:
    node: typing.Any = ExperimentConfig()
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def test_every_flag_table_key_is_a_setting_and_flags_are_unique() -> None:
    for command, table in SETTING_FLAGS.items():
        assert len(set(table.values())) == len(table), f"{command}: two settings share a flag"
    with pytest.raises(ConfigError, match="did you mean 'budget'"):
        setting_field("plan.budgt")


def test_merge_names_the_flag_only_when_a_flag_set_the_value() -> None:
    with pytest.raises(ConfigError, match=r"^--protect: unknown protection scheme 'secdd'.*'secded'"):
        merge_flags("plan-voltage", PlanConfig(), protect="secdd")
    with pytest.raises(ConfigError, match=r"^--fault: unknown fault model 'cosmic'"):
        merge_flags("random-flip", RandomFlipConfig(), fault="cosmic")
    # min_samples came from the config, max_samples from the flag: the error names the setting key it is about
    with pytest.raises(ConfigError, match=r"^attack\.random_flip\.min_samples: need 1 <= min_samples"):
        merge_flags("random-flip", RandomFlipConfig(min_samples=50), max_samples=10)
    merged = merge_flags("plan-voltage", PlanConfig(budget=2.0), budget=None, seed=3)
    assert (merged.budget, merged.seed) == (2.0, 3)  # None = not given: the config's value stays
