"""``wcatsim quantize``: post-training quantization of pretrained weights into a run directory."""

from __future__ import annotations

from pathlib import Path

import click

from wcatsim.cli._common import (
    NON_NEGATIVE,
    Command,
    handles_errors,
    quiet_option,
    removes_empty_dirs_on_failure,
)


@click.command("quantize", cls=Command)
@click.option("-c", "--config", "configs", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="TOML config layer (model, data, quantization), as for train; repeatable.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one config value, e.g. --set model.name=resnet20 (repeatable).")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Pretrained float state dict (.safetensors, or a torch file read with weights_only=True); "
              "same as --set model.weights=FILE.")
@click.option("--calibration-images", type=NON_NEGATIVE, default=0, show_default=True, metavar="N",
              help="Re-estimate batch-norm statistics with the quantized weights on N training images "
              "(0 = keep the file's). The quantization ranges come from the weights alone either way.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory to write (default: runs/<name-hash>, as train names it).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where to run torch: auto takes a GPU when there is one.")
@click.option("--allow-degenerate", is_flag=True,
              help="Accept a quantized model at chance accuracy (exit 0 instead of 2).")
@quiet_option
@handles_errors
def quantize(
    configs: tuple[Path, ...], overrides: tuple[str, ...], weights: Path | None, calibration_images: int,
    out_dir: Path | None, device: str, allow_degenerate: bool, quiet: bool,
) -> None:
    """Quantize a pretrained network (no training) into a run directory that eval, random-flip,
    sweep-voltage, bfa and pareto accept.

    \b
        wcatsim quantize -c configs/quantization/4bit_maxabs.toml --set model.name=resnet18 \\
            --set data.name=imagefolder --set data.root=/data/imagenet --weights resnet18.safetensors \\
            --out runs/resnet18-ptq4

    The ranges are initialised from the weights (quant.range_init); --calibration-images only
    re-estimates batch-norm statistics.
    """
    from wcatsim.cli.train import _toml_string
    from wcatsim.config import load_config
    from wcatsim.train.posttraining import quantize_pretrained

    if weights is not None:
        overrides = (*overrides, f"model.weights={_toml_string(str(weights))}")
    from wcatsim.store.files import check_writable
    from wcatsim.store.runs import run_dir_for

    cfg = load_config(configs, overrides)
    target = out_dir or run_dir_for(cfg)
    check_writable(target, "--out" if out_dir else "the run directory", folder=True)
    with removes_empty_dirs_on_failure(target):  # a failed quantization leaves no empty directory behind
        result = quantize_pretrained(
            cfg, target, calibration_images=calibration_images, device=device,
            allow_degenerate=allow_degenerate,
        )
    if not quiet:
        calibration = (
            f"batch norm re-estimated in {result.calibrated_layers} layers on {calibration_images} images"
            if calibration_images else "batch-norm statistics of the file kept"
        )
        click.echo(f"test accuracy {result.test_accuracy:.2f}% on {result.test_images} images "
                   f"(chance {result.chance:.2f}%); {calibration}; {result.seconds:.1f} s")
    click.echo(f"run directory: {result.run_dir}")
