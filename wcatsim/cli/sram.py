"""``wcatsim sram``: the SRAM technology presets (list them; tabulate and plot one)."""

from __future__ import annotations

from pathlib import Path

import click

from wcatsim.cli._common import COUNT, Group, handles_errors, parse_range, quiet_option

SHOW_COLUMNS = (
    "voltage", "ber", "read_energy_pj", "leakage_mw", "read_energy_norm", "access_time_ns",
    "access_time_norm", "source_leakage_mw",
)  # fmt: skip
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
    """SRAM technology presets: list them, tabulate and plot one; import a measured fault map.

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
    help="CSV on stdout: voltage, ber, read_energy_pj, leakage_mw, read_energy_norm, access_time_ns, "
    "access_time_norm, source_leakage_mw.",
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
    """BER, read energy, leakage and access time of PRESET across voltages.

    ber is the preset's curve (its ber_meaning says whether it counts faulty cells or wrong reads);
    read_energy_pj is per access as the preset defines it and leakage_mw that of the preset's full
    array, the figure the energy model uses (source_leakage_mw: the source's own column, for dpcs45
    a cache with its faulty blocks power-gated); both empty when the source publishes no absolute
    energy. access_time_ns is the access time (the clock period of a read) at V, empty without an
    absolute figure; read_energy_norm and access_time_norm are relative to the nominal voltage.
    """
    from sram_models.presets import load_technology

    if plot_path is not None:
        from wcatsim.store.files import check_figure_path

        check_figure_path(plot_path, None)
    from sram_models.technology import WeightMacroModel

    tech = load_technology(preset)
    macro = isinstance(tech, WeightMacroModel)
    if voltages is None:
        step = (tech.v_high - tech.v_low) / 10
        volts = [round(tech.v_low + i * step, 10) for i in range(11)]
    else:
        volts = parse_range(voltages)
    tech.check_voltage(volts)  # one clear error naming the range
    rows = []
    for v in volts:
        energy, leak, source = tech.read_energy(v), tech.leakage_power(v), tech.source_leakage_power(v)
        timed = tech.has_delay_model
        access = tech.access_time(v) if timed else None
        rows.append(
            {
                "voltage": f"{v:g}",
                "ber": f"{tech.ber(v):.4g}",
                "read_energy_pj": None if energy is None else f"{energy:.4g}",
                "leakage_mw": None if leak is None else f"{leak:.4g}",
                "read_energy_norm": f"{tech.read_energy_norm(v):.4f}",
                "access_time_ns": None if access is None else f"{access:.4g}",
                "access_time_norm": f"{tech.access_time_norm(v):.4g}" if timed else None,
                "source_leakage_mw": None if source is None else f"{source:.4g}",
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
        click.echo(
            f"ber_meaning: {tech.ber_meaning} ("
            + ("share of cells that fail at V; about half of them read wrong on random data)"
               if tech.ber_meaning == "faulty_cell" else "share of bits of random data read wrong)")
        )  # fmt: skip
        if tech.has_absolute_energy:
            click.echo(f"read energy per {tech.access_bits}-bit access; leakage of {tech.leakage_bits} cells")
        if macro:
            at = "" if tech.cycle_time_ns is None else f"{tech.cycle_time_ns:g} ns at nominal, "
            click.echo(
                f"access time: {at}alpha-power law with alpha {tech.alpha:g}, Vth {tech.alpha_vth:g} V "
                "(the whole access on the scaled rail)"
            )
        elif tech.has_delay_model:
            at = "" if tech.cycle_time_ns is None else f"{tech.cycle_time_ns:g} ns at nominal, "
            click.echo(
                f"access time: {at}EKV delay with Vth {tech.delay_vth:g} V, n {tech.delay_n:g}, "
                f"{100 * tech.cell_voltage_share:.1f}% of an access at the cell supply"
                + (f", Vmin = {tech.vmin_volts:g} V" if tech.voltage_unit == "Vmin" else "")
            )
        else:
            click.echo("access time: no delay model in this preset (give delay_vth and delay_n)")
        click.echo(_table_text(SHOW_COLUMNS, rows))
        if macro:
            click.echo("")
            click.echo(_macro_text(preset, tech, volts))
        click.echo("")
        click.echo(_fit_text(preset, tech))
    if plot_path is not None:
        from wcatsim.analysis.plots.technology import plot_technology

        written = plot_technology(tech, plot_path)
        if not quiet:
            click.echo("wrote " + ", ".join(str(p) for p in written), err=True)



def _fit_text(preset: str, tech) -> str:
    """The preset's BER(V) points with sources, the fit's residuals and parameter uncertainty."""
    import numpy as np

    from sram_models.technology.fit import load_fit

    fit = load_fit(preset)
    if fit is None:
        return "BER(V) fit: this preset file has no [fit] section (points, sources, fit, uncertainty)"
    lines = [f"BER(V) fit: {fit.model}; {fit.method}"]
    if fit.parameters:
        parts = []
        for key, value in fit.parameters.items():
            err = None if fit.stderr is None else fit.stderr.get(key)
            parts.append(f"{key} = {value:.5g}" + ("" if err is None else f" +- {err:.2g} (1 s.e.)"))
        lines.append("parameters: " + ", ".join(parts))
    if fit.uncertainty:
        lines.append(f"uncertainty: {fit.uncertainty}")
    lines.append(
        f"residual = log10(curve / point) in decades; fitted points within {fit.max_residual_decades:g}"
    )
    residuals = fit.residuals(tech)
    rows = [
        {
            "voltage": f"{p.voltage:g}", "ber": f"{p.ber:.4g}",
            "curve": "outside range" if np.isnan(r) else f"{tech.ber(p.voltage):.4g}",
            "residual": "-" if np.isnan(r) else f"{r:+.3f}", "use": p.use,
            "kind": p.kind + (", digitised" if p.digitised else ""), "source": p.source,
        }
        for p, r in zip(fit.points, residuals, strict=True)
    ]  # fmt: skip
    lines.append(_table_text(("voltage", "ber", "curve", "residual", "use", "kind", "source"), rows))
    if fit.leakage is not None:
        lk = fit.leakage
        err = "" if lk.stderr is None else f" +- {lk.stderr:.2g} V (1 s.e.)"
        lines.append(
            f"leakage fit: leakage_v0 = {lk.leakage_v0:.5g} V{err}; {lk.method}; the fitted ratios "
            f"within {100 * lk.max_relative_residual:.3g}%"
        )
    if fit.power:
        lines.append(
            "power/energy points of the source (ratio = value at voltage / value at ref) against this "
            "preset's model (checks: read_energy = its read energy, leakage = its leakage law); "
            "residual = model / ratio - 1:"
        )
        prow = []
        for q in fit.power:
            prow.append({
                "voltage": f"{q.voltage:g}", "ref": f"{q.ref_voltage:g}", "ratio": f"{q.ratio:.4g}",
                "model": f"{q.model_ratio(tech):.4g}", "residual": f"{100 * q.residual(tech):+.1f}%",
                "checks": q.model, "kind": q.kind, "quantity": q.quantity, "source": q.source,
            })  # fmt: skip
        columns = ("voltage", "ref", "ratio", "model", "residual", "checks", "kind", "quantity", "source")
        lines.append(_table_text(columns, prow))
    return "\n".join(lines)


MACRO_COLUMNS = (
    "voltage", "dynamic_norm", "measured_access", "leakage_norm", "measured_leakage", "access_time_norm",
    "leakage_x_time_norm",
)  # fmt: skip


def _macro_text(preset: str, tech, volts: list[float]) -> str:
    """A macro preset's energy-versus-voltage curve, dynamic energy, leakage and access time apart,
    beside the measured ratios (relative to nominal) of its ``[fit.power]`` points."""
    from sram_models.technology.fit import load_fit

    fit = load_fit(preset)
    measured: dict[tuple[float, str], float] = {}
    for q in () if fit is None else fit.power:
        inside = tech.v_low - 1e-9 <= q.voltage <= tech.v_high + 1e-9
        if abs(q.ref_voltage - tech.v_nominal) < 1e-9 and inside:
            measured[(round(q.voltage, 9), q.model)] = q.ratio
    grid = sorted({round(float(v), 9) for v in volts} | {v for v, _ in measured}, reverse=True)
    rows = []
    for v in grid:
        time, leak = float(tech.access_time_norm(v)), float(tech.leakage_norm(v))
        access, leaked = measured.get((v, "read_energy")), measured.get((v, "leakage"))
        rows.append({
            "voltage": f"{v:g}", "dynamic_norm": f"{tech.read_energy_norm(v):.4f}",
            "measured_access": "" if access is None else f"{access:.4f}",
            "leakage_norm": f"{leak:.4f}", "measured_leakage": "" if leaked is None else f"{leaked:.4f}",
            "access_time_norm": f"{time:.4f}", "leakage_x_time_norm": f"{leak * time:.4f}",
        })  # fmt: skip
    if tech.has_absolute_energy:
        weight = "from the preset's absolute read energy and leakage"
    elif tech.leakage_share_nominal == 0.0:
        weight = "none (leakage_share_nominal = 0): the energy per inference is the dynamic energy alone"
    else:
        weight = f"leakage_share_nominal = {tech.leakage_share_nominal:g}"
    lines = [
        "energy and time against voltage, each relative to nominal (separate columns, never summed here);",
        "measured_*: the source's ratios at that voltage (value there / value at nominal), see below:",
        "  dynamic_norm: read energy per access, C V^2 "
        + ("of the whole access (periphery on the scaled rail)" if tech.periphery_volts is None
           else f"with {100 * tech.periphery_share:g}% periphery at {tech.periphery_volts:g} V"),
        f"  leakage_norm: leakage power, exp(-(Vnom - V) / {tech.leakage_v0:g} V)",
        f"  access_time_norm: alpha-power law (alpha {tech.alpha:g}, Vth {tech.alpha_vth:g} V)",
        "  leakage_x_time_norm: leakage energy of one read cycle at the access-time clock (power x time)",
        "inference time: read-bound (the reads at the access-time clock)"
        + ("" if tech.has_absolute_energy
           else "; an accelerator's inference time needs a preset with absolute energy and timing"),
        f"leakage weight in the energy per inference: {weight}",
        _table_text(MACRO_COLUMNS, rows),
    ]  # fmt: skip
    return "\n".join(lines)


# ------------------------------------------------ h7: measured fault maps (issue 12, section 3)


@sram.command("import-map")
@click.argument("listing_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--rows", type=COUNT, required=True, help="Array rows to keep (NeuralFuse: 8192).")
@click.option("--cols", type=COUNT, required=True, help="Array columns to keep (NeuralFuse: 128).")
@click.option("--banks", type=COUNT, default=1, show_default=True,
              help="Banks (address lists may name them; dense bitmaps are one array).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              metavar="MAP.npz", help="The fault map to write (format: sram_models.measured).")
@click.option("--voltage-unit", type=click.Choice(["V", "Vmin"]), default="V", show_default=True,
              help="Unit of the <V> in the file names (must match the --preset you sweep with).")
@click.option("--chip", default="", help="Name of the chip (default: the directory's name).")
@click.option("--swap-polarity", is_flag=True,
              help="Read fmap_sa0 as the cells that read 1 (how NeuralFuse's injection code applies it).")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@quiet_option
@handles_errors
def import_map(
    listing_dir: Path, rows: int, cols: int, banks: int, out: Path, voltage_unit: str, chip: str,
    swap_polarity: bool, force: bool, quiet: bool,
) -> None:
    """Convert a measured chip's fault-map files in LISTING_DIR into MAP.npz and describe it.

    LISTING_DIR holds the NeuralFuse files fmap_sa0_v_<V>.txt and fmap_sa1_v_<V>.txt (dense
    comma-separated 0/1 bitmaps, one array row per line; the top-left ROWS x COLS is kept) and/or
    address lists faults_v_<V>.txt (lines "row,col,stuck" or "bank,row,col,stuck"). Prints per
    voltage the faulty-cell rate, the share stuck at 0, and whether the faulty set contains the one
    at the next higher voltage (nesting is reported, never assumed).

        wcatsim sram import-map faultmaps_chip_n --rows 8192 --cols 128 --out chip_n.npz
    """
    from sram_models.errors import InputError
    from sram_models.measured import import_listing

    if out.exists() and not force:
        raise InputError(f"{out} exists: choose another --out or add --force to overwrite it")
    chip_map = import_listing(
        listing_dir, rows, cols, banks=banks, voltage_unit=voltage_unit, chip=chip,
        swap_polarity=swap_polarity,
    )  # fmt: skip
    if quiet:
        chip_map.save(out)
        return
    table = []
    for r in chip_map.summary():
        share = r["stuck0_share"]
        nested = r["contains_higher"]
        table.append({
            "voltage": f"{r['voltage']:g}",
            "faulty_cells": str(r["faulty_cells"]),
            "faulty_rate": f"{r['faulty_rate']:.4g}",
            "stuck0_share": "-" if share is None else f"{share:.3f}",
            "contains_higher": "-" if nested is None else ("yes" if nested else "no"),
        })  # fmt: skip
    click.echo(
        f"{chip_map.chip}: {chip_map.banks} bank(s) x {chip_map.rows} x {chip_map.cols} cells, "
        f"{len(chip_map.voltages)} voltages ({chip_map.voltage_unit})"
    )
    columns = ("voltage", "faulty_cells", "faulty_rate", "stuck0_share", "contains_higher")
    click.echo(_table_text(columns, table))
    pairs = chip_map.nested()
    broken = [f"{hi:g}->{lo:g}" for hi, lo, ok in pairs if not ok]
    if broken:
        click.echo(f"nested: no ({len(broken)} of {len(pairs)} voltage steps add and remove faulty cells: "
                   f"{', '.join(broken)})")  # fmt: skip
    else:
        click.echo(f"nested: yes (every cell faulty at one of the {len(pairs) + 1} voltages is faulty at "
                   "every lower one)")  # fmt: skip
    click.echo(f"wrote {chip_map.save(out)}")
