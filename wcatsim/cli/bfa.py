"""``wcatsim bfa``: the Bit-Flip Attack (progressive bit search) on a trained run."""

from __future__ import annotations

from pathlib import Path

import click

from wcatsim.cli._common import (
    COUNT,
    NON_NEGATIVE,
    Command,
    Experiment,
    FiniteFloat,
    experiment_options,
    handles_errors,
    merge_flags,
    plot_option,
    plot_target,
    quiet_option,
)


@click.command("bfa", cls=Command)
@experiment_options
@click.option("--trials", type=COUNT, default=None,
              help="Attack trials, each with its own seeded attack batch [attack.bfa.trials, 5].")
@click.option("--k-top", type=COUNT, default=None,
              help="Weights per layer kept by |gradient| [attack.bfa.k_top, 100].")
@click.option("--k-top-max", type=NON_NEGATIVE, default=None,
              help="Largest k_top the search widens to before it calls a stall (the trial censored "
              "there); 0 = every weight [attack.bfa.k_top_max, 0]. A cap for attacks whose own loss "
              "saturates, e.g. targeted with --defended-break.")
@click.option("--max-flips", type=COUNT, default=None,
              help="Flip budget per trial [attack.bfa.max_flips, 500].")
@click.option("--max-iterations", type=COUNT, default=None,
              help="Iteration budget per trial [attack.bfa.max_iterations, 500].")
@click.option("--attack-batch", type=COUNT, default=None,
              help="Images in the attack batch, from the validation split [attack.bfa.attack_batch, 64].")
@click.option("--eval-subset", type=NON_NEGATIVE, default=None,
              help="Test images for the per-iteration accuracy; 0 = all. The stop decision and the final "
              "accuracy always use the whole test set [attack.bfa.eval_subset, 0].")
@click.option("--eval-images", type=NON_NEGATIVE, default=None, metavar="K",
              help="Use a fixed, class-stratified, seeded subset of K test images as the test set: the stop "
              "decision and final accuracy use it, --eval-subset samples within it (recorded in the "
              "summary).")
@click.option("--threshold", type=FiniteFloat(high=100.0), default=None,
              help="Stop accuracy in percent; < 0 = most-frequent-class rate + 1/C [attack.bfa.threshold].")
@click.option("--seed", type=NON_NEGATIVE, default=None,
              help="Base seed of the attack batches [attack.bfa.seed, 0].")
@click.option("--to-original-threshold", is_flag=True,
              help="Go on past the break, within the same budgets, to the WCAT code's 100/C + 1/C where "
              "that is lower (flips_to_original_threshold; recorded in the summary). Default: stop at the "
              "break.")
@click.option("--objective", default="untargeted", show_default=True, metavar="NAME",
              help="What the attack maximises and when it has won, a name from the attack-objective "
              "registry: untargeted (Rakin et al., ICCV 2019: accuracy to the threshold) or targeted "
              "(T-BFA, Rakin et al., TPAMI 2021: the source images to --target-class).")
@click.option("--target-class", type=NON_NEGATIVE, default=None, metavar="T",
              help="--objective targeted: the class the attacked images are sent to (0..C-1).")
@click.option("--source-class", type=NON_NEGATIVE, default=None, metavar="S",
              help="--objective targeted: attack only the images of class S (1-to-1); without it every class "
              "but T (N-to-1).")
@click.option("--defence", default="none", show_default=True, metavar="NAME",
              help="A defence from the defence registry: none, or checksum (RADAR-style, Li et al., DATE "
              "2021: 3-bit signatures of keyed sums over secret groups of <= 16 weights, >= 256 groups per "
              "layer, flagged groups zeroed; price on the digits CNN: 5.4% extra bits per 4-bit weight bit, "
              "one add per weight + the signature reads = 10% of the weight reads' energy per inference "
              "(Horowitz ISSCC 2014 figures), < 1% time (RADAR's report)); checksum-reload (the same check, "
              "flagged groups rewritten from the golden off-chip copy instead of zeroed; + 40.8 pJ per "
              "reloaded bit, once per detection); or a protection scheme of the "
              "weight memory read as its policy says: secded (12.5% check bits per 64-bit word, corrects "
              "one flip a word), secded-zero (zeroes a word with a detected error), parity-zero (1.6%, "
              "zeroes a word of odd parity). The attacker is unaware of it; the summary records "
              "detected_flips, defended_acc per trial and the price on the model (docs/defences.md).")
@click.option("--defended-break", is_flag=True,
              help="With --defence: a trial breaks when the model as read through the defence breaks (the "
              "attacker still searches the stored bits, unaware of the defence, but goes on until the "
              "defended model fails): flips_to_break is the defended model's. Default: the undefended "
              "break, where the defence's detection is measured.")
@plot_option("Draw accuracy against flips (every trial; with --compare both runs) to FILE (PNG + PDF); "
             "without FILE: bfa.png in the run directory (bfa_compare.png here with --compare).")
@click.option("--compare", nargs=2, type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="RUN_A RUN_B", help="Overlay two runs' saved attack curves (no attack) in a figure.")
@click.option("--allow-degenerate", is_flag=True,
              help="Attack even a model at chance (clean accuracy within 2 points of the most frequent "
              "class's share) or one whose training stopped unhealthy.")
@quiet_option
@handles_errors
def bfa(
    configs: tuple[Path, ...],
    overrides: tuple[str, ...],
    run_dir: Path | None,
    device: str,
    trials: int | None,
    k_top: int | None,
    k_top_max: int | None,
    max_flips: int | None,
    max_iterations: int | None,
    attack_batch: int | None,
    eval_subset: int | None,
    eval_images: int | None,
    threshold: float | None,
    seed: int | None,
    to_original_threshold: bool,
    objective: str,
    target_class: int | None,
    source_class: int | None,
    defence: str,
    defended_break: bool,
    plot: str | None,
    compare: tuple[Path, Path] | None,
    allow_degenerate: bool,
    quiet: bool,
) -> None:
    """The Bit-Flip Attack (Rakin et al., ICCV 2019): how many chosen bit flips break the model.

    Flips bits of the integer weight image by progressive bit search until the test accuracy falls to
    the stop threshold (or a budget runs out), with --to-original-threshold on to the WCAT code's
    100/C + 1/C where that is lower (flips_to_original_threshold); repeats it for --trials attack
    batches, and flips as many random bits
    as a baseline.  Prints the Kaplan-Meier median of flips to break ("≥ k" where trials did not break)
    and the mean over broken trials.  Writes bfa_flips.csv and bfa_summary.json into the run directory
    (with --defence NAME: bfa_NAME_flips.csv and bfa_NAME_summary.json; with --objective targeted:
    bfa_targeted_flips.csv, bfa_targeted_NAME_summary.json, ...; each beside the others).

    --objective targeted --target-class T [--source-class S] runs T-BFA instead (Rakin et al., TPAMI
    2021): a trial "breaks" when >= 90% of the source test images are classified as T while the other
    test images lose at most 5 points of accuracy.  --defence checksum checks each attacked image with
    RADAR-style checksums (the attacker unaware of them).
    """
    from wcatsim.store.files import check_figure_path

    if compare is not None:
        from wcatsim.analysis.plots.bfa import load_bfa_results, plot_bfa_compare

        figure = plot_target(plot, Path("bfa_compare.png")) or Path("bfa_compare.png")
        check_figure_path(figure, None)
        for run in compare:
            load_bfa_results(run)  # a run without results fails here, before anything is drawn
        written = plot_bfa_compare(compare[0], compare[1], figure)
        click.echo(f"plot: {', '.join(str(p) for p in written)}")
        return

    from wcatsim.store.atomic import exclusive
    from wcatsim.store.files import OUTPUTS, bfa_family

    objective_options = _objective_options(objective, target_class, source_class)
    from wcatsim.experiments.attacks.defences import DEFENCES

    DEFENCES.get(defence)  # an unknown name: one line with the allowed ones

    exp = Experiment(configs, overrides, run_dir)
    exp.require_trained()
    attack = merge_flags(  # the attack settings of these layers (not the run's), the flags on top
        "bfa", exp.attack_defaults().bfa, trials=trials, seed=seed, k_top=k_top, k_top_max=k_top_max,
        max_flips=max_flips,
        max_iterations=max_iterations, attack_batch=attack_batch, eval_subset=eval_subset,
        threshold=threshold,
    )  # fmt: skip
    # an attack with another objective or against a defence keeps its own files (bfa_targeted_checksum_...)
    family = bfa_family(defence, objective)
    figure = plot_target(plot, exp.dir / OUTPUTS[family][2])
    if figure is not None:
        check_figure_path(figure, family)
    with exclusive(exp.dir / OUTPUTS[family][0]):
        from wcatsim.experiments.attacks.bfa import format_summary, run_bfa
        from wcatsim.train.progress import on_terminal

        run, _ = exp.load(device)
        from wcatsim.train.health import check_run

        check_run(run, allow_degenerate)

        bar = not quiet and on_terminal()
        result = run_bfa(
            run,
            trials=attack.trials,
            seed=attack.seed,
            k_top=attack.k_top,
            k_top_max=attack.k_top_max,
            max_flips=attack.max_flips,
            max_iterations=attack.max_iterations,
            attack_batch=attack.attack_batch,
            eval_subset=attack.eval_subset,
            threshold=attack.threshold,
            eval_images=eval_images or 0,
            to_original_threshold=to_original_threshold,
            objective=objective,
            objective_options=objective_options,
            defence=defence,
            defended_break=defended_break,
            progress=bar,
            # off a terminal (no bar) the attack's messages go to stderr line by line
            log=None if bar or quiet else (lambda message: click.echo(message, err=True)),
        )
    click.echo(format_summary(result.summary))
    if result.summary.get("eval_images"):
        k = result.summary["eval_images"]["images"]
        click.echo(f"  test set: a fixed class-stratified subset of {k} test images (--eval-images; recorded "
                   "in the summary)")
    click.echo(f"wrote {result.flips_path} and {result.summary_path}")
    if figure is not None:
        from wcatsim.analysis.plots.bfa import plot_bfa_trials

        written = plot_bfa_trials(run.dir, figure, defence, objective)
        click.echo(f"plot: {', '.join(str(p) for p in written)}")


def _objective_options(objective: str, target_class: int | None, source_class: int | None) -> dict:
    """The objective's settings from the flags, checked before the run is loaded (one line, exit 2)."""
    from sram_models.errors import InputError
    from wcatsim.experiments.attacks.objectives import ATTACK_OBJECTIVES

    ATTACK_OBJECTIVES.get(objective)  # an unknown name: one line with the allowed ones
    if objective != "targeted":
        if target_class is not None or source_class is not None:
            raise InputError("--target-class and --source-class belong to --objective targeted, not "
                             f"{objective!r}")
        return {}
    if target_class is None:
        raise InputError("--objective targeted needs --target-class T (the class the images are sent to)")
    if source_class is not None and source_class == target_class:
        raise InputError(f"--source-class {source_class} is --target-class: a 1-to-1 attack needs two "
                         "classes (leave --source-class out for N-to-1)")
    return {"target_class": target_class, "source_class": source_class}
