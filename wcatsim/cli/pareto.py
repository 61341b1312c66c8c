"""``wcatsim pareto``: accuracy-versus-energy fronts of one or more voltage sweeps."""

from __future__ import annotations

from pathlib import Path

import click

from wcatsim.cli._common import Command, handles_errors, quiet_option


@click.command("pareto", cls=Command)
@click.argument(
    "sweeps", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path), metavar="RUN_DIR..."
)
@click.option(
    "--metric",
    type=click.Choice(["mean", "ci_low"]),
    default="mean",
    show_default=True,
    help="Accuracy per voltage: mean over chips, or the lower end of its 95% CI (conservative).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("pareto.png"),
    show_default=True,
    help="Figure path (PNG; a PDF is written beside it, and FILE.csv).",
)
@click.option("--allow-degenerate", is_flag=True,
              help="Include sweeps of models at chance (clean accuracy within 2 points of the most "
              "frequent class's share).")
@quiet_option
@handles_errors
def pareto(sweeps: tuple[Path, ...], metric: str, out: Path, allow_degenerate: bool, quiet: bool) -> None:
    """Pareto fronts and iso-accuracy energy savings of voltage sweeps.

    Each RUN_DIR is a run directory holding sweep_voltage.csv (from `wcatsim
    sweep-voltage`), or the path of such a CSV (a sweep written with --out).
    Prints, per run: clean accuracy, and the lowest energy whose accuracy (and
    that of every higher voltage) stays within 1 and 0.1 point of clean, its
    voltage and the saving against nominal. Writes the figure (PNG + PDF),
    FILE.csv (every point and whether it is on its front) and FILE_iso.csv (the table).
    A run directory holding plan_voltage.json (`wcatsim plan-voltage`) has its plan marked (◆).
    """
    from wcatsim.analysis.pareto import (
        ISO_COLUMNS,
        format_iso_table,
        iso_table,
        load_sweep,
        unique_labels,
        write_points_csv,
    )
    from wcatsim.analysis.plots.pareto import plot_pareto
    from wcatsim.store.atomic import atomic_write_csv, read_json_object
    from wcatsim.store.files import check_not_reserved, check_writable
    from wcatsim.train.health import check_sweeps

    if out.suffix.lower() != ".png":
        out = out.with_suffix(".png")
    written = [out, out.with_suffix(".pdf"), out.with_suffix(".csv"), out.with_name(out.stem + "_iso.csv")]
    check_not_reserved(out, written, (), "--out")
    check_writable(out, "--out")
    loaded = [load_sweep(p) for p in sweeps]
    check_sweeps(loaded, allow_degenerate)
    unique_labels(loaded)
    rows = iso_table(loaded, metric)
    click.echo(format_iso_table(rows))
    plans = [read_json_object(p / "plan_voltage.json") if p.is_dir() else {} for p in sweeps]
    figures = plot_pareto(loaded, out, metric=metric, plans=[p or None for p in plans])
    points_csv = write_points_csv(out.with_suffix(".csv"), loaded, metric)
    iso_csv = out.with_name(out.stem + "_iso.csv")
    atomic_write_csv(iso_csv, ISO_COLUMNS, rows)
    if not quiet:
        click.echo("wrote " + ", ".join(str(p) for p in [*figures, points_csv, iso_csv]))
