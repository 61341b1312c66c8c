"""``wcatsim demo``: train, flip, sweep, attack and report on the embedded digits."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wcatsim.cli._common import (
    Command,
    cli_message,
    fail,
    handles_errors,
    quiet_option,
    removes_empty_dirs_on_failure,
)


@click.command("demo", cls=Command)
@click.option(
    "--quick",
    is_flag=True,
    help="A reduced run (under a minute on 2 cores): fewer epochs, realisations, "
    "chips and voltages, one short BFA trial, one training seed (the full demo: 3). Shows the pipeline "
    "works, not the paper's effect sizes.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo_out"),
    show_default=True,
    help="Folder for the report, figures, tables and the trained runs.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to run torch: auto takes a GPU when there is one.",
)
@click.option(
    "--runs-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Where `wcatsim train` puts runs: a model trained there with the "
    "identical config is copied instead of retrained.",
)
@click.option("--allow-degenerate", is_flag=True,
              help="Evaluate and attack even models at chance (clean accuracy within 2 points of the most "
              "frequent class's share).")
@quiet_option
@handles_errors
def demo(
    quick: bool, out_dir: Path, device: str, runs_root: Path, allow_degenerate: bool, quiet: bool
) -> None:
    """The main job on the embedded digits, in under 15 minutes on 2 cores.

    Trains 4-bit maxabs, LSQ and WCAT models; runs the random-flip protocol
    (the paper's BER list extended to 5e-2) and a voltage sweep on
    chandramoorthy14 on each, the same sweep of the activation buffer (8-bit
    activations; the report says which memory limits the voltage); runs the
    Bit-Flip Attack (3 trials); draws every figure; writes OUT/report.md,
    OUT/pareto.csv and OUT/summary.json. A rerun reuses the stages already finished.
    """
    from wcatsim.store.files import check_writable, is_run_dir

    if is_run_dir(out_dir):
        fail(f"--out {out_dir} is a trained run's directory: the demo's summary.json would replace the "
             "run's; give the demo a folder of its own")  # fmt: skip
    check_writable(out_dir, "--out", folder=True)
    if runs_root.exists() and not runs_root.is_dir():
        fail(f"--runs-root {runs_root} is a file, not a folder")

    from wcatsim.pipelines.demo import StageFailed, run_demo

    try:
        with removes_empty_dirs_on_failure(out_dir):
            result = run_demo(
                out_dir, quick=quick, device=device, progress=not quiet,
                log=(lambda *_: None) if quiet else click.echo, runs_root=runs_root,
                allow_degenerate=allow_degenerate,
            )  # fmt: skip
    except StageFailed as exc:  # a failed stage stops the demo: one line, exit code 1
        click.echo(f"error: {cli_message(str(exc))}", err=True)
        sys.exit(1)
    if result.missing:
        click.echo("incomplete: " + "; ".join(result.missing), err=True)
    click.echo(f"report: {result.report}")
