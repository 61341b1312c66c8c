"""``wcatsim train``: train a quantized (or float) model into its run directory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from cli._common import (
    Command,
    FiniteFloat,
    experiment_options,
    handles_errors,
    log_lines,
    quiet_option,
    removes_empty_dirs_on_failure,
    setting_option,
    tensorboard_option,
)


@click.command("train", cls=Command)
@experiment_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Train into this directory instead of runs/<name-hash> (same as --run).",
)
@click.option(
    "--init-from",
    "init_from",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Start from the weights of this checkpoint (same architecture, e.g. a float run's checkpoint.pt); "
    "quantization ranges are initialised afresh from them.",
)
@click.option(
    "--weights",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Pretrained float state dict (.safetensors, or a torch file read with weights_only=True) loaded "
    "before quantization; same as --set model.weights=FILE.",
)
@click.option("--fresh", is_flag=True, help="Start over even if the run directory holds a resumable run.")
@tensorboard_option
@setting_option("--clustering", "trainer.clustering", type=FiniteFloat(low=0.0), metavar="LAMBDA")
@quiet_option
@handles_errors
def train(
    configs: tuple[Path, ...],
    overrides: tuple[str, ...],
    run_dir: Path | None,
    device: str,
    out_dir: Path | None,
    init_from: Path | None,
    weights: Path | None,
    fresh: bool,
    tensorboard: Path | None,
    clustering: float | None,
    quiet: bool,
) -> None:
    """Train the model the config layers describe (default: a 4-bit WCAT small CNN on the embedded digits).

    Layers compose in order, later ones overriding earlier ones, then --set:

        wcatsim train -c configs/resnet20_cifar10.toml -c configs/quantization/4bit_wcat.toml \
            --set trainer.epochs=5

    The run directory (printed at the end) holds config.toml, train.log, metrics.csv, checkpoint.pt (best
    validation accuracy), last.pt and summary.json. Rerunning an interrupted run resumes from last.pt.
    """
    from wcatsim.config import load_config
    from wcatsim.store.runs import run_dir_for
    from wcatsim.train.trainer import train as run_training

    if init_from is not None:
        overrides = (*overrides, f"trainer.init_from={_toml_string(str(init_from))}")
    if weights is not None:
        overrides = (*overrides, f"model.weights={_toml_string(str(weights))}")
    if clustering is not None:  # the flag on top of the layers and --set, as every setting flag
        overrides = (*overrides, f"trainer.clustering={float(clustering)!r}")
    from wcatsim.store.files import check_writable

    cfg = load_config(configs, overrides)
    target = out_dir or run_dir or run_dir_for(cfg)
    check_writable(target, "--out" if (out_dir or run_dir) else "the run directory", folder=True)
    with removes_empty_dirs_on_failure(target):  # a failed run leaves no empty directory behind
        check_images(cfg)  # a corrupt image is one line now, not a loader worker's traceback mid-run
        with _removes_new_run_files_on_bad_input(target), log_lines(quiet):
            result = run_training(cfg, out_dir=target, device=device, progress=not quiet, fresh=fresh,
                                  tensorboard=tensorboard)  # fmt: skip
    if result.epochs_run == 0:
        click.echo(f"{target}: already trained ({cfg.trainer.epochs} epochs); --fresh retrains it")
    elif result.resumed_from is not None:
        click.echo(f"resumed after epoch {result.resumed_from}")
    val = "-" if result.best_val_accuracy is None else f"{result.best_val_accuracy:.2f}%"
    click.echo(
        f"test accuracy {result.test_accuracy:.2f}% (best epoch {result.best_epoch}, val {val}; "
        f"{result.seconds:.1f} s)"
    )
    click.echo(f"run directory: {target}")


def check_images(cfg: Any) -> None:
    """Open every image of an image-folder dataset (header decoded) before training starts."""
    if cfg.data.name != "imagefolder":
        return
    from wcatsim.errors import InputError
    from wcatsim.train.datasets.imagefolder import check_image_files
    from wcatsim.train.runs import load_dataset_for

    data = load_dataset_for(cfg)
    if len(data.train) == 0:  # trainer would say so too, but without naming the folder
        raise InputError(
            f"{Path(cfg.data.root) / 'train'} holds no image: training needs train/<class>/*.jpg (a folder "
            "with only val/ can be evaluated or quantized, not trained on)"
        )
    check_image_files(data.train, data.val, data.test)


@contextlib.contextmanager
def _removes_new_run_files_on_bad_input(target: Path) -> Iterator[None]:
    """A run that fails on bad input (exit 2: an empty dataset, a bad file) before it trained anything leaves
    none of the files it began with (config.toml, train.log) in a run directory it created; a run stopped
    unhealthy (exit 3) keeps them, and its checkpoints, for inspection."""
    from wcatsim.errors import InputError
    from wcatsim.store.files import RUN_FILES

    before = {name for name in RUN_FILES if (target / name).exists()}
    try:
        yield
    except InputError:
        if not before:  # a new run: nothing of it was there before this call
            for name in RUN_FILES:
                (target / name).unlink(missing_ok=True)
        raise


def _toml_string(text: str) -> str:
    # --set values are TOML literals: quote the path so that it stays a string whatever it contains.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
