"""``wcatsim security``: the security–energy front of attacked runs, one point per defence and model."""

from __future__ import annotations

from pathlib import Path

import click

from wcatsim.cli._common import Command, FiniteFloat, handles_errors, quiet_option


@click.command("security", cls=Command)
@click.argument(
    "runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="RUN_DIR...",
)  # fmt: skip
@click.option("--voltage", type=FiniteFloat(), default=None, metavar="V",
              help="Supply voltage of the weight memory: its energy per inference is read from each run's "
              "sweep_voltage.csv (energy_norm at V, a swept voltage). Default: nominal (energy 1 by "
              "definition; no sweep needed).")
@click.option("--defence", "defences", multiple=True, metavar="NAME",
              help="Only these defences (repeatable; none = the undefended attack). Default: every attack "
              "summary in the run directories.")
@click.option("--objective", type=click.Choice(["untargeted", "targeted"]), default=None,
              help="Only the attacks with this objective (bfa_summary.json, bfa_NAME_summary.json: "
              "untargeted; bfa_targeted*_summary.json: targeted). Default: every attack, refused where "
              "both objectives are found (their flips to break count different events).")
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("security.png"),
    show_default=True, help="Figure path (PNG; a PDF is written beside it, FILE.csv and FILE.md).",
)  # fmt: skip
@quiet_option
@handles_errors
def security(runs: tuple[Path, ...], voltage: float | None, defences: tuple[str, ...],
             objective: str | None, out: Path, quiet: bool) -> None:
    """Flips to break each defended model against its energy per inference (issue 20).

    Reads, in every RUN_DIR, the Bit-Flip Attack summaries: bfa_summary.json (undefended) and
    bfa_NAME_summary.json (`wcatsim bfa --defence NAME --defended-break`: the break judged on the
    defended model; an attack without --defended-break is refused), and the targeted attack's
    bfa_targeted*_summary.json; one objective per front (--objective). Per summary: the Kaplan-Meier
    median of flips to break with its 95% CI, against the weight memory's energy per inference at
    --voltage plus the defence's priced energy overhead, in units of the undefended weight memory at
    nominal. Prints the table; writes the figure (PNG + PDF), FILE.csv (every point, whether it is on
    the front) and FILE.md (the report's table).
    """
    from wcatsim.analysis.plots.security import plot_security
    from wcatsim.analysis.report.tables import security_section
    from wcatsim.analysis.security import SECURITY_COLUMNS, security_points, security_rows
    from wcatsim.store.atomic import atomic_write_csv, atomic_write_text
    from wcatsim.store.files import check_not_reserved, check_writable

    if out.suffix.lower() != ".png":
        out = out.with_suffix(".png")
    written = [out, out.with_suffix(".pdf"), out.with_suffix(".csv"), out.with_suffix(".md")]
    check_not_reserved(out, written, (), "--out")
    check_writable(out, "--out")
    if defences:
        from wcatsim.experiments.attacks.defences import DEFENCES

        for name in defences:
            DEFENCES.get(name)  # a misspelt name: one line with the allowed ones
    points = security_points(runs, voltage, list(defences) or None, objective)
    section = security_section(points, out, out.parent)
    click.echo(section[2])
    figures = plot_security(points, out)
    atomic_write_csv(out.with_suffix(".csv"), SECURITY_COLUMNS, security_rows(points))
    atomic_write_text(out.with_suffix(".md"), "\n".join(section).rstrip() + "\n")
    if not quiet:
        click.echo("wrote " + ", ".join(str(p) for p in [*figures, *written[2:]]))
