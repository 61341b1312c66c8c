"""``wcatsim sweep-voltage``: accuracy and energy per inference across the weight SRAM's supply voltage."""

from __future__ import annotations

from pathlib import Path

import click

from cli._common import experiment_options, handles_errors, parse_range
from cli.random_flip import fault_run_options, finish, open_run, row_printer, subset_note


@click.command("sweep-voltage")
@experiment_options
@click.option("--preset", default=None,
              help="SRAM technology preset (wcatsim sram list) or a preset file "
              "(default: attack.sweep.preset).")
@click.option("--voltages", "voltage_text", default=None, metavar="A:B:STEP|LIST",
              help="Supply voltages, both ends included (default: attack.sweep.voltages, 0.75:1.0:0.01).")
@click.option("--chips", type=int, default=None,
              help="Simulated chips per voltage (default: attack.sweep.chips, 20).")
@click.option("--fault", type=click.Choice(["chip", "transient"]), default=None,
              help="chip: persistent fault maps, each chip swept over every voltage (nested); "
              "transient: independent flips at the preset's BER.")
@fault_run_options
@handles_errors
def sweep_voltage(
    configs: tuple[Path, ...], overrides: tuple[str, ...], run_dir: Path | None, device: str,
    preset: str | None, voltage_text: str | None, chips: int | None, fault: str | None,
    word_bits: int | None, ecc: str | None, layers: str | None, seed: int | None, executor: str,
    workers: int | None, scheduler: str | None, out: Path | None, plot: bool, per_realisation: bool,
    batch_size: int | None, eval_images: int | None, quiet: bool,
) -> None:
    """Accuracy over simulated chips and energy per inference at each supply voltage, one CSV row each.

    For each voltage the preset gives the faulty-cell rate (ber) and the read energy and leakage;
    chip c's faults come from the seed (seed, c) at every voltage, so lowering the voltage only adds
    faulty cells. Writes sweep_voltage.csv (and sweep_voltage.json) into the run directory; energy_norm
    is the total energy per inference over the same at nominal voltage.

        wcatsim sweep-voltage -c configs/quantization/4bit_wcat.toml --preset chandramoorthy14 --plot
    """
    from sram_models.errors import InputError
    from wcatsim.sweeps import voltage_sweep

    run, cfg, sw, ex = open_run(configs, overrides, run_dir, device, executor, scheduler, "sweep", workers)
    if voltage_text is not None:
        voltages = parse_range(voltage_text, "--voltages")
    elif isinstance(sw.voltages, str):
        voltages = parse_range(sw.voltages, "attack.sweep.voltages")
    else:
        voltages = list(sw.voltages)
    preset_name = sw.preset if preset is None else preset
    try:
        from sram_models import load_technology

        tech = load_technology(preset_name)
    except FileNotFoundError:
        raise InputError(
            f"unknown preset {preset_name!r}: see `wcatsim sram list`, or give a preset file"
        ) from None
    printer = row_printer("sweep_voltage", quiet)
    subset_note(eval_images, quiet)
    try:
        rows = voltage_sweep(
            run, tech, voltages,
            chips=sw.chips if chips is None else chips,
            fault=sw.fault if fault is None else fault,
            ecc=sw.ecc if ecc is None else ecc,
            word_bits=sw.word_bits if word_bits is None else word_bits,
            layers=layers.split(",") if layers else None,
            seed=sw.seed if seed is None else seed,
            executor=ex, out=out, per_realisation=per_realisation, progress=not quiet,
            on_row=printer, batch_size=batch_size, device=device, config=cfg, eval_images=eval_images or 0,
        )  # fmt: skip
    finally:
        ex.close()
    finish("sweep_voltage", run, rows, out, plot, voltage_unit=getattr(tech, "voltage_unit", "V"))
