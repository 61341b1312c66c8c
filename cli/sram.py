"""``wcatsim sram``: the SRAM technology presets (list them; tabulate and plot one)."""

from __future__ import annotations

from pathlib import Path

import click

from cli._common import Group, handles_errors, parse_range, quiet_option

SHOW_COLUMNS = ("voltage", "ber", "read_energy_pj", "leakage_mw", "read_energy_norm")
LIST_COLUMNS = ("name", "node", "v_low", "v_high", "source")


def _csv_text(columns: tuple[str, ...], rows: list[dict]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def _table_text(columns: tuple[str, ...], rows: list[dict]) -> str:
    cells = [[("" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


@click.group("sram", cls=Group)
def sram() -> None:
    """SRAM technology presets: list them, tabulate and plot one.

    A PRESET is a shipped name (see `wcatsim sram list`) or the path of your own
    .toml/.csv preset file (copy data/sram/generic.toml).
    """


@sram.command("list")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout: name, node, v_low, v_high, source.")
@quiet_option
@handles_errors
def list_cmd(as_csv: bool, quiet: bool) -> None:
    """The shipped presets: name, node, valid voltage range, source."""
    from sram_models.presets import list_presets

    infos = list_presets()
    if as_csv:
        rows = [
            {"name": p.name, "node": p.node, "v_low": p.v_low, "v_high": p.v_high, "source": p.source}
            for p in infos
        ]
        click.echo(_csv_text(LIST_COLUMNS, rows), nl=False)
        return
    rows = [
        {
            "name": p.name,
            "node": p.node,
            "v_low": f"{p.v_low:g}",
            "v_high": f"{p.v_high:g}",
            "unit": p.voltage_unit,
            "source": p.source,
        }
        for p in infos
    ]
    click.echo(_table_text(("name", "node", "v_low", "v_high", "unit", "source"), rows))


@sram.command("show")
@click.argument("preset")
@click.option(
    "--voltages",
    default=None,
    metavar="A:B:STEP",
    help="Voltages to tabulate (both ends included) or a comma list; default: the preset's "
    "range in 10 steps.",
)
@click.option(
    "--csv",
    "as_csv",
    is_flag=True,
    help="CSV on stdout: voltage, ber, read_energy_pj, leakage_mw, read_energy_norm.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE.png",
    help="Also draw BER (log axis) and energy against voltage (PNG + PDF).",
)
@quiet_option
@handles_errors
def show(preset: str, voltages: str | None, as_csv: bool, plot_path: Path | None, quiet: bool) -> None:
    """BER, read energy, leakage and normalised read energy of PRESET across voltages.

    read_energy_pj is per access as the preset defines it and leakage_mw that of
    the preset's array (both empty when the source publishes no absolute energy);
    read_energy_norm is relative to the nominal voltage.
    """
    from sram_models.presets import load_technology

    if plot_path is not None:
        from wcatsim.outputs import check_figure_path

        check_figure_path(plot_path, None)
    tech = load_technology(preset)
    if voltages is None:
        step = (tech.v_high - tech.v_low) / 10
        volts = [round(tech.v_low + i * step, 10) for i in range(11)]
    else:
        volts = parse_range(voltages)
    tech.check_voltage(volts)  # one clear error naming the range
    rows = []
    for v in volts:
        energy, leak = tech.read_energy(v), tech.leakage_power(v)
        rows.append(
            {
                "voltage": f"{v:g}",
                "ber": f"{tech.ber(v):.4g}",
                "read_energy_pj": None if energy is None else f"{energy:.4g}",
                "leakage_mw": None if leak is None else f"{leak:.4g}",
                "read_energy_norm": f"{tech.read_energy_norm(v):.4f}",
            }
        )
    if not tech.has_absolute_energy and not quiet:
        click.echo(
            f"warning: {tech.name} publishes no absolute energy: read_energy_pj and leakage_mw are "
            "empty; read_energy_norm is relative to the nominal voltage",
            err=True,
        )
    if as_csv:
        click.echo(_csv_text(SHOW_COLUMNS, rows), nl=False)
    else:
        click.echo(
            f"{tech.name}: {tech.node}, voltage in {tech.voltage_unit}, nominal {tech.v_nominal:g}, "
            f"v_min {tech.v_min:g}, valid {tech.v_low:g}..{tech.v_high:g}"
        )
        click.echo(f"source: {tech.source}")
        if tech.has_absolute_energy:
            click.echo(f"read energy per {tech.access_bits}-bit access; leakage of {tech.leakage_bits} cells")
        click.echo(_table_text(SHOW_COLUMNS, rows))
    if plot_path is not None:
        from wcatsim.plots.technology import plot_technology

        written = plot_technology(tech, plot_path)
        if not quiet:
            click.echo("wrote " + ", ".join(str(p) for p in written), err=True)
