"""Pinning tests: today's run-directory names, table columns and result fingerprints, as literals.

Written before a large refactor (modules moving between packages) that must change none of these:

* the run-directory name (``run_dir_for`` / ``config_hash``) of every shipped config combination the
  README, the Makefile and the demo use: the default config, each ``configs/quantization/*.toml`` layer,
  ``configs/lenet5_mnist.toml`` and ``configs/resnet20_cifar10.toml`` with each quantization layer, the
  attack layers on top (which must not change the name), and the demo's training overrides;
* the columns of every table the demo writes (``random_flip.csv``, ``sweep_voltage.csv`` and the
  protected sweeps, the per-realisation tables, ``bfa_flips.csv``, ``plan_voltage.csv``,
  ``plan_voltage_sensitivity.csv``, ``pareto.csv``, the iso-accuracy table, ``metrics.csv``) and the
  keys of the demo's ``summary.json``;
* :func:`wcatsim.store.results.fingerprint` on fixed settings dicts shaped as each sweep builds them,
  and the fingerprints the real code writes (CSV sidecars of ``random_flip_sweep`` / ``voltage_sweep``,
  ``bfa_summary.json``, ``plan_voltage_sensitivity.json``) for a tiny untrained 4-bit WCAT small_cnn on
  the embedded digits (seeded init, no training; CPU);
* ``DemoPlan.stage_settings`` of ``full_plan()`` / ``quick_plan()`` and the fingerprint ``demo.json``
  records per stage.

A changed value here means finished runs, tables or demo stages would no longer be found or reused.  A
deliberate change must be listed, with its reason, in the closing note of the change that makes it
(and the literal updated here in the same change).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from wcatsim.analysis.pareto import ISO_COLUMNS, POINT_COLUMNS
from wcatsim.config import load_config
from wcatsim.experiments.attacks.bfa import FLIP_COLUMNS, run_bfa
from wcatsim.experiments.montecarlo.stopping import StoppingRule
from wcatsim.experiments.plan.planner import PLAN_CSV_COLUMNS, SENSITIVITY_COLUMNS, PlanSettings, plan_voltage
from wcatsim.experiments.sweeps.sweep import (
    ECC_COLUMNS,
    ECC_REALISATION_COLUMNS,
    RANDOM_FLIP_COLUMNS,
    REALISATION_COLUMNS,
    SWEEP_VOLTAGE_COLUMNS,
    random_flip_sweep,
    voltage_sweep,
)
from wcatsim.pipelines.demo import _State, collect, full_plan, quick_plan
from wcatsim.store.atomic import read_csv
from wcatsim.store.columns import IDENTITY_COLUMNS, RENAMES, VOLTAGE_COLUMNS, standard_columns
from wcatsim.store.results import fingerprint
from wcatsim.store.runs import config_hash, run_dir_for
from wcatsim.train.runs import LoadedRun, build_model_for, load_dataset_for
from wcatsim.train.trainer import METRICS_COLUMNS

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

# ------------------------------------------------------------------------------ run-directory names

# (layers under configs/, --set overrides, run-directory name)
RUN_NAMES = [
    ((), (), "small_cnn-digits-wcat4-298ac69d"),
    (("quantization/4bit_lsq.toml",), (), "small_cnn-digits-lsq4-f4cce18d"),
    (("quantization/4bit_maxabs.toml",), (), "small_cnn-digits-maxabs4-7773dfe3"),
    (("quantization/4bit_plclip.toml",), (), "small_cnn-digits-plclip4-b4087e5b"),
    (("quantization/4bit_wcat.toml",), (), "small_cnn-digits-wcat4-298ac69d"),
    (("quantization/4bit_wclip.toml",), (), "small_cnn-digits-wclip4-124d0846"),
    (("quantization/8bit_lsq.toml",), (), "small_cnn-digits-lsq8-4996c50d"),
    (("quantization/8bit_maxabs.toml",), (), "small_cnn-digits-maxabs8-4f0d8b3d"),
    (("quantization/8bit_plclip.toml",), (), "small_cnn-digits-plclip8-20d89bf0"),
    (("quantization/8bit_wcat.toml",), (), "small_cnn-digits-wcat8-917bc55c"),
    (("quantization/8bit_wclip.toml",), (), "small_cnn-digits-wclip8-533dc0f1"),
    (("quantization/float.toml",), (), "small_cnn-digits-float-a3d360ce"),
    (("lenet5_mnist.toml",), (), "lenet5-mnist-wcat4-66ca29af"),
    (("lenet5_mnist.toml", "quantization/4bit_lsq.toml"), (), "lenet5-mnist-lsq4-d46331c9"),
    (("lenet5_mnist.toml", "quantization/4bit_maxabs.toml"), (), "lenet5-mnist-maxabs4-4a38aedd"),
    (("lenet5_mnist.toml", "quantization/4bit_plclip.toml"), (), "lenet5-mnist-plclip4-37033689"),
    (("lenet5_mnist.toml", "quantization/4bit_wcat.toml"), (), "lenet5-mnist-wcat4-66ca29af"),
    (("lenet5_mnist.toml", "quantization/4bit_wclip.toml"), (), "lenet5-mnist-wclip4-e34e71c6"),
    (("lenet5_mnist.toml", "quantization/8bit_lsq.toml"), (), "lenet5-mnist-lsq8-6b35d8d9"),
    (("lenet5_mnist.toml", "quantization/8bit_maxabs.toml"), (), "lenet5-mnist-maxabs8-de7931c7"),
    (("lenet5_mnist.toml", "quantization/8bit_plclip.toml"), (), "lenet5-mnist-plclip8-29fc0216"),
    (("lenet5_mnist.toml", "quantization/8bit_wcat.toml"), (), "lenet5-mnist-wcat8-970cd1ba"),
    (("lenet5_mnist.toml", "quantization/8bit_wclip.toml"), (), "lenet5-mnist-wclip8-4457794c"),
    (("lenet5_mnist.toml", "quantization/float.toml"), (), "lenet5-mnist-float-12fb4c22"),
    (("resnet20_cifar10.toml",), (), "resnet20-cifar10-wcat4-07086e19"),
    (("resnet20_cifar10.toml", "quantization/4bit_lsq.toml"), (), "resnet20-cifar10-lsq4-8fca7410"),
    (("resnet20_cifar10.toml", "quantization/4bit_maxabs.toml"), (), "resnet20-cifar10-maxabs4-bd74b83f"),
    (("resnet20_cifar10.toml", "quantization/4bit_plclip.toml"), (), "resnet20-cifar10-plclip4-5ab26c01"),
    (("resnet20_cifar10.toml", "quantization/4bit_wcat.toml"), (), "resnet20-cifar10-wcat4-07086e19"),
    (("resnet20_cifar10.toml", "quantization/4bit_wclip.toml"), (), "resnet20-cifar10-wclip4-58356518"),
    (("resnet20_cifar10.toml", "quantization/8bit_lsq.toml"), (), "resnet20-cifar10-lsq8-d0c52bed"),
    (("resnet20_cifar10.toml", "quantization/8bit_maxabs.toml"), (), "resnet20-cifar10-maxabs8-29d3f9ba"),
    (("resnet20_cifar10.toml", "quantization/8bit_plclip.toml"), (), "resnet20-cifar10-plclip8-ce2927a3"),
    (("resnet20_cifar10.toml", "quantization/8bit_wcat.toml"), (), "resnet20-cifar10-wcat8-e94fb1b7"),
    (("resnet20_cifar10.toml", "quantization/8bit_wclip.toml"), (), "resnet20-cifar10-wclip8-53f273aa"),
    (("resnet20_cifar10.toml", "quantization/float.toml"), (), "resnet20-cifar10-float-c07e0fd4"),
    (("quantization/4bit_maxabs.toml", "attack/random_flip.toml"), (), "small_cnn-digits-maxabs4-7773dfe3"),
    (("quantization/4bit_maxabs.toml", "attack/sweep_voltage.toml"), (), "small_cnn-digits-maxabs4-7773dfe3"),
    (("quantization/4bit_maxabs.toml", "attack/bfa.toml"), (), "small_cnn-digits-maxabs4-7773dfe3"),
    (("quantization/4bit_wcat.toml", "attack/random_flip.toml"), (), "small_cnn-digits-wcat4-298ac69d"),
    (("quantization/4bit_wcat.toml", "attack/sweep_voltage.toml"), (), "small_cnn-digits-wcat4-298ac69d"),
    (("quantization/4bit_wcat.toml", "attack/bfa.toml"), (), "small_cnn-digits-wcat4-298ac69d"),
    (
        ("lenet5_mnist.toml", "quantization/4bit_maxabs.toml", "attack/random_flip.toml"),
        (),
        "lenet5-mnist-maxabs4-4a38aedd",
    ),
    (
        ("lenet5_mnist.toml", "quantization/4bit_maxabs.toml", "attack/sweep_voltage.toml"),
        (),
        "lenet5-mnist-maxabs4-4a38aedd",
    ),
    (
        ("lenet5_mnist.toml", "quantization/4bit_maxabs.toml", "attack/bfa.toml"),
        (),
        "lenet5-mnist-maxabs4-4a38aedd",
    ),
    (
        ("lenet5_mnist.toml", "quantization/4bit_wcat.toml", "attack/random_flip.toml"),
        (),
        "lenet5-mnist-wcat4-66ca29af",
    ),
    (
        ("lenet5_mnist.toml", "quantization/4bit_wcat.toml", "attack/sweep_voltage.toml"),
        (),
        "lenet5-mnist-wcat4-66ca29af",
    ),
    (
        ("lenet5_mnist.toml", "quantization/4bit_wcat.toml", "attack/bfa.toml"),
        (),
        "lenet5-mnist-wcat4-66ca29af",
    ),
    (
        ("resnet20_cifar10.toml", "quantization/4bit_maxabs.toml", "attack/random_flip.toml"),
        (),
        "resnet20-cifar10-maxabs4-bd74b83f",
    ),
    (
        ("resnet20_cifar10.toml", "quantization/4bit_maxabs.toml", "attack/sweep_voltage.toml"),
        (),
        "resnet20-cifar10-maxabs4-bd74b83f",
    ),
    (
        ("resnet20_cifar10.toml", "quantization/4bit_maxabs.toml", "attack/bfa.toml"),
        (),
        "resnet20-cifar10-maxabs4-bd74b83f",
    ),
    (
        ("resnet20_cifar10.toml", "quantization/4bit_wcat.toml", "attack/random_flip.toml"),
        (),
        "resnet20-cifar10-wcat4-07086e19",
    ),
    (
        ("resnet20_cifar10.toml", "quantization/4bit_wcat.toml", "attack/sweep_voltage.toml"),
        (),
        "resnet20-cifar10-wcat4-07086e19",
    ),
    (
        ("resnet20_cifar10.toml", "quantization/4bit_wcat.toml", "attack/bfa.toml"),
        (),
        "resnet20-cifar10-wcat4-07086e19",
    ),
    ((), ("quant.method=maxabs", "quant.bits=4"), "small_cnn-digits-maxabs4-7773dfe3"),
    ((), ("quant.method=lsq", "quant.bits=4"), "small_cnn-digits-lsq4-f4cce18d"),
    ((), ("quant.method=wcat", "quant.bits=4"), "small_cnn-digits-wcat4-298ac69d"),
    ((), ("quant.method=maxabs", "quant.bits=4", "trainer.epochs=5"), "small_cnn-digits-maxabs4-68a21176"),
    ((), ("quant.method=lsq", "quant.bits=4", "trainer.epochs=5"), "small_cnn-digits-lsq4-b4300c1c"),
    ((), ("quant.method=wcat", "quant.bits=4", "trainer.epochs=5"), "small_cnn-digits-wcat4-db9d0856"),
]


@pytest.mark.parametrize(
    ("layers", "overrides", "name"),
    RUN_NAMES,
    ids=[n[2] + "/" + "+".join(Path(p).stem for p in n[0]) + "+".join(n[1]) for n in RUN_NAMES],
)
def test_run_directory_name(layers, overrides, name) -> None:
    cfg = load_config([CONFIGS / layer for layer in layers], list(overrides))
    assert run_dir_for(cfg) == Path("runs") / name
    assert run_dir_for(cfg, Path("elsewhere")).name == name
    assert config_hash(cfg) == name.rsplit("-", 1)[1]


# ----------------------------------------------------------------------------------------- columns


def test_table_columns() -> None:
    # Deliberate change (issue 17 section 6): acc_p05 and collapsed_share beside the mean and CI.
    # Deliberate change (issue 18 section 1): acc_std_between and images_per_realisation in every table
    # (whole-set runs: the test-set size, and the realisations' std); issue 17 section 6: ci_nominal.
    assert RANDOM_FLIP_COLUMNS == (
        "ber", "flip_rate", "realisations", "acc_mean", "acc_std", "acc_min", "acc_max",
        "ci_low", "ci_high", "acc_p05", "collapsed_share", "bits_changed_mean", "clean_acc",
        "acc_std_between", "images_per_realisation", "ci_nominal",
    )  # fmt: skip
    assert SWEEP_VOLTAGE_COLUMNS == (
        "voltage", "ber", "flip_rate", "bits_changed_mean", "energy_per_inference_pj", "energy_norm",
        "dynamic_pj", "leakage_pj", "leakage_share", "inference_time_ns",
        "realisations", "acc_mean", "acc_std", "ci_low", "ci_high", "acc_p05", "collapsed_share", "clean_acc",
        "acc_std_between", "images_per_realisation", "ci_nominal",
    )  # fmt: skip
    assert REALISATION_COLUMNS == (
        "realisation",
        "seed",
        "accuracy",
        "bits_changed",
        "faulty_cells",
        "images",
    )
    assert ECC_COLUMNS == ("ecc_corrected_mean", "ecc_detected_mean", "ecc_miscorrected_mean")
    assert ECC_REALISATION_COLUMNS == ("ecc_corrected", "ecc_detected", "ecc_miscorrected")
    assert tuple(FLIP_COLUMNS) == (
        "trial", "iteration", "flip", "layer", "index", "bit", "code_before", "code_after", "loss", "acc",
        "acc_images", "k_top",
    )  # fmt: skip
    assert PLAN_CSV_COLUMNS == ("name", "weights", "voltage", "energy_share", "energy_norm", "layers")
    # Deliberate change (issue 18 section 1, the nested design of the plan's sensitivity curves): the
    # chips' spread net of image sampling and the images each chip read, as the sweeps' NESTED_COLUMNS.
    assert SENSITIVITY_COLUMNS == (
        "domain", "voltage", "chips", "acc_mean", "ci_low", "ci_high", "loss", "energy_norm",
        "acc_std_between", "images_per_realisation",
    )  # fmt: skip
    # Deliberate change (issue 19 section 3): the legend string split into fields, voltages in volts and
    # x Vmin, units in the names; the old columns (model = the legend, voltage, acc_mean, ...) kept last for
    # one release (docs/columns.md).
    assert POINT_COLUMNS == (
        "label", "run", "model_name", "quantizer", "bits", "dataset", "preset", "protect", "train_seed",
        "voltage_v", "voltage_norm", "energy_norm", "acc_mean_pct", "ci_low_pct", "acc_p05_pct",
        "collapsed_frac", "on_front", "voltage", "acc_mean", "ci_low", "acc_p05", "collapsed_share", "model",
    )  # fmt: skip
    assert ISO_COLUMNS == (
        "label", "run", "model_name", "quantizer", "bits", "dataset", "preset", "protect", "train_seed",
        "clean_acc_pct", "budget_pp", "metric", "voltage_v", "voltage_norm", "energy_norm", "saving_frac",
        "accuracy_pct", "acc_p05_pct", "collapsed_frac", "bounded_by_sweep", "nominal_within_budget",
        "clean_acc", "budget", "voltage", "saving", "accuracy", "acc_p05", "collapsed_share", "model",
    )  # fmt: skip
    assert METRICS_COLUMNS == (
        "epoch", "lr", "train_loss", "train_accuracy", "val_accuracy", "mean_range_ratio", "seconds",
    )  # fmt: skip
    # Deliberate change (issue 19 section 3): every per-run table written through standard_columns
    assert IDENTITY_COLUMNS == ("run", "model", "quantizer", "bits", "dataset")
    assert VOLTAGE_COLUMNS == ("voltage_v", "voltage_norm")
    assert RENAMES == {
        "acc_mean": "acc_mean_pct", "acc_std": "acc_std_pct", "acc_min": "acc_min_pct",
        "acc_max": "acc_max_pct", "ci_low": "ci_low_pct", "ci_high": "ci_high_pct", "acc_p05": "acc_p05_pct",
        "acc_std_between": "acc_std_between_pct", "clean_acc": "clean_acc_pct", "accuracy": "accuracy_pct",
        "acc": "acc_pct", "asr": "asr_pct", "other_acc": "other_acc_pct", "flip_rate": "flip_frac",
        "collapsed_share": "collapsed_frac", "leakage_share": "leakage_frac", "energy_share": "energy_frac",
        "saving": "saving_frac", "budget": "budget_pp",
    }  # fmt: skip
    assert ",".join(standard_columns(PLAN_CSV_COLUMNS)) == (
        "run,model,quantizer,bits,dataset,name,weights,voltage_v,voltage_norm,energy_frac,energy_norm,layers,"
        "voltage,energy_share"
    )


def test_demo_summary_keys(tmp_path) -> None:
    summary, models = collect({"wcat": tmp_path / "empty"}, ("secded",))
    assert list(summary) == ["wcat"]
    assert list(summary["wcat"]) == [
        "clean_acc", "iso_acc_energy_norm_1pt", "iso_acc_voltage_1pt", "flips_to_break_mean",
        "iso_acc_saving_1pt", "iso_acc_bounded_1pt", "iso_acc_energy_norm_0.1pt", "iso_acc_voltage_0.1pt",
        "iso_acc_saving_0.1pt", "iso_acc_bounded_0.1pt", "flips_to_break_std", "flips_to_break_median",
        "flips_to_break_median_lower_bound", "flips_to_break_median_ci", "bfa_censored", "bfa_status",
        "bfa_flips_to_break",
        "bfa_flips_to_original_threshold", "bfa_broken", "bfa_stalled", "train_test_accuracy",
        "plan_energy_norm_1pt", "plan_saving_over_uniform_1pt", "plan_uniform_voltage_1pt",
        "plan_uniform_energy_norm_1pt", "plan_verified_acc_mean_1pt", "plan_within_budget_1pt",
        "plan_voltages_1pt", "protection_1pt",
        # issue 20 §1: the activation buffer's sweep and which memory limits the voltage
        "act_clean_acc", "act_iso_acc_voltage_1pt", "act_iso_acc_energy_norm_1pt", "voltage_limited_by",
        # issue 20 §1: the plan over both memories (the buffer's planned voltage beside the weights')
        "plan_target", "plan_weights_max_voltage_1pt", "plan_act_voltage_1pt", "plan_act_energy_share_1pt",
        "plan_voltage_limited_by_1pt",
        "run_dir",
    ]  # fmt: skip
    assert list(models["wcat"]) == [
        "summary", "train", "random_flip", "sweep", "act_sweep", "bfa", "plan", "protection", "run_dir",
    ]  # fmt: skip


# ------------------------------------------------------------------- fingerprints of fixed settings

FAKE_MODEL = "0123456789abcdef" * 4
LAYERS = ["conv1", "conv2", "conv3", "fc"]


def test_stopping_rule_settings() -> None:
    assert StoppingRule(samples=50).settings() == {"samples": 50, "ci_procedure": "student_t"}
    assert StoppingRule(
        samples=50, ci_half_width=0.5, min_samples=50, max_samples=200, std_floor=0.25
    ).settings() == {
        "ci_half_width": 0.5, "min_samples": 50, "max_samples": 200, "std_floor": 0.25,
        "ci_procedure": "stein1945_pilot+hall1992_skew",
    }  # fmt: skip


def _random_flip_settings(**changes) -> dict:
    # shaped as random_flip_sweep builds it
    return {
        "kind": "random_flip", "model": FAKE_MODEL, "fault": "transient", "protect_msb": 0.0,
        "word_bits": 64, "ecc": None, "layers": LAYERS, "seed": 0,
        "rule": {"samples": 50, "ci_procedure": "student_t"}, "protect": "none", "device": "cpu",
        "batch_size": 1024, **changes,
    }  # fmt: skip


def _sweep_settings(**changes) -> dict:
    # shaped as voltage_sweep builds it (a shortened technology description)
    return {
        "kind": "sweep_voltage", "model": FAKE_MODEL, "preset": "chandramoorthy14",
        "technology": {"kind": "GaussianCellModel", "name": "chandramoorthy14", "v_nominal": 1.0},
        "technology_fingerprint": "fedcba9876543210" * 4, "ber_meaning": "faulty_cell",
        "organisation": {"banks": 32, "inference_time_ns": None, "reads_per_weight": 1.0},
        "fault": "chip", "stuck_at_one": 0.5, "word_bits": 64, "ecc": None, "layers": LAYERS, "seed": 0,
        "chips": 20, "protect": "none", "device": "cpu", "batch_size": 1024, **changes,
    }  # fmt: skip


def _bfa_settings() -> dict:
    # shaped as run_bfa builds its summary's fingerprinted part (everything but "run")
    return {
        "model": "small_cnn", "dataset": "digits", "quant_method": "wcat", "bits": [4],
        "threshold": 11.0, "threshold_rule": "most-frequent test class rate + 1/C percent",
        "original_threshold": 10.1,
        "original_threshold_rule": "100/C + 1/C percent (the WCAT code's stop accuracy)",
        "clean_acc": 97.5, "clean_acc_logged": 97.5, "evaluation": "whole test set",
        "eval_subset": 539, "test_images": 539, "eval_images": None, "k_top": 100, "max_flips": 500,
        "max_iterations": 500, "attack_batch": 64, "attack_split": "val", "seed": 0,
        "random_baseline": "as many distinct bits as the trial flipped, uniform over all clean-image bits",
    }  # fmt: skip


FIXED_FINGERPRINTS = [
    ("empty", {}, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"),
    (
        "random_flip",
        _random_flip_settings(),
        "a69aa12dcb07600b471f25942e6a01598af41a7d98e5c82f079bd47f6ce868fa",
    ),
    (
        "random_flip_adaptive_secded",
        _random_flip_settings(
            ecc="secded",
            protect="secded",
            rule=StoppingRule(
                samples=50, ci_half_width=0.5, min_samples=50, max_samples=200, std_floor=0.25
            ).settings(),
            eval_images={"images": 100, "seed": 0},
        ),
        "461a585f4a9d98d8af65132f255ccd4b9cdcaebfdfd4ee53e0adffeccb87d720",
    ),
    ("sweep_voltage", _sweep_settings(), "7ac7ff89883a1c8b29b3b006991eb37253788792470e5bed1be1997cfc88cf60"),
    (
        "sweep_voltage_msb8t",
        _sweep_settings(protect="msb-8t"),
        "a9ff3e412ac1cdd624b620577eb112968cc53df8462127c2071c9f2ab5805f40",
    ),
    (
        "sweep_voltage_measured",
        _sweep_settings(
            fault="measured",
            chips=1,
            fault_map="ab" * 32,
            fault_map_chip="chip0",
            tile_offset=0,
            ci="none: one measured chip, no spread across chips",
        ),
        "581b6a6f769fd33ecc15b0b451265129043de531e2efa985ea42a4575f6860ce",
    ),
    ("bfa", _bfa_settings(), "701591337fa296f138e82fa6fa1ce865a2ae632849c85e5a8dff48ef66c04d60"),
    # not JSON natively: a tuple is a list, a Path its str (json.dumps default=str)
    (
        "tuple_and_path",
        {"b": (1, 2.5), "a": Path("runs/x"), "c": None},
        "1b66fb57ce67512bf1f939ea4b1a963364cb2b72654ce62e27b1c369ffda3842",
    ),
]


@pytest.mark.parametrize(
    ("name", "settings", "expected"), FIXED_FINGERPRINTS, ids=[f[0] for f in FIXED_FINGERPRINTS]
)
def test_fingerprint_of_fixed_settings(name, settings, expected) -> None:
    assert fingerprint(settings) == expected


# -------------------------------------------------------------------------------------- demo state

# (stage, full plan's settings, its demo.json fingerprint, quick plan's settings, its fingerprint), the
# fingerprints for the run directory runs/small_cnn-digits-wcat4-298ac69d
FULL_VOLTAGES = tuple(round(0.75 + 0.01 * i, 2) for i in range(26))
SCHEMES = ("secded", "secded-zero", "parity-zero", "bit-mask", "msb-8t")
# Deliberate change (issue 16 section 4): a demo stage's fingerprint now includes the device type and the
# evaluation batch size (here cpu, None), so a stage made on a GPU is not reused on the CPU.
DEMO_STAGES = [
    ("train", {"bits": 4, "train_overrides": ()}, "78aba31322b8ec29",
     {"bits": 4, "train_overrides": ("trainer.epochs=5",)}, "a0c13e00a2e2092a"),
    ("random_flip",
     {"bers": (0.0, 0.0001, 0.0004, 0.0008, 0.001, 0.002, 0.004, 0.006, 0.008, 0.01, 0.02, 0.03, 0.05),
      "samples": 50, "seed": 0}, "cf83975c23376369",
     {"bers": (0.0, 0.001, 0.01, 0.03, 0.05), "samples": 4, "seed": 0}, "1776c7607de970a3"),
    ("sweep", {"preset": "chandramoorthy14", "voltages": FULL_VOLTAGES, "chips": 20, "seed": 0},
     "41dd24cbd8c783d7",
     {"preset": "chandramoorthy14", "voltages": (0.8, 0.85, 0.9, 0.95, 1.0), "chips": 3, "seed": 0},
     "27dec7242d8cb04b"),
    ("protect",
     {"preset": "chandramoorthy14", "voltages": FULL_VOLTAGES, "chips": 20, "seed": 0, "schemes": SCHEMES},
     "f0404e63b3aa1d51",
     {"preset": "chandramoorthy14", "voltages": (0.8, 0.85, 0.9, 0.95, 1.0), "chips": 3, "seed": 0,
      "schemes": SCHEMES}, "a6eb150a62dbd353"),
    # Deliberate change (issue 20 section 1): the demo's plan covers both memories (plan_target both), so
    # a demo folder's weights-only plan is planned again, not reused.
    ("plan",
     {"preset": "chandramoorthy14", "voltages": FULL_VOLTAGES, "chips": 20, "seed": 0, "plan_budget": 1.0,
      "plan_target": "both"},
     "fee8dc3293e911c6",
     {"preset": "chandramoorthy14", "voltages": (0.8, 0.85, 0.9, 0.95, 1.0), "chips": 3, "seed": 0,
      "plan_budget": 1.0, "plan_target": "both"}, "d0ce99a308253cf0"),
    ("bfa",
     {"bfa_trials": 3, "bfa_max_flips": 500, "bfa_max_iterations": 500, "bfa_k_top": 100,
      "bfa_eval_subset": 0, "seed": 0}, "5ae1e2ff6d65484b",
     {"bfa_trials": 1, "bfa_max_flips": 25, "bfa_max_iterations": 25, "bfa_k_top": 20,
      "bfa_eval_subset": 0, "seed": 0}, "1b1ecaba2885b907"),
]  # fmt: skip


def test_demo_plans() -> None:
    full, quick = full_plan(), quick_plan()
    assert (full.quick, full.quantizers, full.bits, full.preset, full.plan_budget, full.schemes) == (
        False, ("maxabs", "lsq", "wcat"), 4, "chandramoorthy14", 1.0, SCHEMES,
    )  # fmt: skip
    assert (quick.quick, quick.quantizers, quick.bits, quick.preset, quick.plan_budget, quick.schemes) == (
        True, ("maxabs", "lsq", "wcat"), 4, "chandramoorthy14", 1.0, SCHEMES,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("stage", "full_settings", "full_fp", "quick_settings", "quick_fp"),
    DEMO_STAGES,
    ids=[s[0] for s in DEMO_STAGES],
)
def test_demo_stage_settings_and_fingerprints(
    tmp_path, stage, full_settings, full_fp, quick_settings, quick_fp
) -> None:
    run_dir = Path("runs/small_cnn-digits-wcat4-298ac69d")
    for plan, settings, fp in (
        (full_plan(), full_settings, full_fp),
        (quick_plan(), quick_settings, quick_fp),
    ):
        assert plan.stage_settings(stage) == settings
        state = _State(tmp_path / "demo.json", plan)  # reads only; nothing is written
        assert state._fingerprint(stage, run_dir) == fp
    assert not (tmp_path / "demo.json").exists()


# ------------------------------------------------------- the real code on a tiny untrained model

# SHA-256 of the tiny model's tensors and the digits test set (wcatsim.memory.evaluator.model_fingerprint)
TINY_MODEL = "93dca8e4820704aa3cdff603d5aaf94732d1a9c20988af411ca45350f6889221"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> LoadedRun:
    """A 4-bit WCAT small_cnn on the embedded digits, weights from seed 0, untrained, on the CPU."""
    cfg = load_config([], ["quant.method=wcat", "quant.bits=4"])
    data = load_dataset_for(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model_for(cfg, data)
    model.eval()
    out = tmp_path_factory.mktemp("tiny_run")
    return LoadedRun(model=model, config=cfg, data=data, dir=out, device=torch.device("cpu"))


def _sidecar(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


def _header(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0]


def test_random_flip_sidecar_fingerprint(tiny_run, tmp_path) -> None:
    out = tmp_path / "random_flip.csv"
    random_flip_sweep(tiny_run, [0.0], samples=1, device="cpu", out=out, per_realisation=True,
                      config=tiny_run.config)  # fmt: skip
    side = _sidecar(out)
    assert side["settings"] == {
        "kind": "random_flip", "model": TINY_MODEL, "fault": "transient", "protect_msb": 0.0,
        "word_bits": 64, "ecc": None, "layers": LAYERS, "seed": 0,
        "rule": {"samples": 1, "ci_procedure": "student_t"}, "protect": "none", "device": "cpu",
        "batch_size": 1024,
    }  # fmt: skip
    assert side["fingerprint"] == "49bb30beaac16e077af673457d8e8c977a90a6c0c9ced3d8e87f63ffac7789b1"
    # Deliberate change (issue 19 section 3): identity columns first, units in the names, old names last
    assert _header(out) == (
        "run,model,quantizer,bits,dataset,ber,flip_frac,realisations,acc_mean_pct,acc_std_pct,acc_min_pct,"
        "acc_max_pct,ci_low_pct,ci_high_pct,acc_p05_pct,collapsed_frac,bits_changed_mean,clean_acc_pct,"
        "acc_std_between_pct,images_per_realisation,ci_nominal,flip_rate,acc_mean,acc_std,acc_min,acc_max,"
        "ci_low,ci_high,acc_p05,collapsed_share,clean_acc,acc_std_between"
    )
    assert _header(tmp_path / "random_flip_realisations.csv") == (
        "run,model,quantizer,bits,dataset,ber,realisation,seed,accuracy_pct,bits_changed,faulty_cells,images,"
        "accuracy"
    )
    assert read_csv(out)[0]["ber"] == "0.0"


def test_voltage_sweep_sidecar_fingerprints(tiny_run, tmp_path) -> None:
    out = tmp_path / "sweep_voltage.csv"
    voltage_sweep(tiny_run, "chandramoorthy14", [1.0], chips=1, device="cpu", out=out,
                  config=tiny_run.config)  # fmt: skip
    side = _sidecar(out)
    assert side["settings"]["model"] == TINY_MODEL
    assert side["settings"]["technology_fingerprint"] == (
        "1e2d55e82626623210f2369b1f2f45fc693eded0c5d769ef65ab3622cf0f3273"
    )
    assert sorted(side["settings"]) == [
        "batch_size", "ber_meaning", "chips", "device", "ecc", "fault", "kind", "layers", "model",
        "organisation", "preset", "protect", "seed", "stuck_at_one", "technology", "technology_fingerprint",
        "word_bits",
    ]  # fmt: skip
    assert side["fingerprint"] == "2ed401d1bfea55e97ded883b644aeaefc95f737be4be99e9450aaed194c6b541"
    assert _header(out) == (
        "run,model,quantizer,bits,dataset,voltage_v,voltage_norm,ber,flip_frac,bits_changed_mean,"
        "energy_per_inference_pj,energy_norm,dynamic_pj,leakage_pj,leakage_frac,inference_time_ns,"
        "realisations,acc_mean_pct,acc_std_pct,ci_low_pct,ci_high_pct,acc_p05_pct,collapsed_frac,"
        "clean_acc_pct,acc_std_between_pct,images_per_realisation,ci_nominal,voltage,flip_rate,leakage_share,"
        "acc_mean,acc_std,ci_low,ci_high,acc_p05,collapsed_share,clean_acc,acc_std_between"
    )
    # a protected sweep, as the demo's protect stage writes it (sweep_voltage_<scheme>.csv)
    out = tmp_path / "sweep_voltage_secded.csv"
    voltage_sweep(tiny_run, "chandramoorthy14", [1.0], chips=1, device="cpu", out=out, protect="secded",
                  per_realisation=True, config=tiny_run.config)  # fmt: skip
    side = _sidecar(out)
    assert (side["settings"]["ecc"], side["settings"]["protect"]) == ("secded", "secded")
    assert side["fingerprint"] == "3d520b301b0d4cd506a33ef7b6979d4e978506667823a646fd0f5b674d3f793c"
    assert _header(out) == (
        "run,model,quantizer,bits,dataset,voltage_v,voltage_norm,ber,flip_frac,bits_changed_mean,"
        "energy_per_inference_pj,energy_norm,dynamic_pj,leakage_pj,leakage_frac,inference_time_ns,"
        "realisations,acc_mean_pct,acc_std_pct,ci_low_pct,ci_high_pct,acc_p05_pct,collapsed_frac,"
        "clean_acc_pct,acc_std_between_pct,images_per_realisation,ci_nominal,ecc_corrected_mean,"
        "ecc_detected_mean,ecc_miscorrected_mean,voltage,flip_rate,leakage_share,acc_mean,acc_std,ci_low,"
        "ci_high,acc_p05,collapsed_share,clean_acc,acc_std_between"
    )
    assert _header(tmp_path / "sweep_voltage_secded_realisations.csv") == (
        "run,model,quantizer,bits,dataset,voltage_v,voltage_norm,realisation,seed,accuracy_pct,bits_changed,"
        "faulty_cells,images,ecc_corrected,ecc_detected,ecc_miscorrected,voltage,accuracy"
    )


def test_bfa_summary_fingerprint(tiny_run, tmp_path) -> None:
    result = run_bfa(tiny_run, trials=1, max_flips=1, max_iterations=1, k_top=5, seed=0, out_dir=tmp_path)
    summary = json.loads((tmp_path / "bfa_summary.json").read_text(encoding="utf-8"))
    assert (
        summary["fingerprint"]
        == result.summary["fingerprint"]
        == "83643f010cfa95135772bbade6a1470d139135b5af62f5e4ba1271c491fd5c3c"
    )
    assert list(summary) == [
        "run",
        "model",
        "dataset",
        "quant_method",
        "bits",
        "threshold",
        "threshold_rule",
        "original_threshold",
        "original_threshold_rule",
        "clean_acc",
        "clean_acc_logged",
        "evaluation",
        "eval_subset",
        "test_images",
        "eval_images",
        "k_top",
        "max_flips",
        "max_iterations",
        "attack_batch",
        "attack_split",
        "seed",
        "random_baseline",
        "fingerprint",
        "created",
        "trials",
        "flips_to_break",
        "status",
        "broken",
        "stalled",
        "budget_hit",
        "iterations",
        "censored",
        "flips_to_break_median",
        "flips_to_break_median_lower_bound",
        "flips_to_break_median_ci",
        "flips_to_break_median_ci_method",
        "flips_to_break_median_ties",
        "flips_to_break_mean",
        "flips_to_break_std",
        "flips_to_break_stats",
        "flips_to_original_threshold",
        "flips_attacked",
        "final_acc",
        "random_baseline_acc",
        "random_baseline_flips",
        "widenings",
        "widening_log",
        "seconds",
        "complete",
    ]
    assert _header(tmp_path / "bfa_flips.csv") == (
        "run,model,quantizer,bits,dataset,trial,iteration,flip,layer,index,bit,code_before,code_after,loss,"
        "acc_pct,acc_images,k_top,acc"
    )


def test_plan_voltage_sensitivity_fingerprint(tiny_run, tmp_path) -> None:
    settings = PlanSettings(planning_chips=1, verification_chips=1, max_verification_sets=1)
    plan_voltage(tiny_run, "chandramoorthy14", [1.0, 0.95], settings=settings, out_dir=tmp_path)
    meta = json.loads((tmp_path / "plan_voltage_sensitivity.json").read_text(encoding="utf-8"))
    assert meta == {"fingerprint": "b3808cb4fbe1cbff70faf36b6b6860e61bd8f66eb92e07f40f74de2302074631"}
    assert _header(tmp_path / "plan_voltage_sensitivity.csv") == (
        "run,model,quantizer,bits,dataset,domain,voltage_v,voltage_norm,chips,acc_mean_pct,ci_low_pct,"
        "ci_high_pct,loss,energy_norm,acc_std_between_pct,images_per_realisation,voltage,acc_mean,ci_low,"
        "ci_high,acc_std_between"
    )  # issue 18 section 1: acc_std_between and images_per_realisation added (the fingerprint is unchanged)
    assert _header(tmp_path / "plan_voltage.csv") == ",".join(standard_columns(PLAN_CSV_COLUMNS))
    plan = json.loads((tmp_path / "plan_voltage.json").read_text(encoding="utf-8"))
    assert list(plan) == [
        "domains",
        "energy_norm",
        "verified_acc_mean",
        "verified_ci_low",
        "clean_acc",
        "uniform_voltage",
        "uniform_energy_norm",
        "saving_over_uniform",
        "budget",
        "metric",
        "verified_ci_high",
        "verified_within_budget",
        "uniform_verified_acc_mean",
        "uniform_verified_ci_low",
        "uniform_verified_ci_high",
        "uniform_within_budget",
        "verification_sets",
        "bounded_by_grid",
        "planning_chips",
        "verification_chips",
        "verification_history",
        "domain_details",
        "preset",
        "voltage_unit",
        "voltages_allowed",
        "protect",
        "word_bits",
        "stuck_at_one",
        "seed",
        "eval_images",
        "organisation",
        "energy_model",
        "level_shifter_norm",
        "level_shifters",
        "uniform_energy_basis",
        "chip_seeds",
        "search",
        "run_dir",
        "final_set",
    ]
