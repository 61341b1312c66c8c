"""What every command shares: error handling, experiment options, run lookup.

Imports here stay light (click only); library modules are imported inside
functions so that ``wcatsim --help`` loads neither torch nor numba.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(func: F) -> F:
    """Turn bad user input into one line on stderr and exit code 2 (never a traceback); a training run
    that stopped unhealthy (wcatsim.train.health.TrainingHealthError) into its one line and exit code 3.

    InputError (and its subclasses), a missing file, a path that cannot be written (read-only folder,
    a folder that is a file, a full disk) and a file that ends early all become ``error: ...``.

    This is the one place a library message's setting keys become flags: each backquoted key
    (sram_models.errors) is printed as the flag of the running command that sets it (:func:`cli_message`).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sram_models.errors import InputError
        from wcatsim.train.health import TrainingHealthError

        try:
            return func(*args, **kwargs)
        except TrainingHealthError as exc:
            click.echo(f"error: {cli_message(str(exc))}", err=True)
            sys.exit(3)
        except InputError as exc:
            fail(cli_message(str(exc)))
        except FileNotFoundError as exc:
            fail(str(exc))
        except OSError as exc:
            where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
            reason = exc.strerror or str(exc) or type(exc).__name__
            fail(f"{reason}{where} (choose a path this process can write, or free space there)")
        except EOFError as exc:
            fail(f"a file ended early ({exc or 'end of file'}): it is truncated; replace it with a full copy")
        except KeyboardInterrupt:
            _interrupted()
        except Exception as exc:
            # An error raised while a Ctrl-C unwound is still an interrupt: numba's dispatcher reports a
            # KeyboardInterrupt inside a kernel as a SystemError ("returned a result with an exception
            # set"), and tqdm's write lock, interrupted while it is being created, fails in its own
            # `finally` with an AttributeError (measured: `tqdm_asyncio` has no attribute `_lock`).
            # Any other error is a bug and keeps its traceback.
            if not _caused_by_interrupt(exc):
                raise
            _interrupted()

    return wrapper  # type: ignore[return-value]


def _interrupted() -> None:
    click.echo("interrupted: results written so far are kept; rerun to resume", err=True)
    sys.exit(130)


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        if isinstance(node, KeyboardInterrupt):
            return True
        seen.add(id(node))
        node = node.__cause__ or node.__context__
    return False


# click >= 8.2 raises this for a bare group name (it prints the help); older click has no such class.
_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class OneLineErrors:
    """Mixin for click commands and groups: a usage error (an unknown option, a value out of range) is
    one line, ``error: ...`` naming the option and the help to read, with exit code 2, as every other
    bad input is (click itself prints usage, a hint and the error on three lines)."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:  # fmt: skip
        parent: Any = super()
        if not standalone_mode:
            return parent.main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = parent.main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS_IS_HELP as exc:
            exc.show()  # a bare group name prints its help, as click does
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            click.echo(f"error: {' '.join(exc.format_message().split())}{hint}", err=True)
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("interrupted", err=True)
            sys.exit(130)
        sys.exit(result if isinstance(result, int) else 0)


class Command(OneLineErrors, click.Command):
    """A wcatsim command: ``@click.command(NAME, cls=Command)`` (one-line usage errors when invoked
    directly too, e.g. from tests; through ``wcatsim`` the group already gives them)."""


class Group(OneLineErrors, click.Group):
    """A wcatsim command group (``@click.group(NAME, cls=Group)``)."""


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    click.echo("error: " + " ".join(message.split()), err=True)
    sys.exit(code)


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


def preset_option(func: F) -> F:
    """``--preset``: the SRAM technology (a shipped name or a preset file), the same in every command."""
    return click.option(
        "--preset", default=None,
        help="SRAM technology preset (wcatsim sram list) or a preset file (default: attack.sweep.preset).",
    )(func)  # fmt: skip


def organisation_options(func: F) -> F:
    """``--banks`` and ``--inference-time-ns``: the memory organisation the energy model assumes
    (sram_models.energy.MemoryOrganisation), the same in sweep-voltage and plan-voltage."""
    func = click.option(
        "--inference-time-ns", type=FiniteFloat(low=0.0), default=None, metavar="NS",
        help="The accelerator's inference time (e.g. compute-bound) in ns; the arrays leak for it (never "
        "less than the reads take). Default: the time the reads take.",
    )(func)  # fmt: skip
    return click.option(
        "--banks", type=click.IntRange(min=1), default=None,
        help="Banks read in parallel, one row each per cycle (default 32: NVDLA nv_small's convolution "
        "buffer). More banks: shorter reads, less leakage.",
    )(func)  # fmt: skip


def quiet_option(func: F) -> F:
    """``--quiet`` (alias ``--no-progress``): no progress bars or running commentary; results and
    errors still print.  Every command has it."""
    return click.option(
        "--quiet", "--no-progress", "quiet", is_flag=True,
        help="No progress bars or running commentary (results and errors still print).",
    )(func)  # fmt: skip


def tensorboard_option(func: F) -> F:
    """``--tensorboard DIR``: TensorBoard scalars of the run (train: per epoch; sweeps: per point)."""
    return click.option(
        "--tensorboard", "tensorboard", type=click.Path(file_okay=False, path_type=Path), default=None,
        metavar="DIR",
        help="Also write TensorBoard scalars into DIR (train: loss, accuracies and learned ranges per layer "
        "each epoch; sweeps: each point's accuracy and columns). Needs: pip install 'wcatsim[tensorboard]'.",
    )(func)  # fmt: skip


class _LineHandler(logging.Handler):
    """The library's log messages as plain lines on stderr, written past any progress bar (tqdm.write).

    A sweep's per-point message (a record carrying ``point``) is skipped: the command prints that point
    as its table row on stdout.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "point", None) is not None:
            return
        try:
            from tqdm.auto import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # a logging handler never raises into the code that logs
            self.handleError(record)


@contextlib.contextmanager
def log_lines(quiet: bool) -> Iterator[None]:
    """While the command runs, print the library's messages (loggers under ``wcatsim``) on stderr.

    INFO and above; with ``--quiet`` only warnings and errors (no progress lines). The handler and the
    level are removed again afterwards, so commands invoked one after another in one process (tests,
    a notebook calling the CLI) do not print each other's lines twice.
    """
    package = logging.getLogger("wcatsim")
    handler = _LineHandler(logging.WARNING if quiet else logging.INFO)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = package.level
    package.addHandler(handler)
    package.setLevel(min(handler.level, level) if level else handler.level)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(level)


def plot_option(help_text: str) -> Callable[[F], F]:
    """``--plot [FILE]``: draw the figure; FILE is optional (each command has a default path)."""
    return click.option(
        "--plot", "plot", is_flag=False, flag_value="", default=None, metavar="[FILE]", help=help_text
    )


def plot_target(value: str | None, default: Path) -> Path | None:
    """The figure path of a ``--plot [FILE]`` value: None (no figure), FILE, or ``default``."""
    if value is None:
        return None
    return Path(value) if value else default


def given(name: str) -> bool:
    """Whether the parameter ``name`` of the running command was given on the command line."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE


# The one table from a setting key to the flag that sets it: a library error speaks in setting keys
# (wcatsim.config), and the CLI names the flag instead where the value came from one (flag_message).
# tests/cli/test_flag_schema.py checks every entry against the schema and the commands' options.
SETTING_FLAGS: dict[str, dict[str, str]] = {
    "train": {
        "trainer.clustering": "--clustering",
    },
    "random-flip": {
        "attack.random_flip.bers": "--ber",
        "attack.random_flip.samples": "--samples",
        "attack.random_flip.ci_half_width": "--ci-half-width",
        "attack.random_flip.min_samples": "--min-samples",
        "attack.random_flip.max_samples": "--max-samples",
        "attack.random_flip.fault": "--fault",
        "attack.random_flip.protect_msb": "--protect-msb",
        "attack.random_flip.word_bits": "--word-bits",
        "attack.random_flip.seed": "--seed",
        "attack.random_flip.protect": "--protect",
        "attack.random_flip.images": "--images",
        **{f"attack.activations.{name}": flag for name, flag in (
            ("target", "--target"), ("bits", "--act-bits"), ("word_bits", "--act-word-bits"),
            ("protect", "--act-protect"), ("fault", "--act-fault"),
            ("calibration_images", "--calibration-images"), ("ber", "--act-ber"))},
    },
    "bfa": {
        "attack.bfa.k_top": "--k-top",
        "attack.bfa.k_top_max": "--k-top-max",
        "attack.bfa.max_flips": "--max-flips",
        "attack.bfa.max_iterations": "--max-iterations",
        "attack.bfa.attack_batch": "--attack-batch",
        "attack.bfa.trials": "--trials",
        "attack.bfa.eval_subset": "--eval-subset",
        "attack.bfa.threshold": "--threshold",
        "attack.bfa.seed": "--seed",
    },
    "plan-voltage": {
        "plan.budget": "--budget",
        "plan.metric": "--metric",
        "plan.planning_chips": "--chips",
        "plan.verification_chips": "--verify-chips",
        "plan.max_verification_sets": "--max-sets",
        "plan.protect": "--protect",
        "plan.word_bits": "--word-bits",
        "plan.seed": "--seed",
        "plan.images": "--images",
        **{f"attack.activations.{name}": flag for name, flag in (
            ("target", "--target"), ("bits", "--act-bits"), ("word_bits", "--act-word-bits"),
            ("protect", "--act-protect"), ("fault", "--act-fault"),
            ("calibration_images", "--calibration-images"))},
    },
    "sweep-voltage": {
        "attack.sweep.preset": "--preset",
        "attack.sweep.voltages": "--voltages",
        "attack.sweep.chips": "--chips",
        "attack.sweep.fault": "--fault",
        "attack.sweep.ecc": "--ecc",
        "attack.sweep.word_bits": "--word-bits",
        "attack.sweep.seed": "--seed",
        "attack.sweep.protect": "--protect",
        "attack.sweep.images": "--images",
        **{f"attack.activations.{name}": flag for name, flag in (
            ("target", "--target"), ("bits", "--act-bits"), ("word_bits", "--act-word-bits"),
            ("protect", "--act-protect"), ("fault", "--act-fault"),
            ("calibration_images", "--calibration-images"), ("preset", "--act-preset"),
            ("voltage", "--act-voltage"))},
    },
}


def setting_option(flag: str, key: str, dest: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """A click option generated from the setting ``key``: default None (then the config layers' value
    is used, see :func:`merge_flags`), help = the field's one-line doc and its built-in default.

    Parameters
    ----------
    flag : str
        The option, e.g. ``"--budget"``.
    key : str
        The setting it mirrors, e.g. ``"plan.budget"`` (:func:`wcatsim.config.setting_field`).
    dest : str, optional
        The parameter name (default: the key's last part; give one where another option has it).
    **kwargs
        Further click arguments (``type``, ``metavar``).
    """
    from wcatsim.config import setting_field

    info = setting_field(key)
    default = info.default_factory() if info.default_factory is not None else info.default
    text = (info.description or "").rstrip(".")
    kwargs.setdefault("help", f"{text} (default: {key}, built in {default})." if text else None)
    dest = dest or key.rsplit(".", 1)[-1]
    return click.option(flag, dest, default=None, **kwargs)


def merge_flags(command: str, section: Any, **flags: Any) -> Any:
    """The one place config layers and flags meet: ``section`` (built from the ``-c`` layers and
    ``--set``) with every flag that was given (not None) on top, validated by the schema.

    A bad value is a one-line error naming the flag when a flag set it, the setting key otherwise.
    """
    import dataclasses

    from wcatsim.config.settings import FieldError

    changes = {key: value for key, value in flags.items() if value is not None}
    try:
        return dataclasses.replace(section, **changes)
    except FieldError as exc:
        from wcatsim.errors import ConfigError

        name = exc.key.rsplit(".", 1)[-1]
        raise ConfigError(flag_message(command, str(exc), exc.key if name in changes else None)) from None


# Keys a library error may name that a command sets with a flag of its own rather than a mirrored
# setting option (SETTING_FLAGS): the memory and Monte Carlo specs the command builds from its flags,
# and settings whose option keeps a default of its own. Together with SETTING_FLAGS and the rule for
# `option.NAME` keys (sram_models.errors.option_flag) this is what cli_message translates;
# tests/test_error_keys.py checks every flag here is an option of its command.
KEY_FLAGS: dict[str, dict[str, str]] = {
    "random-flip": {
        "memory.protect": "--protect",
        "memory.ecc": "--ecc",
        "memory.eval_images": "--eval-images",
        "montecarlo.executor": "--executor",
        "montecarlo.seed": "--seed",
    },
    "sweep-voltage": {
        "memory.protect": "--protect",
        "memory.ecc": "--ecc",
        "memory.banks": "--banks",
        "memory.inference_time_ns": "--inference-time-ns",
        "memory.eval_images": "--eval-images",
        "montecarlo.executor": "--executor",
        "montecarlo.seed": "--seed",
    },
    "plan-voltage": {
        "plan.eval_images": "--eval-images",
        "memory.eval_images": "--eval-images",
        "memory.banks": "--banks",
        "memory.inference_time_ns": "--inference-time-ns",
        "memory.protect": "--protect",
    },
    "bfa": {
        "memory.eval_images": "--eval-images",
    },
    "train": {
        "trainer.init_from": "--init-from",
    },
}


def key_flag(command: str, key: str) -> str | None:
    """The flag of ``command`` that sets the setting ``key`` (SETTING_FLAGS, then KEY_FLAGS), or None."""
    return SETTING_FLAGS.get(command, {}).get(key) or KEY_FLAGS.get(command, {}).get(key)


def cli_message(message: str, command: str | None = None) -> str:
    """A library error message as a command-line user reads it: every backquoted key
    (sram_models.errors.render_keys) replaced by the flag of ``command`` (default: the running one)
    that sets it, an ``option.NAME`` key by ``--NAME``; a key with no flag there stays a key."""
    from sram_models.errors import render_keys

    if command is None:
        ctx = click.get_current_context(silent=True)
        command = ctx.command.name if ctx is not None else ""
    name = command or ""
    return render_keys(message, lambda key: key_flag(name, key))


def flag_message(command: str, message: str, key: str | None) -> str:
    """``message`` with the setting ``key`` replaced by the flag of ``command`` that sets it
    (unchanged when ``key`` is None or has no flag)."""
    flag = SETTING_FLAGS.get(command, {}).get(key or "")
    return message.replace(key, flag) if flag and key else message


# Integer options: a count of at least one, a seed or size of at least zero (click prints the range).
COUNT = click.IntRange(min=1)
NON_NEGATIVE = click.IntRange(min=0)


class ImagesPerRealisation(click.ParamType):
    """--images: a count >= 0 (0 = the whole test set), ``all`` or ``auto`` (the allocated design)."""

    name = "N|all|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        text = str(value).strip().lower()
        if text in ("all", "auto"):
            return text
        try:
            number = int(text)
        except ValueError:
            self.fail(f"{value!r} is not a count, 'all' or 'auto'", param, ctx)
        if number < 0:
            self.fail(f"{number} is below 0", param, ctx)
        return number


IMAGES = ImagesPerRealisation()


class FiniteFloat(click.ParamType):
    """A finite number, optionally within [low, high] (NaN and inf are refused, unlike click.FloatRange)."""

    name = "number"

    def __init__(self, low: float | None = None, high: float | None = None) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        import math

        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            lo = "" if self.low is None else f"{self.low:g} <= "
            hi = "" if self.high is None else f" <= {self.high:g}"
            self.fail(f"{number:g} is outside {lo}x{hi}", param, ctx)
        return number


class Experiment:
    """Which run a command works on, and the config whose attack settings it uses.

    Without ``--run`` (or ``eval RUN_DIR``) the ``-c`` layers and ``--set`` overrides select the run,
    as ``wcatsim train`` named it.  With an explicit run, the run fixes the model: ``--set`` of a
    ``model``, ``quant``, ``trainer`` or ``data`` key (``data.root`` excepted: the data may have moved)
    is refused, and so is a ``-c`` layer that changes one of them; the layers and overrides then only
    give the attack settings.
    """

    def __init__(
        self, configs: tuple[Path, ...], overrides: tuple[str, ...], run_dir: Path | None,
        option: str = "--run",
    ) -> None:  # fmt: skip
        self.configs, self.overrides, self.explicit = configs, overrides, run_dir is not None
        self.data_root: str | None = None
        self.reading: dict[str, Any] = {}  # data.stream / data.workers given with an explicit run
        if run_dir is None:
            from wcatsim.config import load_config
            from wcatsim.store.runs import run_dir_for

            self.config: Any = load_config(configs, overrides)
            self.dir: Path = run_dir_for(self.config)
            self._name_other_runs(option)
            return
        from wcatsim.config import MODEL_SECTIONS, parse_override  # inside: --help loads no pydantic

        self.dir = Path(run_dir)
        self.config = None
        for item in overrides:
            key = item.split("=", 1)[0].strip()
            section = key.split(".", 1)[0]
            if key == "data.root":
                self.data_root = str(parse_override(item)[1])
            elif key in _READING_KEYS:  # how the data is read (in memory or streamed), never a number
                self.reading[key.split(".", 1)[1]] = parse_override(item)[1]
            elif section in MODEL_SECTIONS:
                from wcatsim.errors import ConfigError

                raise ConfigError(
                    f"--set {item}: {option} {run_dir} fixes the trained model, so {section}.* cannot change "
                    f"(only data.root may); drop the --set, or drop {option} to select a run by its config"
                )
        if configs or overrides:
            self.config = self._layered(option)

    def given_keys(self) -> dict[str, Any]:
        """The model-defining keys (``model``/``data``/``quant``/``trainer``) the ``-c`` layers and ``--set``
        name, at their resolved values: what the user said about the run they mean."""
        from sram_models.tomlio import read_toml
        from wcatsim.config import MODEL_SECTIONS
        from wcatsim.errors import ConfigError
        from wcatsim.store.runs import lookup

        names: list[str] = []

        def walk(node: Any, prefix: str) -> None:
            for key, value in node.items():
                if isinstance(value, dict) and key != "args":  # model.args is one value (a table)
                    walk(value, f"{prefix}{key}.")
                else:
                    names.append(prefix + key)

        for layer in self.configs:
            walk(read_toml(layer, ConfigError), "")
        names += [item.split("=", 1)[0].strip() for item in self.overrides]
        resolved = self.config.to_dict()
        keep = [n for n in names if n.split(".", 1)[0] in MODEL_SECTIONS and n not in _READING_KEYS]
        return {n: lookup(resolved, n) for n in dict.fromkeys(keep)}

    def _name_other_runs(self, option: str) -> None:
        """A run selected by its config: when other runs under the same folder agree with every key given,
        say so (the selected run is trained) or refuse naming them (it is not): fewer ``-c``/``--set`` than
        at training select another run's name, never silently."""
        root = self.dir.parent
        if not root.is_dir():
            return
        from wcatsim.store.runs import differences, runs_agreeing

        others = [r for r in runs_agreeing(root, self.given_keys()) if r.resolve() != self.dir.resolve()
                  and (r / "checkpoint.pt").is_file()]  # fmt: skip
        if not others:
            return
        mine = self.config.to_dict()
        from wcatsim.store.runs import saved_config

        named = "; ".join(
            f"{r} ({', '.join(differences(mine, saved_config(r) or {})) or 'same settings'})"
            for r in others[:5]
        ) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        if (self.dir / "checkpoint.pt").is_file():
            click.echo(
                f"note: these settings select {self.dir}; {len(others)} other run(s) under {root} agree with "
                f"every setting given: {named}; pass {option} DIR to take one of them", err=True,
            )  # fmt: skip
            return
        from wcatsim.errors import ConfigError

        raise ConfigError(
            f"no trained run at {self.dir} for these settings, but runs under {root} agree with every "
            f"setting given: {named}; pass {option} DIR, or the same -c/--set as at training"
        )

    def _layered(self, option: str) -> Any:
        from sram_models.tomlio import read_toml
        from wcatsim.config import MODEL_SECTIONS, load_config
        from wcatsim.errors import ConfigError

        saved = self.dir / "config.toml"
        base = read_toml(saved, ConfigError) if saved.is_file() else None
        config = load_config(self.configs, self.overrides, base=base)
        if base is not None:
            trained = load_config((), (), base=base).to_dict()
            mine = config.to_dict()
            changed = [
                f"{section}.{key} = {mine[section][key]!r} (trained with {trained[section].get(key)!r})"
                for section in MODEL_SECTIONS
                for key in mine[section]
                if mine[section][key] != trained[section].get(key)
                and f"{section}.{key}" not in ("data.root", *_READING_KEYS)
            ]
            if changed:
                layers = " ".join(f"-c {c}" for c in self.configs)
                raise ConfigError(
                    f"{layers} changes the model of {option} {self.dir}: {', '.join(changed[:3])}; "
                    f"drop that layer (keep attack layers), or drop {option} to select a run by its config"
                )
        return config

    def require_trained(self) -> None:
        """Fail now, before any lock or output exists, when the run directory holds no trained model."""
        if not (self.dir / "checkpoint.pt").is_file():
            from wcatsim.train.runs import load_run

            load_run(self.dir)  # raises the CheckpointError that names the `wcatsim train` command

    def load(self, device: str) -> tuple[Any, Any]:
        """(the loaded run, the config to record and take attack settings from)."""
        from wcatsim.train.runs import load_run

        reading = self.reading if self.explicit else data_reading(self.config)
        run = load_run(self.dir, device=device, data_root=self.data_root, **reading)
        if not self.explicit:
            return run, self.config
        if self.config is None:
            return run, run.config
        # the run's own model sections, the attack settings asked for
        return run, run.config.replace(attack=self.config.attack, plan=self.config.plan)

    def attack_defaults(self) -> Any:
        """The attack section known before the run is loaded (the run's own once loaded)."""
        return self.settings().attack

    def settings(self) -> Any:
        """The config whose experiment sections (attack, plan) a command takes, known before the run is
        loaded: the layers and ``--set``, else the run's saved config, else the built-in default."""
        if self.config is not None:
            return self.config
        from sram_models.tomlio import read_toml
        from wcatsim.config import config_from_dict, load_config
        from wcatsim.errors import ConfigError

        saved = self.dir / "config.toml"
        if saved.is_file():
            return config_from_dict(read_toml(saved, ConfigError), source=str(saved))
        return load_config()


# data keys that say how the run's data is read (in memory or streamed, loader workers): never a number,
# so an explicit run takes them from --set like data.root
_READING_KEYS = ("data.stream", "data.workers")


def data_reading(cfg: Any) -> dict[str, Any]:
    """``data.stream`` / ``data.workers`` of the command's own layers, where they set them away from the
    defaults: how the run's data is read, which never changes a number."""
    if cfg is None:
        return {}
    from wcatsim.config import DataConfig

    out: dict[str, Any] = {}
    if cfg.data.stream != DataConfig.stream:
        out["stream"] = cfg.data.stream
    if cfg.data.workers != DataConfig.workers:
        out["workers"] = cfg.data.workers
    return out


@contextlib.contextmanager
def removes_empty_dirs_on_failure(path: Path) -> Iterator[None]:
    """Folders of ``path`` (itself included) that this block creates are removed again if it fails and
    they stayed empty: a failed command leaves no empty directory behind."""
    from wcatsim.store.atomic import missing_parents, remove_empty_created

    created = missing_parents(path)
    try:
        yield
    except BaseException:
        remove_empty_created(created)
        raise


# Sweeps of more points than this are refused (a typo such as a step of 1e-9 would otherwise exhaust
# memory before anything runs).  10,000 voltages are far finer than any published BER(V) curve
# (tens of measured points) and at 20 chips each already 200,000 evaluations of the test set.
MAX_POINTS = 10_000


def parse_float_list(text: str, what: str) -> list[float]:
    """``"0,1e-4,2e-3"`` -> floats; a bad, NaN or infinite item is a usage error naming it."""
    import math

    from sram_models.errors import InputError

    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            value = float(item)
        except ValueError:
            raise InputError(f"{what}: {item!r} is not a number (use e.g. 0,1e-4,1e-3)") from None
        if not math.isfinite(value):
            raise InputError(f"{what}: {item!r} is not a finite number (use e.g. 0,1e-4,1e-3)")
        out.append(value)
    if not out:
        raise InputError(f"{what}: the list is empty (use e.g. 0,1e-4,1e-3)")
    if len(out) > MAX_POINTS:
        raise InputError(f"{what}: {len(out)} values; at most {MAX_POINTS} points per sweep")
    return out


def parse_range(text: str, what: str = "--voltages") -> list[float]:
    """``"A:B:STEP"`` -> every value from A to B inclusive (B included up to rounding), or a comma list."""
    import math

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
    if not all(math.isfinite(v) for v in (a, b, step)):
        raise InputError(
            f"{what}: {text!r} has a NaN or infinite value; give finite A:B:STEP (e.g. 0.75:1.0:0.01)"
        )
    if step <= 0:
        raise InputError(f"{what}: STEP must be positive, got {step:g} (e.g. 0.75:1.0:0.01)")
    lo, hi = min(a, b), max(a, b)
    count = math.floor((hi - lo) / step + 1e-9) + 1
    if count > MAX_POINTS:
        raise InputError(
            f"{what}: {text!r} is {count:,} points; at most {MAX_POINTS:,} per sweep: use a larger STEP"
        )
    values = [round(lo + i * step, 10) for i in range(count)]
    if hi - values[-1] > 1e-9 * max(1.0, abs(hi)):
        values.append(hi)  # both ends are always included
    return values
