"""``wcatsim random-flip``: accuracy under random bit errors in the stored weights, over a list of BERs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cli._common import experiment_options, handles_errors, parse_float_list, resolve_run_dir

F = TypeVar("F", bound=Callable[..., Any])


def fault_run_options(func: F) -> F:
    """Options shared by random-flip and sweep-voltage (memory layout, seeds, executor, output)."""
    options = [
        click.option("--word-bits", type=int, default=None,
                     help="SRAM word width the weights are packed into (default from the config: 64)."),
        click.option("--ecc", type=click.Choice(["none", "secded"]), default=None,
                     help="Error-correcting code per word: SECDED corrects one error and detects two."),
        click.option("--layers", default=None, metavar="NAMES",
                     help="Comma list of layers held in the faulty memory (default: every quantized layer)."),
        click.option("--seed", type=int, default=None,
                     help="Base seed of the fault draws (same seed, same faults for every model)."),
        click.option("--executor", type=click.Choice(["local", "processes", "dask"]), default="local",
                     show_default=True,
                     help="Where realisations run: this process; local worker processes, one core each "
                     "(faster for ResNet-sized models); or a Dask cluster (optional extra, --scheduler)."),
        click.option("--workers", type=int, default=None,
                     help="Worker processes for --executor processes (default: every core)."),
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Dask scheduler address for --executor dask, e.g. tcp://10.0.0.5:8786."),
        click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write the table here instead of into the run directory."),
        click.option("--plot", is_flag=True, help="Also draw the figure (PNG and PDF beside the table)."),
        click.option("--per-realisation", is_flag=True,
                     help="Also write one row per realisation (NAME_realisations.csv)."),
        click.option("--batch-size", type=int, default=None,
                     help="Images per evaluation batch (default: the fastest setting for the device)."),
        click.option("--eval-images", type=int, default=None, metavar="K",
                     help="Evaluate on a fixed, class-stratified, seeded subset of K test images (recorded "
                     "in the sidecar; the CIs are then over realisations on that subset)."),
        click.option("--quiet", is_flag=True, help="No progress bar and no table while running."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def open_run(
    configs: tuple[Path, ...], overrides: tuple[str, ...], run_dir: Path | None, device: str,
    executor: str, scheduler: str | None, section: str, workers: int | None = None,
) -> tuple[Any, Any, Any, Any]:
    """(loaded run, config, its attack section, executor): -c/--set layers win over the run's saved config."""
    from wcatsim.config import load_config
    from wcatsim.montecarlo import make_executor
    from wcatsim.runs import load_run

    target = resolve_run_dir(configs, overrides, run_dir)
    cfg = load_config(configs, overrides) if (configs or overrides or run_dir is None) else None
    ex = make_executor(executor, scheduler, workers)
    try:
        run = load_run(target, device=device, **data_reading(cfg))
    except BaseException:
        ex.close()
        raise
    cfg = cfg or run.config
    return run, cfg, getattr(cfg.attack, section), ex


def data_reading(cfg: Any) -> dict[str, Any]:
    """``data.stream`` / ``data.workers`` of the command's own layers, where they set them: how the run's
    data is read (in memory or streamed), which never changes a number."""
    if cfg is None:
        return {}
    from wcatsim.config import DataConfig

    out: dict[str, Any] = {}
    if cfg.data.stream != DataConfig.stream:
        out["stream"] = cfg.data.stream
    if cfg.data.workers != DataConfig.workers:
        out["workers"] = cfg.data.workers
    return out


def subset_note(eval_images: int | None, quiet: bool) -> None:
    """Say, before the table (also with --quiet), that the CIs are over realisations on the subset."""
    if eval_images:
        click.echo(f"test images: a fixed class-stratified subset of {eval_images} (recorded in the "
                   "sidecar); CIs are over fault realisations on that subset")


# (column, width, format spec) of the printed table
_FORMATS = {
    "random_flip": [("ber", 8, "g"), ("realisations", 5, "d"), ("acc_mean", 7, ".2f"), ("acc_std", 6, ".2f"),
                    ("ci_low", 7, ".2f"), ("ci_high", 7, ".2f"), ("acc_min", 7, ".2f"), ("acc_max", 7, ".2f"),
                    ("bits_changed_mean", 9, ".1f"), ("clean_acc", 7, ".2f")],
    "sweep_voltage": [("voltage", 7, ".3f"), ("ber", 9, ".2e"), ("bits_changed_mean", 9, ".1f"),
                      ("energy_norm", 7, ".3f"), ("energy_per_inference_pj", 10, ".4g"),
                      ("realisations", 5, "d"), ("acc_mean", 7, ".2f"), ("acc_std", 6, ".2f"),
                      ("ci_low", 7, ".2f"), ("ci_high", 7, ".2f"), ("clean_acc", 7, ".2f")],
}
_HEADERS = {"realisations": "n", "bits_changed_mean": "bits_chg", "energy_per_inference_pj": "E_pJ",
            "energy_norm": "E_norm", "acc_mean": "mean", "acc_std": "std", "acc_min": "min", "acc_max": "max",
            "clean_acc": "clean"}


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
            tqdm.write(format_header(kind))
            printed.append(True)
        tqdm.write(format_row(kind, row) + ("  (resumed)" if resumed else ""))

    return on_row


def finish(
    kind: str, run: Any, rows: list[dict[str, Any]], out: Path | None, plot: bool, voltage_unit: str = "V"
) -> None:
    """Say where the table is; draw the figure if asked."""
    from wcatsim.sweeps import RANDOM_FLIP_FILE, SWEEP_VOLTAGE_FILE

    table = out or Path(run.dir) / (RANDOM_FLIP_FILE if kind == "random_flip" else SWEEP_VOLTAGE_FILE)
    click.echo(f"table: {table}")
    if plot:
        from wcatsim.plots.faults import plot_accuracy_vs_ber, plot_voltage_sweep

        label = f"{run.config.quant.method}{run.config.quant.bits}"
        if kind == "random_flip":
            paths = plot_accuracy_vs_ber({label: rows}, table.with_suffix(".png"))
        else:
            paths = plot_voltage_sweep({label: rows}, table.with_suffix(".png"), voltage_unit=voltage_unit)
        click.echo("figure: " + ", ".join(str(p) for p in paths))


@click.command("random-flip")
@experiment_options
@click.option("--ber", "ber_text", default=None, metavar="LIST",
              help="Comma list of bit error rates (default: attack.random_flip.bers, the paper's list "
              "0,1e-4,4e-4,8e-4,1e-3,2e-3,4e-3,6e-3,8e-3,1e-2).")
@click.option("--samples", type=int, default=None,
              help="Realisations per BER, fixed-count protocol "
              "(default: attack.random_flip.samples, the paper's 50).")
@click.option("--ci-half-width", type=float, default=None,
              help="Adaptive stopping: draw realisations until the 95% CI half-width of the mean "
              "accuracy is "
              "at most this many points (0 = fixed count).")
@click.option("--min-samples", type=int, default=None,
              help="Adaptive: never stop before this many realisations.")
@click.option("--max-samples", type=int, default=None, help="Adaptive: never draw more than this many.")
@click.option("--fault", default=None,
              help="Fault model of sram_models (default: attack.random_flip.fault, transient).")
@click.option("--protect-msb", type=float, default=None,
              help="Fraction of the weights whose sign bit is held in hardened cells (0..1).")
@fault_run_options
@handles_errors
def random_flip(
    configs: tuple[Path, ...], overrides: tuple[str, ...], run_dir: Path | None, device: str,
    ber_text: str | None, samples: int | None, ci_half_width: float | None, min_samples: int | None,
    max_samples: int | None, fault: str | None, protect_msb: float | None, word_bits: int | None,
    ecc: str, layers: str | None, seed: int | None, executor: str, workers: int | None,
    scheduler: str | None, out: Path | None, plot: bool, per_realisation: bool,
    batch_size: int | None, eval_images: int | None, quiet: bool,
) -> None:
    """Accuracy under random bit flips of the stored integer weights, one CSV row per BER.

    Each BER gets --samples realisations (or adaptive stopping with --ci-half-width); realisation i at
    BER p uses the seed (seed, p, i), so two models run with the same seed see the same faults.
    Writes random_flip.csv (and random_flip.json: settings, config, versions) into the run directory;
    a killed run resumes without recomputing finished BERs.

        wcatsim random-flip -c configs/quantization/4bit_wcat.toml --ber 0,1e-3,1e-2,3e-2 --plot
    """
    from wcatsim.sweeps import random_flip_sweep

    run, cfg, rf, ex = open_run(
        configs, overrides, run_dir, device, executor, scheduler, "random_flip", workers
    )
    ecc = ecc or "none"
    bers = parse_float_list(ber_text, "--ber") if ber_text is not None else list(rf.bers)
    printer = row_printer("random_flip", quiet)
    subset_note(eval_images, quiet)
    try:
        rows = random_flip_sweep(
            run, bers,
            samples=rf.samples if samples is None else samples,
            ci_half_width=rf.ci_half_width if ci_half_width is None else ci_half_width,
            min_samples=rf.min_samples if min_samples is None else min_samples,
            max_samples=rf.max_samples if max_samples is None else max_samples,
            fault=rf.fault if fault is None else fault,
            protect_msb=rf.protect_msb if protect_msb is None else protect_msb,
            word_bits=rf.word_bits if word_bits is None else word_bits,
            ecc=ecc, layers=layers.split(",") if layers else None,
            seed=rf.seed if seed is None else seed,
            executor=ex, out=out, per_realisation=per_realisation, progress=not quiet,
            on_row=printer, batch_size=batch_size, device=device, config=cfg, eval_images=eval_images or 0,
        )  # fmt: skip
    finally:
        ex.close()
    finish("random_flip", run, rows, out, plot)
