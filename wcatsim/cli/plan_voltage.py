"""``wcatsim plan-voltage``: one supply voltage per domain of layers, least energy within a budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wcatsim.cli._common import (
    COUNT,
    NON_NEGATIVE,
    Command,
    Experiment,
    FiniteFloat,
    ImagesPerRealisation,
    experiment_options,
    fail,
    handles_errors,
    merge_flags,
    organisation_options,
    parse_range,
    plot_option,
    plot_target,
    preset_option,
    quiet_option,
    setting_option,
)
from wcatsim.cli.random_flip import activation_options, activation_spec


class PlanImages(ImagesPerRealisation):
    """--images of a plan: a count >= 0 or ``all``; ``auto`` (the sweeps' allocated design, which chooses the
    realisations too) is refused, since a plan's planning chips are fixed (--chips)."""

    name = "N|all"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        found = super().convert(value, param, ctx)
        if found == "auto":
            self.fail("auto is not offered for a plan (its planning chips are fixed: --chips); give N or all",
                      param, ctx)  # fmt: skip
        return found


@click.command("plan-voltage", cls=Command)
@experiment_options
@preset_option
@setting_option("--budget", "plan.budget", type=FiniteFloat(low=0.0))
@setting_option("--metric", "plan.metric", type=click.Choice(["mean", "ci_low"]))
@click.option("--domains", "domains", default="layer", show_default=True, metavar="layer|FILE.toml",
              help="layer: one voltage domain per quantized layer; or a TOML file whose [domains] table maps "
              "each domain's name to its layers (names or fnmatch patterns).")
@click.option("--voltages", "voltage_text", default=None, metavar="A:B:STEP|LIST",
              help="Allowed supply voltages (default: the preset's grid; chandramoorthy14: "
              "0.75..1.0 in steps of 0.01).")
@setting_option("--chips", "plan.planning_chips", type=COUNT)
@setting_option("--verify-chips", "plan.verification_chips", type=COUNT)
@setting_option("--max-sets", "plan.max_verification_sets", type=COUNT)
@setting_option("--protect", "plan.protect", metavar="SCHEME")
@organisation_options
@setting_option("--word-bits", "plan.word_bits", type=COUNT)
@setting_option("--seed", "plan.seed", type=NON_NEGATIVE)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the plan files (default: the run directory).")
@plot_option("Also draw the plan (bars as wide as each domain's weights) to FILE, or without FILE to "
             "plan_voltage.png beside the plan; and the run's sweep with the plan marked (FILE_pareto.png).")
@click.option("--batch-size", type=COUNT, default=None,
              help="Images per evaluation batch (default: the fastest setting for the device).")
@click.option("--eval-images", type=NON_NEGATIVE, default=0, metavar="K",
              help="Plan and verify on a fixed, class-stratified, seeded subset of K test images (recorded "
              "in plan_voltage.json; the CIs are then over chips on that subset). 0: the whole test set.")
@setting_option("--images", "plan.images", type=PlanImages(), metavar="N|all")
@activation_options("plan-voltage")
@quiet_option
@click.option("--allow-degenerate", is_flag=True,
              help="Plan even for a model at chance (clean accuracy within 2 points of the most frequent "
              "class's share) or one whose training stopped unhealthy.")
@handles_errors
def plan_voltage(
    configs: tuple[Path, ...], overrides: tuple[str, ...], run_dir: Path | None, device: str,
    preset: str | None, budget: float | None, metric: str | None, domains: str, voltage_text: str | None,
    planning_chips: int | None, verification_chips: int | None, max_verification_sets: int | None,
    protect: str | None, banks: int | None, inference_time_ns: float | None, word_bits: int | None,
    seed: int | None, out: Path | None, plot: str | None, batch_size: int | None,
    eval_images: int, images: int | str | None, target: str | None, act_bits: int | None,
    act_word_bits: int | None,
    act_protect: str | None, act_fault: str | None, calibration_images: int | None, quiet: bool,
    allow_degenerate: bool,
) -> None:
    """Plan one SRAM supply voltage per domain of layers: least energy within --budget points of clean.

    Per-domain sensitivity curves on the planning chips (faults in one domain at a time), a greedy
    descent that lowers next the domain saving the most energy per accuracy point lost, a joint check
    with every domain faulty (backing off until the budget holds), and the best uniform voltage on the
    same chips; both are then verified on held-out chips. Writes plan_voltage.json, plan_voltage.csv
    and plan_voltage_sensitivity.csv; exits 1 if the plan still misses the budget on held-out chips.
    --target both adds the activation buffer (--act-* flags, on the plan's preset) as a domain of its
    own: one voltage per memory, energies over both memories at nominal. --target activations plans
    the buffer alone, the weights held fault-free in one memory at nominal (and in every energy).

        wcatsim plan-voltage -c configs/quantization/4bit_maxabs.toml --preset chandramoorthy14
    """
    from sram_models import load_technology
    from wcatsim.analysis.plots.plan_figures import PLAN_FIGURE
    from wcatsim.experiments.plan.domains import read_domains_file
    from wcatsim.experiments.plan.planner import (
        PLAN_JSON,
        PlanSettings,
        check_buffer,
        check_grid,
        format_plan,
    )
    from wcatsim.experiments.plan.planner import plan_voltage as run_plan
    from wcatsim.store.atomic import exclusive
    from wcatsim.store.files import check_figure_path, check_writable
    from wcatsim.train.health import check_run

    # Every option is checked before anything is loaded or written: the [plan] section of the layers
    # with the flags on top (merge_flags), then the planner's own checks.
    exp = Experiment(configs, overrides, run_dir)
    plan_cfg = merge_flags(
        "plan-voltage", exp.settings().plan, budget=budget, metric=metric, planning_chips=planning_chips,
        verification_chips=verification_chips, max_verification_sets=max_verification_sets,
        protect=protect, word_bits=word_bits, seed=seed, banks=banks, inference_time_ns=inference_time_ns,
        eval_images=eval_images or None, images=images,
    )  # fmt: skip
    settings = PlanSettings.from_config(plan_cfg)
    voltages = parse_range(voltage_text, "--voltages") if voltage_text is not None else None
    preset_name = preset if preset is not None else exp.attack_defaults().sweep.preset
    tech = load_technology(preset_name)  # an unknown name: InputError listing the presets
    act = activation_spec(
        "plan-voltage", exp, target=target, bits=act_bits, word_bits=act_word_bits, protect=act_protect,
        fault=act_fault, calibration_images=calibration_images,
    )  # fmt: skip
    # --target activations holds the weights at nominal: their scheme is not checked at the grid's voltages
    grid = check_grid(tech, voltages, settings.protect if act.target != "activations" else "none")
    check_buffer(act, tech, grid, domains)
    if domains != "layer":  # (after check_buffer: target activations refuses any domains file)
        read_domains_file(domains)  # its format; the layer names are checked against the model later
    exp.require_trained()
    where = Path(out) if out is not None else exp.dir
    check_writable(where, "--out", folder=True)
    figure = plot_target(plot, where / PLAN_FIGURE)
    if figure is not None:
        check_figure_path(figure, "plan_voltage")
    with exclusive(where / PLAN_JSON):
        run, _ = exp.load(device)
        check_run(run, allow_degenerate)
        log = None if quiet else (lambda text: click.echo(text, err=True))
        plan = run_plan(run, tech, voltages, domains=domains, settings=settings, out_dir=where,
                        progress=not quiet, log=log, device=device, batch_size=batch_size,
                        activations=act)  # fmt: skip
    click.echo(format_plan(plan))
    click.echo(f"table: {where / 'plan_voltage.csv'} (and {PLAN_JSON})")
    if figure is not None:
        from wcatsim.analysis.plots.plan_figures import draw_plan_figures

        paths = draw_plan_figures(plan.to_json(), figure, Path(run.dir))
        click.echo("figure: " + ", ".join(str(p) for p in paths))
    if not plan.within_budget:
        fail(
            f"the frozen plan misses the budget on the final set of held-out chips (after "
            f"{plan.verification_sets} adjustment set(s)); its files are written (raise --max-sets or "
            "--budget, or narrow --voltages)",
            code=1,
        )
