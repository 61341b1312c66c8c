"""``wcatsim runs [ROOT]``: the runs under a folder, what each is and what it holds."""

from __future__ import annotations

from pathlib import Path

import click

from wcatsim.cli._common import Command, handles_errors, quiet_option

COLUMNS = ("run", "model", "quantizer", "dataset", "test_acc_%", "health", "tables")


def describe(run_dir: Path) -> dict[str, str]:
    """One row of ``wcatsim runs``: the run's model, quantizer, dataset, test accuracy (percent), health and
    the result tables it holds (``random_flip.csv+2`` = the table and 2 earlier ones kept aside)."""
    from wcatsim.store.files import OUTPUTS
    from wcatsim.store.results import kept_tables
    from wcatsim.store.runs import read_summary, saved_config

    config = saved_config(run_dir) or {}
    try:
        summary = read_summary(run_dir)
    except ValueError:  # a damaged summary.json: the run is listed, its numbers are not
        summary = {}
    quant = config.get("quant", {})
    method = quant.get("method", "?")
    quantizer = method if method in ("float", "?") else f"{method}{quant.get('bits', '?')}"
    if not (run_dir / "checkpoint.pt").is_file():
        health = "untrained"
    elif summary.get("healthy") is False:
        health = "unhealthy: " + str(summary.get("reason", "see train.log")).split(":")[0]
    elif summary.get("health_warnings"):
        health = f"warned ({len(summary['health_warnings'])})"
    elif summary.get("healthy") is True:
        health = "healthy"
    else:
        health = "unknown (no summary.json)"
    tables = []
    for names in OUTPUTS.values():
        table = run_dir / names[0]
        kept = len(kept_tables(table))
        if table.is_file() or kept:
            tables.append(names[0] + (f"+{kept}" if kept else ""))
    acc = summary.get("test_accuracy")
    return {
        "run": str(run_dir),
        "model": str(config.get("model", {}).get("name", "?")),
        "quantizer": quantizer,
        "dataset": str(config.get("data", {}).get("name", "?")),
        "test_acc_%": "-" if not isinstance(acc, (int, float)) else f"{acc:.2f}",
        "health": health,
        "tables": ",".join(tables) or "-",
    }


@click.command("runs", cls=Command)
@click.argument("root", required=False, default=Path("runs"),
                type=click.Path(file_okay=False, path_type=Path))  # fmt: skip
@quiet_option
@handles_errors
def runs(root: Path, quiet: bool) -> None:
    """List the runs under ROOT (default: runs): model, quantizer, dataset, test accuracy (percent), health
    and the result tables each holds (+N: earlier tables kept aside under their fingerprint)."""
    from wcatsim.errors import InputError
    from wcatsim.store.runs import list_runs

    if not root.is_dir():
        raise InputError(f"no folder {root}: give the folder your runs are in, e.g. wcatsim runs runs")
    found = list_runs(root)
    if not found:
        if quiet:  # the listing is this command's output; --quiet leaves out only the note
            return
        click.echo(f"no runs under {root} (a run is a folder with a config.toml, made by wcatsim train)")
        return
    rows = [describe(r) for r in found]
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in COLUMNS}
    click.echo("  ".join(c.ljust(widths[c]) for c in COLUMNS).rstrip())
    for row in rows:
        click.echo("  ".join(row[c].ljust(widths[c]) for c in COLUMNS).rstrip())
