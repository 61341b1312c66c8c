"""``wcatsim random-flip``: accuracy under random bit errors in the stored weights, over a list of BERs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wcatsim.cli._common import (
    COUNT,
    IMAGES,
    NON_NEGATIVE,
    Command,
    Experiment,
    FiniteFloat,
    experiment_options,
    fail,
    given,
    handles_errors,
    log_lines,
    merge_flags,
    parse_float_list,
    plot_option,
    plot_target,
    quiet_option,
    setting_option,
    tensorboard_option,
)

F = TypeVar("F", bound=Callable[..., Any])


def fault_run_options(func: F) -> F:
    """Options shared by random-flip and sweep-voltage (memory layout, seeds, executor, output)."""
    options = [
        click.option("--word-bits", type=COUNT, default=None,
                     help="SRAM word width the weights are packed into (default: "
                     "attack.random_flip.word_bits or attack.sweep.word_bits, 64)."),
        click.option("--ecc", type=click.Choice(["none", "secded"]), default=None,
                     help="Error-correcting code per word: SECDED corrects one error and detects two "
                     "(an alias of --protect secded)."),
        click.option("--protect", default=None, metavar="SCHEME",
                     help="Protection scheme of the weight memory: none, secded, secded-zero, parity-zero, "
                     "bit-mask, msb-8t (docs/sram.md: what each reads and costs). Adds ecc_corrected_mean, "
                     "ecc_detected_mean, ecc_miscorrected_mean to the table (default: "
                     "attack.random_flip.protect or attack.sweep.protect, none)."),
        click.option("--layers", default=None, metavar="NAMES",
                     help="Comma list of layers held in the faulty memory (default: every quantized layer)."),
        click.option("--seed", type=NON_NEGATIVE, default=None,
                     help="Base seed of the fault draws (same seed, same faults for every model; default: "
                     "attack.random_flip.seed or attack.sweep.seed, 0)."),
        click.option("--executor", type=click.Choice(["local", "processes", "dask"]), default="local",
                     show_default=True,
                     help="Where realisations run: this process; local worker processes, one core each "
                     "(faster for ResNet-sized models); or a Dask cluster (optional extra, --scheduler)."),
        click.option("--workers", type=COUNT, default=None,
                     help="Worker processes for --executor processes (default: every core)."),
        click.option("--scheduler", default=None, metavar="ADDRESS|FILE",
                     help="For --executor dask: a running scheduler's address (tcp://10.0.0.5:8786), or a "
                     "scheduler description FILE.toml that starts a Slurm, PBS or SGE cluster through "
                     "dask-jobqueue, or a local one (docs/clusters.md)."),
        click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write the table here instead of into the run directory (not over a file the "
                     "run needs, nor another command's table)."),
        plot_option("Also draw the figure: to FILE, or without FILE beside the table (PNG + PDF)."),
        click.option("--per-realisation", is_flag=True,
                     help="Also write one row per realisation (NAME_realisations.csv)."),
        click.option("--batch-size", type=COUNT, default=None,
                     help="Images per evaluation batch (default: the fastest setting for the device)."),
        tensorboard_option,
        click.option("--eval-images", type=NON_NEGATIVE, default=None, metavar="K",
                     help="Evaluate on a fixed, class-stratified, seeded subset of K test images (recorded "
                     "in the sidecar; the CIs are then over realisations on that subset)."),
        quiet_option,
        click.option("--allow-degenerate", is_flag=True,
                     help="Evaluate even a model at chance (clean accuracy within 2 points of the most "
                     "frequent class's share) or one whose training stopped unhealthy."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def activation_options(command: str) -> Callable[[F], F]:
    """The activation buffer's options (``attack.activations.*``) of random-flip, sweep-voltage or
    plan-voltage (which chooses the buffer's voltage on its own preset: neither --act-preset nor
    --act-voltage)."""
    from wcatsim.config import TARGETS

    def wrap(func: F) -> F:
        options = [
            setting_option("--target", "attack.activations.target", type=click.Choice(TARGETS)),
            setting_option("--act-bits", "attack.activations.bits", dest="act_bits", type=COUNT),
            setting_option("--act-word-bits", "attack.activations.word_bits", dest="act_word_bits",
                           type=COUNT),
            setting_option("--act-protect", "attack.activations.protect", dest="act_protect",
                           metavar="SCHEME"),
            setting_option("--act-fault", "attack.activations.fault", dest="act_fault", metavar="NAME"),
            setting_option("--calibration-images", "attack.activations.calibration_images", type=COUNT),
        ]
        if command == "random-flip":
            options.append(setting_option("--act-ber", "attack.activations.ber", dest="act_ber",
                                          type=FiniteFloat(0.0, 1.0)))
        elif command == "sweep-voltage":
            options += [
                setting_option("--act-preset", "attack.activations.preset", dest="act_preset",
                               metavar="NAME|FILE"),
                setting_option("--act-voltage", "attack.activations.voltage", dest="act_voltage",
                               type=FiniteFloat(low=0.0)),
            ]
        for option in reversed(options):
            func = option(func)
        return func

    return wrap


def activation_spec(command: str, exp: Experiment, **flags: Any) -> Any:
    """The ``attack.activations`` section of the config layers with the given flags on top."""
    return merge_flags(command, exp.attack_defaults().activations, **flags)


def protection_choice(
    ecc: str | None, protect: str | None, section: Any, protect_msb: float = 0.0
) -> str:
    """The scheme from --ecc / --protect (either wins over the config), else from the config section."""
    from sram_models.protection import resolve_scheme

    if ecc is not None or protect is not None:
        return resolve_scheme(ecc, protect, protect_msb)
    return resolve_scheme(getattr(section, "ecc", None), getattr(section, "protect", None), protect_msb)


def prepare_outputs(
    family: str, exp: Experiment, out: Path | None, plot: str | None
) -> tuple[Path, Path | None]:
    """(table path, figure path or None), both checked before anything runs: neither may replace a
    file the run needs or another command's output, and both must be writable."""
    from wcatsim.store.files import check_figure_path, check_table_path, default_table

    exp.require_trained()
    table = out or exp.dir / default_table(family)
    check_table_path(table, family)
    figure = plot_target(plot, table.with_suffix(".png"))
    if figure is not None:
        check_figure_path(figure, family)
    return table, figure


def open_run(
    exp: Experiment, device: str, executor: str, scheduler: str | None, workers: int | None = None
) -> tuple[Any, Any, Any]:
    """(loaded run, the config to record, executor); the executor is closed again if loading fails."""
    from wcatsim.experiments.montecarlo import make_executor

    ex = make_executor(executor, scheduler, workers)
    try:
        run, cfg = exp.load(device)
    except BaseException:
        ex.close()
        raise
    return run, cfg, ex


def subset_note(eval_images: int | None, quiet: bool) -> None:
    """Say, before the table (also with --quiet), that the CIs are over realisations on the subset."""
    if eval_images:
        click.echo(f"test images: a fixed class-stratified subset of {eval_images} (recorded in the "
                   "sidecar); CIs are over fault realisations on that subset")


# (column, width, format spec) of the printed table
_FORMATS = {
    "random_flip": [("ber", 8, "g"), ("flip_rate", 9, ".3e"), ("realisations", 5, "d"),
                    ("acc_mean", 7, ".2f"), ("acc_std", 6, ".2f"), ("ci_low", 7, ".2f"),
                    ("ci_high", 7, ".2f"), ("acc_p05", 7, ".2f"), ("collapsed_share", 6, ".2f"),
                    ("acc_min", 7, ".2f"), ("acc_max", 7, ".2f"),
                    ("bits_changed_mean", 9, ".1f"), ("clean_acc", 7, ".2f")],
    "sweep_voltage": [("voltage", 7, ".3f"), ("ber", 9, ".2e"), ("flip_rate", 9, ".2e"),
                      ("bits_changed_mean", 9, ".1f"), ("energy_norm", 7, ".3f"),
                      ("energy_per_inference_pj", 10, ".4g"), ("leakage_share", 6, ".3f"),
                      ("realisations", 5, "d"), ("acc_mean", 7, ".2f"), ("acc_std", 6, ".2f"),
                      ("ci_low", 7, ".2f"), ("ci_high", 7, ".2f"), ("acc_p05", 7, ".2f"),
                      ("collapsed_share", 6, ".2f"), ("clean_acc", 7, ".2f")],
}
# h7: with a protection scheme on, words per realisation corrected / flagged (zeroed) / silently wrong
_ECC_FORMATS = [("ecc_corrected_mean", 8, ".2f"), ("ecc_detected_mean", 8, ".2f"),
                ("ecc_miscorrected_mean", 8, ".2f")]
_FORMATS |= {f"{kind}_ecc": [*formats, *_ECC_FORMATS] for kind, formats in list(_FORMATS.items())}
# issue 20: with the activation buffer (--target activations/both), its BER (and, in a voltage sweep, its
# supply and the two memories' shares of E_norm)
_ACT_FORMATS = {"random_flip": [("act_ber", 8, "g")],
                "sweep_voltage": [("act_voltage", 7, ".3f"), ("act_ber", 9, ".2e"),
                                  ("weights_energy_norm", 7, ".3f"), ("act_energy_norm", 7, ".3f")]}
_FORMATS |= {f"{kind}_act": [*formats, *_ACT_FORMATS[kind.removesuffix("_ecc")]]
             for kind, formats in list(_FORMATS.items())}
_HEADERS = {"realisations": "n", "bits_changed_mean": "bits_chg", "energy_per_inference_pj": "E_pJ",
            "energy_norm": "E_norm", "acc_mean": "mean", "acc_std": "std", "acc_min": "min", "acc_max": "max",
            "clean_acc": "clean", "leakage_share": "leak", "acc_p05": "p05", "collapsed_share": "coll"}
_HEADERS |= {"ecc_corrected_mean": "ecc_corr", "ecc_detected_mean": "ecc_det",
             "ecc_miscorrected_mean": "ecc_mis"}
_HEADERS |= {"act_voltage": "act_V", "act_ber": "act_ber", "weights_energy_norm": "E_w",
             "act_energy_norm": "E_act"}


def format_row(kind: str, row: dict[str, Any]) -> str:
    """One table line (accuracies in percent; '-' where a value is absent)."""
    cells = []
    for name, width, spec in _FORMATS[kind]:
        value = row.get(name)
        try:
            cells.append(format(value, f">{width}{spec}"))
        except (TypeError, ValueError):
            cells.append(f"{'-' if value is None else value:>{width}}")
    return " ".join(cells)


def format_header(kind: str) -> str:
    return " ".join(f"{_HEADERS.get(name, name):>{width}}" for name, width, _ in _FORMATS[kind])


def row_printer(kind: str, quiet: bool) -> Callable[[dict[str, Any], bool], None]:
    """The callback that prints the table as points finish (resumed points marked)."""
    printed = []

    def on_row(row: dict[str, Any], resumed: bool) -> None:
        if quiet:
            return
        from tqdm.auto import tqdm

        if not printed:
            name = f"{kind}_ecc" if "ecc_detected_mean" in row else kind
            printed.append(f"{name}_act" if "act_ber" in row else name)
            tqdm.write(format_header(printed[0]))
        tqdm.write(format_row(printed[0], row) + ("  (resumed)" if resumed else ""))

    return on_row


def finish(kind: str, run: Any, rows: list[dict[str, Any]], table: Path, figure: Path | None,
           voltage_unit: str = "V") -> None:  # fmt: skip
    """Say where the table is; draw the figure if asked."""
    click.echo(f"table: {table}")
    if figure is not None:
        from wcatsim.analysis.plots.faults import plot_accuracy_vs_ber, plot_voltage_sweep

        label = f"{run.config.quant.method}{run.config.quant.bits}"
        if kind == "random_flip":
            paths = plot_accuracy_vs_ber({label: rows}, figure)
        else:
            paths = plot_voltage_sweep({label: rows}, figure, voltage_unit=voltage_unit)
        click.echo("figure: " + ", ".join(str(p) for p in paths))


@click.command("random-flip", cls=Command)
@experiment_options
@click.option("--ber", "ber_text", default=None, metavar="LIST",
              help="Comma list of bit error rates: the probability that a stored bit reads wrong, for "
              "every --fault (stuck-at models make 2 x ber of the cells faulty, so ber <= 0.5) "
              "(default: attack.random_flip.bers, the paper's list 0,1e-4,4e-4,8e-4,1e-3,2e-3,4e-3,"
              "6e-3,8e-3,1e-2).")
@click.option("--samples", type=COUNT, default=None,
              help="Realisations per BER, fixed-count protocol "
              "(default: attack.random_flip.samples, the paper's 50).")
@click.option("--ci-half-width", type=FiniteFloat(low=0.0), default=None,
              help="Adaptive (Stein's two-stage rule): after a pilot of --min-samples realisations, draw "
              "as many more as the pilot's spread needs for a 95% CI half-width of this many accuracy "
              "points (0 = fixed count; default: attack.random_flip.ci_half_width, 0).")
@click.option("--min-samples", type=COUNT, default=None,
              help="Adaptive: the pilot, never fewer realisations (default: attack.random_flip.min_samples, "
              "50, the paper's count: a "
              "smaller pilot misses rare collapses more often than the fixed protocol).")
@click.option("--max-samples", type=COUNT, default=None,
              help="Adaptive: never draw more than this many (default: attack.random_flip.max_samples, 200; "
              "a capped point's CI stays "
              "wider than asked).")
@click.option("--fault", default=None,
              help="Fault model of sram_models (default: attack.random_flip.fault, transient).")
@click.option("--images", type=IMAGES, default=None, metavar="N|all|auto",
              help="Nested Monte Carlo: each realisation on a fresh, seeded, class-stratified subset of N "
              "test images, unbiased for the whole-set mean; acc_std_between and images_per_realisation "
              "record the design; all = the whole test set; auto = images and realisations chosen from a "
              "20-realisation pilot to reach --ci-half-width (0.5 without it) at the least measured cost, "
              "the default when --ci-half-width is given (docs/montecarlo.md) (default: "
              "attack.random_flip.images, 0 = the whole test set).")
@click.option("--protocol", default=None, metavar="paper",
              help="paper: the paper's protocol exactly, 50 realisations per BER on the whole test set "
              "(refuses --samples, --ci-half-width and --images).")
@click.option("--protect-msb", type=FiniteFloat(0.0, 1.0), default=None,
              help="Fraction of the weights whose sign bit is held in hardened cells (0..1; default: "
              "attack.random_flip.protect_msb, 0).")
@activation_options("random-flip")
@fault_run_options
@handles_errors
def random_flip(
    configs: tuple[Path, ...], overrides: tuple[str, ...], run_dir: Path | None, device: str,
    ber_text: str | None, samples: int | None, ci_half_width: float | None, min_samples: int | None,
    max_samples: int | None, images: int | str | None, protocol: str | None, fault: str | None,
    protect_msb: float | None, target: str | None, act_bits: int | None, act_word_bits: int | None,
    act_protect: str | None, act_fault: str | None, calibration_images: int | None, act_ber: float | None,
    word_bits: int | None,
    ecc: str | None, protect: str | None, layers: str | None, seed: int | None, executor: str,
    workers: int | None, scheduler: str | None, out: Path | None, plot: str | None, per_realisation: bool,
    batch_size: int | None, tensorboard: Path | None, eval_images: int | None, quiet: bool,
    allow_degenerate: bool,
) -> None:
    """Accuracy under random bit flips of the stored integer weights, one CSV row per BER.

    Each BER gets --samples realisations (or adaptive stopping with --ci-half-width); realisation i at
    BER p uses the seed (seed, p, i), so two models run with the same seed see the same faults.
    Writes random_flip.csv (and random_flip.json: settings, config, versions) into the run directory;
    a killed run resumes without recomputing finished BERs, and a run with other settings keeps the
    earlier table as random_flip.<created>.<fingerprint>.csv.  --target activations or both puts the
    quantized layers' inputs (8 bits) in a faulty global buffer read at each BER (--act-ber for both).

        wcatsim random-flip -c configs/quantization/4bit_wcat.toml --ber 0,1e-3,1e-2,3e-2 --plot
    """
    from wcatsim.experiments.sweeps.sweep import check_bers
    from wcatsim.store.atomic import exclusive
    from wcatsim.store.files import target_family
    from wcatsim.train.health import check_run

    # Every option is checked before anything is loaded or written.
    bers = parse_float_list(ber_text, "--ber") if ber_text is not None else None
    if bers is not None:
        bers = check_bers(bers)
    if given("samples") and given("ci_half_width") and ci_half_width:
        fail("--samples fixes the count and --ci-half-width stops adaptively: give one of them "
             "(--min-samples/--max-samples bound the adaptive count)")  # fmt: skip
    if given("samples") and images == "auto":
        fail("--samples fixes the count and --images auto chooses it from a pilot: give one of them")
    exp = Experiment(configs, overrides, run_dir)
    rf = exp.attack_defaults().random_flip
    ci = rf.ci_half_width if ci_half_width is None else ci_half_width
    if given("samples") and not given("ci_half_width"):
        ci = 0.0  # a count on the command line is the fixed protocol, whatever a layer's ci_half_width
    if not ci and (given("min_samples") or given("max_samples")):
        fail("--min-samples/--max-samples bound adaptive stopping, which is off: add --ci-half-width "
             "(e.g. 0.5), or give the fixed count with --samples")  # fmt: skip
    bers = bers if bers is not None else list(rf.bers)
    msb = rf.protect_msb if protect_msb is None else protect_msb
    scheme = protection_choice(ecc, protect, rf, msb)
    rf = merge_flags(
        "random-flip", rf, samples=samples, ci_half_width=ci, min_samples=min_samples,
        max_samples=max_samples, fault=fault, protect_msb=msb, word_bits=word_bits, seed=seed, protect=scheme,
        images=images,
    )  # fmt: skip
    act = activation_spec(
        "random-flip", exp, target=target, bits=act_bits, word_bits=act_word_bits, protect=act_protect,
        fault=act_fault, calibration_images=calibration_images, ber=act_ber,
    )  # fmt: skip
    table, figure = prepare_outputs(target_family("random_flip", act.target), exp, out, plot)
    subset_note(eval_images, quiet)
    with exclusive(table), log_lines(quiet):
        from wcatsim.experiments.sweeps.sweep import random_flip_sweep

        run, cfg, ex = open_run(exp, device, executor, scheduler, workers)
        try:
            check_run(run, allow_degenerate)
            rows = random_flip_sweep(
                run, bers, fault=rf.fault, protect_msb=rf.protect_msb,
                memory=rf.memory_spec(
                    layers=layers.split(",") if layers else None, eval_images=eval_images or 0
                ),
                montecarlo=rf.montecarlo_spec(executor=ex), images=rf.images or None, protocol=protocol,
                out=table, per_realisation=per_realisation, progress=not quiet,
                on_row=row_printer("random_flip", quiet), batch_size=batch_size, device=device, config=cfg,
                tensorboard=tensorboard,
                activations=act,
            )  # fmt: skip
        finally:
            ex.close()
    finish("random_flip", run, rows, table, figure)
