"""``wcatsim bfa``: the Bit-Flip Attack (progressive bit search) on a trained run."""

from __future__ import annotations

from pathlib import Path

import click

from cli._common import experiment_options, handles_errors, resolve_run_dir


@click.command("bfa")
@experiment_options
@click.option("--trials", type=int, default=None,
              help="Attack trials, each with its own seeded attack batch [attack.bfa.trials, 5].")
@click.option("--k-top", type=int, default=None,
              help="Weights per layer kept by |gradient| [attack.bfa.k_top, 100].")
@click.option("--max-flips", type=int, default=None,
              help="Flip budget per trial [attack.bfa.max_flips, 500].")
@click.option("--max-iterations", type=int, default=None,
              help="Iteration budget per trial [attack.bfa.max_iterations, 500].")
@click.option("--attack-batch", type=int, default=None,
              help="Images in the attack batch, from the validation split [attack.bfa.attack_batch, 64].")
@click.option("--eval-subset", type=int, default=None,
              help="Test images for the per-iteration accuracy; 0 = all. The stop decision and the final "
              "accuracy always use the whole test set [attack.bfa.eval_subset, 0].")
@click.option("--eval-images", type=int, default=None, metavar="K",
              help="Use a fixed, class-stratified, seeded subset of K test images as the test set: the stop "
              "decision and final accuracy use it, --eval-subset samples within it (recorded in the "
              "summary).")
@click.option("--threshold", type=float, default=None,
              help="Stop accuracy in percent; < 0 = most-frequent-class rate + 1/C [attack.bfa.threshold].")
@click.option("--seed", type=int, default=None, help="Base seed of the attack batches [attack.bfa.seed, 0].")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw accuracy against flips (every trial; with --compare both runs) to this PNG (+ PDF).")
@click.option("--compare", nargs=2, type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="RUN_A RUN_B", help="Overlay two runs' saved attack curves (no attack); needs --plot.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@handles_errors
def bfa(
    configs: tuple[Path, ...],
    overrides: tuple[str, ...],
    run_dir: Path | None,
    device: str,
    trials: int | None,
    k_top: int | None,
    max_flips: int | None,
    max_iterations: int | None,
    attack_batch: int | None,
    eval_subset: int | None,
    eval_images: int | None,
    threshold: float | None,
    seed: int | None,
    plot_path: Path | None,
    compare: tuple[Path, Path] | None,
    no_progress: bool,
) -> None:
    """The Bit-Flip Attack (Rakin et al., ICCV 2019): how many chosen bit flips break the model.

    Flips bits of the integer weight image by progressive bit search until the test accuracy falls to
    the stop threshold (or a budget runs out), repeats it for --trials attack batches, and flips as many
    random bits as a baseline.  Writes bfa_flips.csv and bfa_summary.json into the run directory.
    """
    from sram_models.errors import InputError

    if compare is not None:
        if plot_path is None:
            raise InputError("--compare draws a figure: add --plot FILE.png")
        from wcatsim.plots.bfa import plot_bfa_compare

        written = plot_bfa_compare(compare[0], compare[1], plot_path)
        click.echo(f"plot: {', '.join(str(p) for p in written)}")
        return

    from cli.random_flip import data_reading
    from wcatsim.attacks.bfa import format_summary, run_bfa
    from wcatsim.config import load_config
    from wcatsim.runs import load_run

    target = resolve_run_dir(configs, overrides, run_dir)
    layers = load_config(configs, overrides)
    attack = layers.attack.bfa  # the attack settings of these layers, not the run's
    run = load_run(target, device=device, **data_reading(layers))

    def pick(flag, value):
        return value if flag is None else flag

    result = run_bfa(
        run,
        trials=pick(trials, attack.trials),
        seed=pick(seed, attack.seed),
        k_top=pick(k_top, attack.k_top),
        max_flips=pick(max_flips, attack.max_flips),
        max_iterations=pick(max_iterations, attack.max_iterations),
        attack_batch=pick(attack_batch, attack.attack_batch),
        eval_subset=pick(eval_subset, attack.eval_subset),
        threshold=pick(threshold, attack.threshold),
        eval_images=eval_images or 0,
        progress=not no_progress,
        log=None if not no_progress else (lambda message: click.echo(message, err=True)),
    )
    click.echo(format_summary(result.summary))
    if result.summary.get("eval_images"):
        k = result.summary["eval_images"]["images"]
        click.echo(f"  test set: a fixed class-stratified subset of {k} test images (--eval-images; recorded "
                   "in the summary)")
    click.echo(f"wrote {result.flips_path} and {result.summary_path}")
    if plot_path is not None:
        from wcatsim.plots.bfa import plot_bfa_trials

        written = plot_bfa_trials(run.dir, plot_path)
        click.echo(f"plot: {', '.join(str(p) for p in written)}")
