"""What every command shares: error handling, experiment options, run lookup.

Imports here stay light (click only); library modules are imported inside
functions so that ``wcatsim --help`` loads neither torch nor numba.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(func: F) -> F:
    """Turn bad user input into one line on stderr and exit code 2 (never a traceback); a training run
    that stopped unhealthy (wcatsim.health.TrainingHealthError) into its one line and exit code 3."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sram_models.errors import InputError
        from wcatsim.health import TrainingHealthError

        try:
            return func(*args, **kwargs)
        except TrainingHealthError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(3)
        except InputError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except FileNotFoundError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted: results written so far are kept; rerun to resume", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def experiment_options(func: F) -> F:
    """``-c/--config`` layers, ``--set key=value`` overrides, ``--run DIR``, ``--device``."""
    options = [
        click.option(
            "-c",
            "--config",
            "configs",
            multiple=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="TOML config layer; later layers override earlier ones (repeatable).",
        ),
        click.option(
            "--set",
            "overrides",
            multiple=True,
            metavar="KEY=VALUE",
            help="Override one config value, e.g. --set trainer.epochs=5 (repeatable).",
        ),
        click.option(
            "--run",
            "run_dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Use this run directory instead of the one the config layers name.",
        ),
        click.option(
            "--device",
            type=click.Choice(["auto", "cpu", "cuda"]),
            default="auto",
            show_default=True,
            help="Where to run torch: auto takes a GPU when there is one.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def resolve_run_dir(configs: tuple[Path, ...], overrides: tuple[str, ...], run_dir: Path | None) -> Path:
    """The run directory a command works on: ``--run`` if given, else the one the config names."""
    if run_dir is not None:
        return run_dir
    from wcatsim.config import load_config
    from wcatsim.runs import run_dir_for

    return run_dir_for(load_config(configs, overrides))


def parse_float_list(text: str, what: str) -> list[float]:
    """``"0,1e-4,2e-3"`` -> floats; a bad item is a usage error naming it."""
    from sram_models.errors import InputError

    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            out.append(float(item))
        except ValueError:
            raise InputError(f"{what}: {item!r} is not a number (use e.g. 0,1e-4,1e-3)") from None
    if not out:
        raise InputError(f"{what}: the list is empty")
    return out


def parse_range(text: str, what: str = "--voltages") -> list[float]:
    """``"A:B:STEP"`` -> every value from A to B inclusive (B included up to rounding), or a comma list."""
    from sram_models.errors import InputError

    if ":" not in text:
        return parse_float_list(text, what)
    parts = text.split(":")
    if len(parts) != 3:
        raise InputError(f"{what}: {text!r} is not A:B:STEP (e.g. 0.75:1.0:0.01)")
    try:
        a, b, step = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"{what}: {text!r} is not A:B:STEP of numbers (e.g. 0.75:1.0:0.01)") from None
    if step <= 0:
        raise InputError(f"{what}: STEP must be positive, got {step}")
    lo, hi = min(a, b), max(a, b)
    import math

    n = math.floor((hi - lo) / step + 1e-9)
    values = [round(lo + i * step, 10) for i in range(n + 1)]
    if hi - values[-1] > 1e-9 * max(1.0, abs(hi)):
        values.append(hi)  # both ends are always included
    return values
