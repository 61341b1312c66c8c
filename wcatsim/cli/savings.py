"""``wcatsim savings``: the 1-point iso-accuracy saving of each model on each preset, with CI and band."""

from __future__ import annotations

from pathlib import Path

import click

from wcatsim.cli._common import COUNT, NON_NEGATIVE, Command, handles_errors, quiet_option


@click.command("savings", cls=Command)
@click.argument("inputs", nargs=-1, required=True, metavar="RUN_DIR|DEMO_DIR...",
                type=click.Path(exists=True, file_okay=False, path_type=Path))  # fmt: skip
@click.option("--presets", "preset_text", required=True, metavar="A,B,...",
              help="Technology presets (wcatsim sram list) or preset files, comma-separated.")
@click.option("--points", type=click.IntRange(min=2), default=None, metavar="N",
              help="Voltages of a sweep the runs lack, from the preset's lowest voltage to nominal, both "
              "included (default 26: the demo's grid on chandramoorthy14). A preset that some run already "
              "has a table of is swept on that table's voltages.")
@click.option("--chips", type=COUNT, default=None,
              help="Chips of a sweep the runs lack (default: those of the runs' own sweep_voltage.csv, else "
              "attack.sweep.chips, 20).")
@click.option("--seed", type=NON_NEGATIVE, default=None,
              help="Fault seed of a sweep the runs lack (default: as --chips; attack.sweep.seed, 0).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("savings.csv"),
              show_default=True, help="The table (CSV); savings.json is written beside it.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where to run the sweeps: auto takes a GPU when there is one.")
@click.option("--allow-degenerate", is_flag=True,
              help="Sweep models at chance too (clean accuracy within 2 points of the most frequent class's "
              "share).")
@quiet_option
@handles_errors
def savings(
    inputs: tuple[Path, ...], preset_text: str, points: int | None, chips: int | None, seed: int | None,
    out: Path, device: str, allow_degenerate: bool, quiet: bool,
) -> None:  # fmt: skip
    """Per preset and quantizer: the 1-point iso-accuracy saving with its CI and technology band.

    Each input is a run directory or a folder of them (a demo's output directory: its runs/). Runs are
    grouped by quantizer, each group's training seeds paired with the others' (trainer.seed = s), as
    the demo groups them. For each preset, a run's table is its sweep_voltage.csv where that is the
    preset's unprotected sweep with per-chip rows, else sweep_voltage_PRESET.csv, swept now where it is
    missing (the same chips, fault seed and voltages as the preset's stored tables). Prints, per
    preset and quantizer: the saving (mean over seeds) with its 95% paired bootstrap CI over seeds and
    chips, and its technology band (the saving recomputed over the preset's parameter uncertainty;
    "none" where the preset's fit allows none, said why). Writes the table (CSV) and savings.json.

        wcatsim savings demo_out --presets chandramoorthy14,chandramoorthy14_fig1,salami28_bram,dpcs45
    """
    from wcatsim.analysis.savings import format_savings
    from wcatsim.pipelines.savings import DEFAULT_POINTS, preset_savings_table
    from wcatsim.store.files import check_not_reserved, check_writable

    presets = [p.strip() for p in preset_text.split(",") if p.strip()]
    written = [out, out.with_suffix(".json")]
    check_not_reserved(out, written, (), "--out")
    check_writable(out, "--out")
    result = preset_savings_table(
        inputs, presets, points=DEFAULT_POINTS if points is None else points, chips=chips, seed=seed, out=out,
        device=device, progress=not quiet, say=(lambda text: None) if quiet else click.echo,
        allow_degenerate=allow_degenerate,
    )  # fmt: skip
    click.echo(format_savings(result.presets))
    if not quiet:
        click.echo(f"wrote {result.csv}, {result.json}")
