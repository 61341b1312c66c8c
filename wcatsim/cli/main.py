"""The ``wcatsim`` command.

Commands are registered by import path and loaded only when run, so
``wcatsim --help`` imports click and nothing else (no torch, no numba).
"""

from __future__ import annotations

import importlib
import os

import click

from wcatsim.cli._common import OneLineErrors

# name -> (module:attribute, one-line help shown by `wcatsim --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("wcatsim.cli.demo:demo",
             "The main job: train, flip, sweep, attack, and report on the embedded digits."),
    "train": ("wcatsim.cli.train:train", "Train a quantized (or float) model into its run directory."),
    "quantize": ("wcatsim.cli.quantize:quantize",
                 "Post-training quantization of pretrained weights into a run."),
    "eval": ("wcatsim.cli.eval:eval_cmd",
             "Clean accuracy and per-layer quantization ranges of a trained run."),
    "random-flip": ("wcatsim.cli.random_flip:random_flip",
                    "Accuracy under random bit errors over a list of BERs."),
    "sweep-voltage": ("wcatsim.cli.sweep_voltage:sweep_voltage",
                      "Accuracy and energy across SRAM supply voltages."),
    "bfa": ("wcatsim.cli.bfa:bfa", "The Bit-Flip Attack (progressive bit search): flips to break a model."),
    "plan-voltage": ("wcatsim.cli.plan_voltage:plan_voltage",
                     "Plan one SRAM voltage per domain of layers: least energy within an accuracy budget."),
    "pareto": ("wcatsim.cli.pareto:pareto", "Accuracy-versus-energy Pareto fronts of voltage sweeps."),
    "security": ("wcatsim.cli.security:security",
                 "Flips to break each defended model against its energy per inference (the front)."),
    "savings": ("wcatsim.cli.savings:savings",
                "Per preset: each model's 1-point energy saving, CI and band."),
    "sram": ("wcatsim.cli.sram:sram", "SRAM technology presets: list them, tabulate and plot one."),
    "runs": ("wcatsim.cli.runs:runs",
             "Runs under a folder: model, quantizer, dataset, accuracy, health, tables."),
}


class LazyGroup(OneLineErrors, click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        if ctx.resilient_parsing:
            # Shell completion only needs the one-line help: do not import the command.
            return click.Command(cmd_name, help=COMMANDS[cmd_name][1], short_help=COMMANDS[cmd_name][1])
        target, _ = COMMANDS[cmd_name]
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wcatsim")
def cli() -> None:
    """wcatsim: how far can the weight SRAM's voltage go down, and what does it cost?

    Train quantized models with WCAT and its baselines, store their integer
    weights in a simulated SRAM, and measure accuracy under random bit errors,
    voltage scaling and the Bit-Flip Attack.
    """


def main() -> None:
    # Before any command loads torch: let idle OpenMP threads sleep instead of spinning. On a busy
    # 2-core machine (load ~10), `wcatsim train` with no arguments took 139 s with spinning threads
    # and 19 s with passive ones, and a ResNet-20 evaluation 17.5 s against 0.5-2.3 s, with
    # identical results (measured side by side). A value the user set is kept.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cli(prog_name="wcatsim")


if __name__ == "__main__":
    main()
