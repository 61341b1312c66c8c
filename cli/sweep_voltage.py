"""``wcatsim sweep-voltage``: accuracy and energy per inference across the weight SRAM's supply voltage."""

from __future__ import annotations

from pathlib import Path

import click

from cli._common import (
    COUNT,
    IMAGES,
    NON_NEGATIVE,
    Command,
    Experiment,
    experiment_options,
    handles_errors,
    log_lines,
    merge_flags,
    organisation_options,
    parse_range,
    preset_option,
)
from cli.random_flip import (
    activation_options,
    activation_spec,
    fault_run_options,
    finish,
    open_run,
    prepare_outputs,
    protection_choice,
    row_printer,
    subset_note,
)
from sram_models.faults import FAULT_MODEL_NAMES


@click.command("sweep-voltage", cls=Command)
@experiment_options
@preset_option
@click.option("--voltages", "voltage_text", default=None, metavar="A:B:STEP|LIST",
              help="Supply voltages, both ends included (default: attack.sweep.voltages, 0.75:1.0:0.01).")
@click.option("--chips", type=COUNT, default=None,
              help="Simulated chips per voltage (default: attack.sweep.chips, 20).")
@click.option("--images", type=IMAGES, default=None, metavar="N|all|auto",
              help="Nested Monte Carlo: each chip evaluated on a fresh, seeded, class-stratified subset of N "
              "test images, unbiased for the whole-set mean; acc_std_between and images_per_realisation "
              "record the design; all = the whole test set; auto = images per chip and chips per voltage "
              "chosen from a 20-chip pilot to reach a 0.5-point CI half-width at the least measured cost "
              "(--chips unused; docs/montecarlo.md) (default: attack.sweep.images, 0 = the whole test set).")
@click.option("--fault", type=click.Choice(list(FAULT_MODEL_NAMES)), default=None,
              help="chip: persistent fault maps, each chip swept over every voltage (nested); "
              "transient: independent flips; every registered fault model reads the preset's bit error "
              "probability at each voltage (default: attack.sweep.fault, chip).")
@organisation_options
@click.option("--fault-map", "fault_map", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="MAP.npz",
              help="Sweep one measured chip (`wcatsim sram import-map`) at the voltages it holds "
              "(--voltages: a subset); one chip, so no CI; --preset gives the energy there.")
@click.option("--tile-offset", type=NON_NEGATIVE, default=0, show_default=True, metavar="CELLS",
              help="With --fault-map: shift each further tile of the chip by this many cells "
              "(an image larger than the chip tiles it).")
@activation_options("sweep-voltage")
@fault_run_options
@handles_errors
def sweep_voltage(
    configs: tuple[Path, ...], overrides: tuple[str, ...], run_dir: Path | None, device: str,
    preset: str | None, voltage_text: str | None, chips: int | None, images: int | str | None,
    fault: str | None,
    banks: int | None, inference_time_ns: float | None, fault_map: Path | None, tile_offset: int,
    target: str | None, act_bits: int | None, act_word_bits: int | None, act_protect: str | None,
    act_fault: str | None, calibration_images: int | None, act_preset: str | None, act_voltage: float | None,
    word_bits: int | None, ecc: str | None, protect: str | None, layers: str | None, seed: int | None,
    executor: str,
    workers: int | None, scheduler: str | None, out: Path | None, plot: str | None, per_realisation: bool,
    batch_size: int | None, tensorboard: Path | None, eval_images: int | None, quiet: bool,
    allow_degenerate: bool,
) -> None:
    """Accuracy over simulated chips and energy per inference at each supply voltage, one CSV row each.

    For each voltage the preset gives its BER (ber, meaning what the preset's ber_meaning says),
    the read energy, the leakage and the access time; chip c's faults come from the seed (seed, c) at
    every voltage, so lowering the voltage only adds faulty cells; flip_rate is the share of weight
    bits that actually read wrong. Writes sweep_voltage.csv (and sweep_voltage.json) into the run
    directory; energy_norm is the total energy per inference (reads plus leakage over the inference
    time) over the same weights without ECC at nominal voltage.  --target activations sweeps the
    activation buffer's voltage (weights fault-free at nominal); both sweeps the weights' voltage with
    the buffer at --act-voltage (default: the same); energy then counts both memories.

        wcatsim sweep-voltage -c configs/quantization/4bit_wcat.toml --preset chandramoorthy14 --plot
    """
    from sram_models.energy import MemoryOrganisation
    from sram_models.errors import InputError
    from wcatsim.store.atomic import exclusive
    from wcatsim.store.files import target_family
    from wcatsim.train.health import check_run

    # Every option is checked before anything is loaded or written.
    MemoryOrganisation.from_options(banks, inference_time_ns)
    if fault_map is not None:
        for flag, value in (("--chips", chips), ("--fault", fault)):
            if value is not None:
                raise InputError(f"{flag} has no meaning with --fault-map (one measured chip): drop {flag}")
    elif tile_offset != 0:
        raise InputError("--tile-offset applies to --fault-map only")
    voltages = parse_range(voltage_text, "--voltages") if voltage_text is not None else None
    exp = Experiment(configs, overrides, run_dir)
    sw = exp.attack_defaults().sweep
    scheme = protection_choice(ecc, protect, sw)
    if voltage_text is None and fault_map is None:  # with a map and no --voltages: the map's voltages
        if isinstance(sw.voltages, str):
            voltages = parse_range(sw.voltages, "attack.sweep.voltages")
        else:
            voltages = list(sw.voltages)
    sw = merge_flags("sweep-voltage", sw, preset=preset, chips=chips, fault=fault, word_bits=word_bits,
                     seed=seed, protect=scheme, ecc="none", images=images)  # fmt: skip
    preset_name = sw.preset
    from sram_models import load_technology

    tech = load_technology(preset_name)  # an unknown name: InputError listing the presets
    for v in voltages or []:
        tech.check_voltage(v)
    act = activation_spec(
        "sweep-voltage", exp, target=target, bits=act_bits, word_bits=act_word_bits, protect=act_protect,
        fault=act_fault, calibration_images=calibration_images, preset=act_preset, voltage=act_voltage,
    )  # fmt: skip
    if act.target != "weights" and (act.preset or act.voltage is not None):  # checked before any loading
        act_tech = load_technology(act.preset or preset_name)
        if act.voltage is not None:
            act_tech.check_voltage(act.voltage)
    table, figure = prepare_outputs(target_family("sweep_voltage", act.target), exp, out, plot)
    subset_note(eval_images, quiet)
    if fault_map is not None and not quiet:
        click.echo(f"one measured chip ({fault_map}): realisations = 1, no CI across chips; "
                   f"energy from {tech.name}")  # fmt: skip
    with exclusive(table), log_lines(quiet):
        from wcatsim.experiments.sweeps.sweep import voltage_sweep

        run, cfg, ex = open_run(exp, device, executor, scheduler, workers)
        try:
            check_run(run, allow_degenerate)
            rows = voltage_sweep(
                run, tech, voltages, fault=sw.fault, fault_map=fault_map, tile_offset=tile_offset,
                memory=sw.memory_spec(
                    protect=scheme, layers=layers.split(",") if layers else None, banks=banks,
                    inference_time_ns=inference_time_ns, eval_images=eval_images or 0,
                ),
                montecarlo=sw.montecarlo_spec(executor=ex), images=sw.images or None,
                out=table, per_realisation=per_realisation, progress=not quiet,
                on_row=row_printer("sweep_voltage", quiet), batch_size=batch_size, device=device, config=cfg,
                tensorboard=tensorboard,
                activations=act,
            )  # fmt: skip
        finally:
            ex.close()
    finish("sweep_voltage", run, rows, table, figure, voltage_unit=getattr(tech, "voltage_unit", "V"))
