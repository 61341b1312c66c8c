"""``wcatsim eval``: clean test accuracy and the per-layer quantization of a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wcatsim.cli._common import Command, Experiment, experiment_options, fail, handles_errors, quiet_option

_BLOCKS = " ▁▂▃▄▅▆▇█"


@click.command("eval", cls=Command)
@click.argument("run_path", required=False, type=click.Path(file_okay=False, path_type=Path))
@experiment_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@quiet_option
@handles_errors
def eval_cmd(
    run_path: Path | None,
    configs: tuple[Path, ...],
    overrides: tuple[str, ...],
    run_dir: Path | None,
    device: str,
    as_json: bool,
    quiet: bool,
) -> None:
    """Clean test accuracy (percent) and, per quantized layer, range, step, clipped share and code histogram.

    RUN_PATH is a run directory; without it the run is the one the -c/--set options (or --run) name.
    With a run named, --set may change data.root only (the run fixes the model).
    """
    import json

    if run_path is not None and run_dir is not None and Path(run_path) != Path(run_dir):
        fail(f"RUN_DIR {run_path} and --run {run_dir} name two runs: give one")
    explicit = run_path if run_path is not None else run_dir
    exp = Experiment(configs, overrides, explicit, option="RUN_DIR" if run_path is not None else "--run")
    report = evaluate_run(exp.dir, device, data_root=exp.data_root)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(format_report(report))


def evaluate_run(run_dir: Path, device: str, data_root: str | None = None) -> dict[str, Any]:
    """Accuracy and per-layer statistics of the run's best checkpoint, as a JSON-ready dict."""
    from wcatsim.train.evaluate import accuracy_on
    from wcatsim.train.quant import layer_stats
    from wcatsim.train.runs import load_run

    run = load_run(run_dir, device=device, data_root=data_root)
    images = run.data.eval_images("test")  # in memory or streamed, as data.stream and the size decide
    acc = float(accuracy_on(run.model, images, device=run.device))
    quant = run.config.quant
    return {
        "run_dir": str(run_dir),
        "model": run.config.model.name,
        "dataset": run.config.data.name,
        "quantizer": quant.method,
        "bits": quant.bits if quant.method != "float" else None,
        "test_accuracy": round(acc, 4),
        "test_images": images.n_images,
        "test_data": images.description,
        "layers": layer_stats(run.model),
    }


def format_report(report: dict[str, Any]) -> str:
    """The human-readable table of :func:`evaluate_run`'s dict."""
    quant = "float" if report["quantizer"] == "float" else f"{report['bits']}-bit {report['quantizer']}"
    lines = [
        f"run: {report['run_dir']}",
        f"{report['model']} on {report['dataset']}, {quant}: test accuracy {report['test_accuracy']:.2f}% "
        f"({report['test_images']} images)",
    ]
    layers = report["layers"]
    if not layers:
        lines.append("no quantized layers (float model)")
        return "\n".join(lines)
    width = max(5, *(len(name) for name in layers))
    lines.append("")
    lines.append(
        f"{'layer':<{width}}  {'weights':>7}  {'range':>8}  {'step':>9}  {'max|w|':>8}  {'clipped':>7}  "
        "integer codes (histogram, lowest code first)"
    )
    for name, s in layers.items():
        hist = s["code_histogram"]
        code_max = s["code_min"] + len(hist) - 1
        lines.append(
            f"{name:<{width}}  {s['numel']:>7}  {s['range']:>8.4f}  {s['step']:>9.5f}  "
            f"{s['max_abs_weight']:>8.4f}  "
            f"{100 * s['clipped_fraction']:>6.2f}%  {s['code_min']:>4} {sparkline(hist)} {code_max}"
        )
    lines.append("")
    lines.append(
        "range: clipping range in use (step * 2^(N-1)); clipped: share of weights with |w| > range; "
        "histograms of more than 32 codes are shown in 32 groups (--json has every count)"
    )
    return "\n".join(lines)


def sparkline(counts: list[int], max_width: int = 32) -> str:
    """Counts as block characters (height relative to the largest); grouped to at most ``max_width``."""
    if len(counts) > max_width:
        group = -(-len(counts) // max_width)
        counts = [sum(counts[i : i + group]) for i in range(0, len(counts), group)]
    top = max(counts) if counts else 0
    if top == 0:
        return _BLOCKS[0] * len(counts)
    # any non-zero count shows at least the lowest block, so rare codes stay visible
    return "".join(_BLOCKS[0] if c == 0 else _BLOCKS[max(1, round(8 * c / top))] for c in counts)
