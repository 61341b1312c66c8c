"""Experiment configuration: TOML layers plus ``--set`` overrides, validated into frozen pydantic dataclasses.

A config is composed as the original WCAT project composes its jsonnet files:
the built-in default first, then each ``-c`` layer in order (model+data+trainer,
then quantization, then attack), later layers overriding earlier ones key by
key, then ``--set section.key=value`` overrides (the value is read as a TOML
literal, and as a plain string when it is not one). Every key is checked: an
unknown key or a bad value is a :class:`~wcatsim.errors.ConfigError` naming the
key, the file (or ``--set``) it came from, and what is allowed.

The ``model``, ``data``, ``quant`` and ``trainer`` sections define a trained
model (they name its run directory, see :mod:`wcatsim.train.runs`); the ``attack``
section only says how a trained model is attacked and never changes which
model is meant.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from sram_models.tomlio import read_toml, tomllib
from wcatsim.config.quant import QuantConfig
from wcatsim.config.registries import DATASETS, MODELS
from wcatsim.config.settings import FieldError as _FieldError
from wcatsim.config.settings import check as _check
from wcatsim.config.settings import check_choice, settings
from wcatsim.config.specs import MemorySpec, MonteCarloSpec, PlanConfig
from wcatsim.errors import ConfigError


@settings("model")
class ModelConfig:
    """Which network to build: a registry model (``wcatsim.train.models.build_model``) or the user's own
    factory."""

    # A registry name (wcatsim.train.models.MODEL_NAMES), or a factory returning an nn.Module:
    # "path/to/file.py:function" (a Python file; a relative path is read from the working directory) or
    # "package.module:function" (an importable module). The input shape and class count come from the
    # dataset. A model file is code that runs (see wcatsim.config.model_source).
    name: str = Field(
        "small_cnn",
        description="A MODELS name, or a factory 'path/to/file.py:function' / 'package.module:function'.",
    )
    # Keyword arguments of the builder ([model.args] table): build_model(name, ..., **args) for a
    # registry model, factory(**args) for a factory. Empty by default.
    args: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments of the model builder or factory ([model.args] table).",
    )
    # A state dict loaded into the float model before quantization (.safetensors, or a torch file read
    # with weights_only=True); "" = random initialisation. Relative to the working directory.
    weights: str = Field(
        "",
        description="State dict loaded into the float model before quantization; '' = random initialisation.",
    )
    # SHA-256 of the factory's source file, recorded when the config is resolved (wcatsim.config.load_config)
    # and part of the run-directory hash; a later command refuses to run the factory when the file no
    # longer has it. "" for registry models.
    factory_sha256: str = Field(
        "", description="SHA-256 of the factory's source file, recorded when resolved; part of the run hash."
    )
    # SHA-256 of model.weights, recorded likewise (part of the run-directory hash).
    weights_sha256: str = Field(
        "", description="SHA-256 of model.weights, recorded likewise (part of the run-directory hash)."
    )

    def __post_init__(self) -> None:
        from wcatsim.config.model_source import check_factory_name, is_factory_name

        _check(isinstance(self.name, str) and self.name != "", "model.name", "must be a non-empty string")
        if is_factory_name(self.name):
            try:
                check_factory_name(self.name)
            except ValueError as exc:
                raise _FieldError("model.name", f"model.name: {exc}") from None
        else:
            names = _model_names()
            if names is not None:
                allowed = ", ".join(names)
                _check(
                    self.name in names,
                    "model.name",
                    f"unknown model {self.name!r}; allowed: {allowed}, or a factory "
                    "\"path/to/file.py:function\" / \"package.module:function\"",
                )
            _check(
                not self.factory_sha256,
                "model.factory_sha256",
                "is recorded for factory models only (model.name = \"file.py:function\"); remove it",
            )
        for key in self.args:
            _check(
                isinstance(key, str) and key.isidentifier(),
                "model.args",
                f"{key!r} is not a Python keyword-argument name",
            )
        for key in ("factory_sha256", "weights_sha256"):
            value = getattr(self, key)
            _check(
                value == "" or (len(value) == 64 and all(c in "0123456789abcdef" for c in value)),
                f"model.{key}",
                f"must be 64 lowercase hex digits (a SHA-256) or empty, got {value!r}",
            )
        _check(
            bool(self.weights) or not self.weights_sha256,
            "model.weights_sha256",
            "is set but model.weights is empty; remove it or name the weights file",
        )


@settings("data")
class DataConfig:
    """Which dataset to train and test on (``wcatsim.train.datasets.load_dataset``)."""

    # digits is embedded (no download); mnist, fashion_mnist and cifar10 read a local folder; imagefolder
    # reads data.root/train/<class>/* and data.root/val/<class>/* (JPEG/PNG;
    # wcatsim.train.datasets.imagefolder).
    name: str = Field(
        "digits",
        description="Dataset format (DATASETS): digits (embedded), mnist, fashion_mnist, cifar10, "
        "imagefolder.",
    )
    # Folder holding the dataset files ("" = the dataset's default location); unused for embedded data.
    root: str = Field(
        "", description="Folder holding the dataset files; '' = the dataset's default location."
    )
    # Seed of the train/validation split (the test split of the digits is fixed).
    seed: int = Field(
        0, description="Seed of the train/validation split (the test split of the digits is fixed)."
    )
    # Share of the training split held out for validation (best-checkpoint choice); 0.1 as the original
    # WCAT code's valid_size. 0 = no validation split (the last epoch is kept).
    val_fraction: float = Field(
        0.1, description="Share of the training split held out for validation (best-checkpoint choice)."
    )
    # imagefolder only: the side of the square image the network sees (centre crop for evaluation,
    # random-resized crop for training). 224: the ImageNet convention of torchvision's and timm's weights.
    image_size: int = Field(
        224, description="imagefolder only: side in pixels of the square image the network sees."
    )
    # imagefolder only: evaluation resizes the shorter side to this first, aspect kept (256 for 224, the
    # crop ratio 0.875 of torchvision's ResNet and timm's DeiT evaluation).
    resize: int = Field(
        256, description="imagefolder only: pixels the shorter side is resized to before the centre crop."
    )
    # imagefolder only: resampling filter of the resizes. auto = bicubic for deit_* models (as timm
    # evaluates DeiT), bilinear otherwise (torchvision's CNNs); Pillow's filters antialias when shrinking.
    interpolation: Literal["auto", "bilinear", "bicubic"] = Field(
        "auto",
        description="imagefolder only: resampling filter; auto = bicubic for deit_*, bilinear otherwise.",
    )
    # imagefolder only: per-channel normalisation (RGB, pixels in [0, 1]); ImageNet's mean and std, which
    # torchvision's and timm's weights expect.
    mean: tuple[float, ...] = Field(
        (0.485, 0.456, 0.406),
        description="imagefolder only: per-channel mean (RGB, pixels in [0, 1]); ImageNet's by default.",
    )
    std: tuple[float, ...] = Field(
        (0.229, 0.224, 0.225), description="imagefolder only: per-channel std (RGB); ImageNet's by default."
    )
    # imagefolder only: labels of a flat val folder (the ImageNet validation archive's own layout): a file
    # of "filename WNID" lines, or Kaggle's LOC_val_solution.csv. Relative to data.root. "" = val_labels.txt
    # or LOC_val_solution.csv in data.root when the val folder is flat.
    val_labels: str = Field(
        "", description="imagefolder only: labels file of a flat val folder (relative to data.root)."
    )
    # How evaluation reads the data: auto = held in memory when the split's float tensor fits in
    # wcatsim.train.datasets.streaming.STREAM_ABOVE_BYTES, streamed through a DataLoader otherwise;
    # true / false force one path. Not part of the run-directory hash (it never changes a number).
    stream: bool | Literal["auto"] = Field(
        "auto",
        description="How evaluation reads the data: auto, true (streamed) or false (in memory); never "
        "hashed.",
    )
    # DataLoader worker processes that decode streamed images (0 = in the main process). 2: the issue's
    # scale benchmark setting, enough to keep a CPU forward busy. Not part of the run-directory hash.
    workers: int = Field(
        2, description="DataLoader worker processes that decode streamed images (0 = in the main process)."
    )

    def __post_init__(self) -> None:
        _check(self.name in DATASETS, "data.name", DATASETS.unknown_message(self.name, with_setting=False))
        _check(
            0.0 <= self.val_fraction < 0.5,
            "data.val_fraction",
            f"must be in [0, 0.5), e.g. 0.1, got {self.val_fraction}",
        )
        _check(self.workers >= 0, "data.workers", f"must be >= 0 (0 = no worker process), got {self.workers}")
        _check(self.image_size >= 1, "data.image_size", f"must be >= 1 pixel, got {self.image_size}")
        _check(
            self.resize >= self.image_size,
            "data.resize",
            f"must be >= data.image_size ({self.image_size}) so the centre crop fits, got {self.resize}",
        )
        _check(
            len(self.mean) == 3 and len(self.std) == 3,
            "data.mean",
            "data.mean and data.std need three values (R, G, B)",
        )
        _check(all(s > 0 for s in self.std), "data.std", f"every value must be > 0, got {list(self.std)}")
        if self.name != "imagefolder":
            default = DataConfig.__pydantic_fields__
            changed = [
                key
                for key in _IMAGEFOLDER_KEYS
                if getattr(self, key) != (default[key].default)
            ]
            _check(
                not changed,
                f"data.{changed[0]}" if changed else "data.name",
                f"data.{', data.'.join(changed)} only apply to data.name = \"imagefolder\"; remove them "
                f"for {self.name}",
            )


# DataConfig keys that only the imagefolder dataset reads.
_IMAGEFOLDER_KEYS = ("image_size", "resize", "interpolation", "mean", "std", "val_labels")


@settings("trainer")
class TrainerConfig:
    """How to train. Defaults: the embedded-digits recipe (issue 3's prototype: Adam, 30 epochs).

    ``configs/resnet20_cifar10.toml`` holds the paper's CIFAR recipe instead.
    """

    # sgd (momentum, optional Nesterov) or adam. Adam is the digits prototype's optimizer.
    optimizer: Literal["sgd", "adam"] = Field(
        "adam", description="sgd (momentum, optional Nesterov) or adam."
    )
    # Peak learning rate. 1e-3 is Adam's usual rate; the CIFAR recipe uses SGD at 0.1.
    lr: float = Field(1e-3, description="Peak learning rate.")
    # SGD momentum (ignored by adam).
    momentum: float = Field(0.9, description="SGD momentum (ignored by adam).")
    # Nesterov momentum for SGD (ignored by adam).
    nesterov: bool = Field(True, description="Nesterov momentum for SGD (ignored by adam).")
    # L2 weight decay on every parameter except the quantization ranges (coupled, as torch's SGD/Adam do).
    weight_decay: float = Field(
        0.0, description="L2 weight decay on every parameter except the quantization ranges."
    )
    # Weight decay on the quantization ranges only (wcatsim.train.quant.range_parameters), their own
    # param group.
    # 0.1 from the evidence in issue 3: a prototype (Adam, 30 epochs, small CNN on digits) kept clean
    # accuracy within ~0.5 point of float at 0.1 and stayed robust at BER 3e-2 (96.6 +- 0.7 % against
    # maxabs's 89.7 +- 4.9 %), while at 0.01 the ranges had not settled within the run. With Adam the
    # equilibrium range is where this decay balances the clipped weights' pull, whatever the step size.
    # The paper's CIFAR recipe uses 0.01 over 300 SGD epochs (configs/resnet20_cifar10.toml).
    range_decay: float = Field(
        0.1, description="Weight decay on the quantization ranges only (their own parameter group)."
    )
    # Peak learning rate of the learned ranges (wcat alpha, lsq step), which have a parameter group of their
    # own; the schedule scales it as it scales trainer.lr. 0 = trainer.lr, what the WCAT code does
    # (kmchiti/WCAT src/train/trainer.py, _set_q_range_weight_decay: its range group sets only a weight
    # decay, so the ranges learn at the weights' rate). Set it lower when the health check reports ranges
    # at their floor (an SGD step at lr 0.1 can move a range by more than its size).
    range_lr: float = Field(
        0.0, description="Peak learning rate of the learned ranges (wcat alpha, lsq step); 0 = trainer.lr."
    )
    # Learning-rate schedule over the whole run: cosine (to 0, per step), exponential (x gamma per epoch),
    # or constant.
    schedule: Literal["cosine", "exponential", "constant"] = Field(
        "cosine",
        description="Learning-rate schedule: cosine (to 0, per step), exponential (x gamma per epoch), "
        "constant.",
    )
    # Factor per epoch of the exponential schedule.
    gamma: float = Field(0.95, description="Factor per epoch of the exponential schedule.")
    # Passes over the training split.
    epochs: int = Field(30, description="Passes over the training split.")
    # Images per optimizer step. 64 gives ~23 steps per epoch on the 1,437 digits training images.
    batch_size: int = Field(64, description="Images per optimizer step.")
    # Clip the global L2 norm of the gradients to this value before each step; 0 = no clipping.
    grad_clip: float = Field(
        0.0, description="Clip the global L2 norm of the gradients to this value; 0 = no clipping."
    )
    # Seed of the initial weights, the batch order, the augmentation and dropout: the same seed gives the
    # same model bit for bit on CPU (each epoch reseeds from (seed, epoch), so a resumed run ends where an
    # uninterrupted one does); GPUs may differ in the last bits. It is part of the run directory's hash, so
    # seeds 0, 1, 2 of one recipe are three runs. The validation split has its own seed, data.seed.
    seed: int = Field(
        0,
        description="Seed of the initial weights, batch order, augmentation and dropout (part of the run "
        "hash).",
    )
    # Stop each epoch after this many steps; 0 = a full pass (> 0 only for smoke tests and demos).
    steps_per_epoch: int = Field(0, description="Stop each epoch after this many steps; 0 = a full pass.")
    # What an unhealthy run does (wcatsim.train.health: a non-finite loss, a learned range at its floor,
    # accuracy at chance by a binomial test on the validation split): "stop" (exit 3, checkpoints kept) or
    # "warn" (a line in train.log and summary.json's health_warnings, training goes on; a non-finite loss
    # always stops). Default stop: a run that is not learning should not spend the rest of its epochs.
    health: Literal["stop", "warn"] = Field(
        "stop",
        description="What an unhealthy run does: stop (exit 3) or warn (log it, go on; NaN always stops).",
    )
    # Piecewise clustering (He et al., CVPR 2020, Eq. 5), a defence against the Bit-Flip Attack: lambda of
    # the penalty sum_l ||W_l+ - mean(W_l+)||^p + ||W_l- - mean(W_l-)||^p added to the loss
    # (wcatsim.train.clustering). 0 = off, today's training, so that no existing recipe changes.
    clustering: float = Field(
        0.0, description="Piecewise-clustering penalty weight lambda (He et al., CVPR 2020); 0 = off."
    )
    # The penalty's form: "squared" (p = 2) is what the authors' released code computes (elliothe/BFA,
    # utils.piecewise_clustering), hence the default; "norm" (p = 1) is Eq. 5 as printed, the only form
    # before 2026-12-07 (a run trained with --clustering before then used it: rerun with
    # --set trainer.clustering_form=norm to reproduce it). Read only when clustering > 0.
    clustering_form: Literal["squared", "norm"] = Field(
        "squared",
        description="Piecewise clustering's penalty: squared (the authors' code) or norm (Eq. 5 as printed).",
    )
    # A checkpoint (float or quantized) of the same architecture to start from; "" = random init.
    # Its weights are loaded, then the quantization ranges are initialised afresh from them.
    init_from: str = Field(
        "", description="A checkpoint of the same architecture to start from; '' = random init."
    )

    def __post_init__(self) -> None:
        _check(math.isfinite(self.lr) and self.lr > 0, "trainer.lr", f"must be > 0, got {self.lr}")
        _check(0 <= self.momentum < 1, "trainer.momentum", f"must be in [0, 1), got {self.momentum}")
        _check(self.weight_decay >= 0, "trainer.weight_decay", f"must be >= 0, got {self.weight_decay}")
        _check(self.range_decay >= 0, "trainer.range_decay", f"must be >= 0, got {self.range_decay}")
        _check(
            math.isfinite(self.range_lr) and self.range_lr >= 0,
            "trainer.range_lr",
            f"must be >= 0 (0 = trainer.lr), got {self.range_lr}",
        )
        _check(0 < self.gamma <= 1, "trainer.gamma", f"must be in (0, 1], got {self.gamma}")
        _check(self.epochs >= 1, "trainer.epochs", f"must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 1, "trainer.batch_size", f"must be >= 1, got {self.batch_size}")
        _check(self.grad_clip >= 0, "trainer.grad_clip", f"must be >= 0 (0 = off), got {self.grad_clip}")
        _check(math.isfinite(self.clustering) and self.clustering >= 0, "trainer.clustering",
               f"must be >= 0 (0 = off), got {self.clustering}")
        _check(self.seed >= 0, "trainer.seed", f"must be >= 0, got {self.seed}")
        _check(
            self.steps_per_epoch >= 0,
            "trainer.steps_per_epoch",
            f"must be >= 0 (0 = full epochs), got {self.steps_per_epoch}",
        )


# The paper's random-flip BER list (kmchiti/WCAT, evaluation of random bit flips).
PAPER_BERS = (0.0, 1e-4, 4e-4, 8e-4, 1e-3, 2e-3, 4e-3, 6e-3, 8e-3, 1e-2)


# The Monte Carlo fields attack.random_flip and attack.sweep share, declared once.
# Nested Monte Carlo (issue 18 section 1): each realisation on a fresh, seeded, class-stratified subset
# of this many test images (unbiased for the whole-set mean; wcatsim.experiments.montecarlo.nested).
# 0 = every realisation on the whole test set: the paper's protocol, and the default; "all" the same;
# "auto" the allocated design (wcatsim.experiments.montecarlo.allocation).
def _images_field() -> Any:
    return Field(
        0,
        description="Test images per realisation (a fresh stratified subset each); 0/'all': all; "
        "'auto': least cost.",
    )


# Issue 18 section 6, faster forwards (wcatsim.config.specs.MonteCarloSpec says why the defaults).
def _batch_realisations_field() -> Any:
    return Field(
        1, ge=1, description="Realisations per batched forward (same draws and results); 1 = one at a time."
    )


def _compile_field() -> Any:
    return Field(
        False, description="Evaluate through torch.compile: faster per realisation after a one-off compile."
    )


@settings("attack.random_flip")
class RandomFlipConfig:
    """``wcatsim random-flip``: accuracy under random bit errors (issue 4)."""

    # Bit error rates to evaluate (the paper's list).
    bers: tuple[float, ...] = Field(PAPER_BERS, description="Bit error rates to evaluate (the paper's list).")
    # Realisations per BER in the fixed-count protocol (the paper's 50).
    samples: int = Field(50, description="Realisations per BER in the fixed-count protocol (the paper's 50).")
    # > 0: adaptive, Stein's two-stage rule for this 95% CI half-width (accuracy points; see
    # wcatsim.experiments.montecarlo.stopping): a pilot, then as many more as the pilot's spread asks for.
    ci_half_width: float = Field(
        0.0,
        description="> 0: Stein's two-stage rule for this 95% CI half-width in accuracy points; 0 = fixed "
        "count.",
    )
    # Adaptive: the pilot's realisations (the paper's 50: fewer miss rare collapses more often than
    # the fixed protocol; benchmarks/coverage.py).  A point never gets fewer.
    min_samples: int = Field(50, description="Adaptive: the pilot's realisations; a point never gets fewer.")
    # Adaptive: never draw more than this many realisations (4 x the pilot: the cost bound; the CI of a
    # capped point stays wider than asked, and a larger cap lowers its coverage on collapse mixtures).
    max_samples: int = Field(200, description="Adaptive: never more realisations than this (the cost bound).")
    # A fault-model name of sram_models (validated by the random-flip command).
    fault: str = Field("transient", description="Fault model (sram_models.FAULT_MODEL_NAMES).")
    # Fraction of layers/weights whose sign bit is protected (issue 4).
    protect_msb: float = Field(
        0.0, description="Fraction of the weights whose sign bit is in hardened cells (0..1)."
    )
    # SRAM word width (bits) the weights are packed into.
    word_bits: int = Field(64, description="SRAM word width (bits) the weights are packed into.")
    # Base seed of the fault draws.
    seed: int = Field(0, description="Base seed of the fault draws.")
    # Protection scheme of the weight memory (sram_models.protection; h7, issue 12).
    protect: str = Field(
        "none", description="Protection scheme of the weight memory (sram_models.SCHEME_NAMES)."
    )

    # images, batch_realisations, compile: shared with the other Monte Carlo section (_images_field ...)
    images: int | Literal["all", "auto"] = _images_field()
    batch_realisations: int = _batch_realisations_field()
    compile: bool = _compile_field()

    def __post_init__(self) -> None:
        check_choice(self.protect, "attack.random_flip.protect", "SCHEME_NAMES", "protection scheme")
        _check(isinstance(self.images, str) or self.images >= 0, "attack.random_flip.images",
               f"must be a count >= 0, 'all' or 'auto', got {self.images}")
        check_choice(self.fault, "attack.random_flip.fault", "FAULT_MODEL_NAMES", "fault model")
        for ber in self.bers:
            _check(0.0 <= ber <= 1.0, "attack.random_flip.bers", f"every BER must be in [0, 1], got {ber}")
        _check(len(self.bers) > 0, "attack.random_flip.bers", "the list is empty")
        _check(self.samples >= 1, "attack.random_flip.samples", f"must be >= 1, got {self.samples}")
        _check(
            self.ci_half_width >= 0,
            "attack.random_flip.ci_half_width",
            f"must be >= 0 (0 = fixed count), got {self.ci_half_width}",
        )
        _check(
            1 <= self.min_samples <= self.max_samples,
            "attack.random_flip.min_samples",
            f"need 1 <= min_samples <= max_samples, got {self.min_samples} and {self.max_samples}",
        )
        _check(
            0.0 <= self.protect_msb <= 1.0,
            "attack.random_flip.protect_msb",
            f"must be in [0, 1], got {self.protect_msb}",
        )
        _check(self.word_bits >= 1, "attack.random_flip.word_bits", f"must be >= 1, got {self.word_bits}")
        _check(self.seed >= 0, "attack.random_flip.seed", f"must be >= 0, got {self.seed}")
        _check(
            self.protect != "msb-8t" or self.protect_msb in (0.0, 1.0),
            "attack.random_flip.protect_msb",
            "msb-8t holds every sign bit in 8T cells: leave protect_msb at 0 (1 would change nothing)",
        )

    def memory_spec(self, **changes: Any) -> MemorySpec:
        """This section's memory settings as a :class:`MemorySpec` (``changes`` override them)."""
        return MemorySpec(**{"word_bits": self.word_bits, "protect": self.protect, **changes})

    def montecarlo_spec(self, **changes: Any) -> MonteCarloSpec:
        """This section's sampling settings as a :class:`MonteCarloSpec` (``changes`` override them)."""
        keys = ("samples", "ci_half_width", "min_samples", "max_samples", "seed", "batch_realisations",
                "compile")
        return MonteCarloSpec(**{**{key: getattr(self, key) for key in keys}, **changes})


@settings("attack.sweep")
class SweepConfig:
    """``wcatsim sweep-voltage``: accuracy and energy across SRAM supply voltages (issue 4)."""

    # SRAM technology preset (sram_models.list_presets) or a path to a preset file.
    preset: str = Field(
        "chandramoorthy14",
        description="SRAM technology preset (sram_models.list_presets) or a path to a preset file.",
    )
    # Supply voltages in V: "A:B:STEP" (both ends included) or a list of floats.
    voltages: str | tuple[float, ...] = Field(
        "0.75:1.0:0.01",
        description="Supply voltages in V: 'A:B:STEP' (both ends included) or a list of numbers.",
    )
    # Simulated chips (persistent fault maps), each swept across every voltage.
    chips: int = Field(
        20, description="Simulated chips (persistent fault maps), each swept across every voltage."
    )
    # chip: persistent ChipFaultMap (nested across voltages); transient: independent flips per read; any
    # other registered fault model reads its rates from the preset at each voltage.
    fault: str = Field(
        "chip",
        description="Fault model (sram_models.FAULT_MODEL_NAMES); chip = nested persistent fault maps.",
    )
    # Error-correcting code per word.
    ecc: Literal["none", "secded"] = Field("none", description="Error-correcting code per word.")
    # SRAM word width (bits) the weights are packed into.
    word_bits: int = Field(64, description="SRAM word width (bits) the weights are packed into.")
    # Base seed of the chips' draws.
    seed: int = Field(0, description="Base seed of the chips' draws.")
    # Protection scheme of the weight memory (sram_models.protection; ecc = "secded" is protect = "secded").
    protect: str = Field(
        "none", description="Protection scheme of the weight memory (sram_models.SCHEME_NAMES)."
    )

    # images, batch_realisations, compile: shared with the other Monte Carlo section (_images_field ...)
    images: int | Literal["all", "auto"] = _images_field()
    batch_realisations: int = _batch_realisations_field()
    compile: bool = _compile_field()

    def __post_init__(self) -> None:
        check_choice(self.fault, "attack.sweep.fault", "FAULT_MODEL_NAMES", "fault model")
        check_choice(self.protect, "attack.sweep.protect", "SCHEME_NAMES", "protection scheme")
        _check(isinstance(self.images, str) or self.images >= 0, "attack.sweep.images",
               f"must be a count >= 0, 'all' or 'auto', got {self.images}")
        if not isinstance(self.voltages, str):
            _check(len(self.voltages) > 0, "attack.sweep.voltages", "the list is empty")
        _check(self.chips >= 1, "attack.sweep.chips", f"must be >= 1, got {self.chips}")
        _check(self.word_bits >= 1, "attack.sweep.word_bits", f"must be >= 1, got {self.word_bits}")
        _check(self.seed >= 0, "attack.sweep.seed", f"must be >= 0, got {self.seed}")
        _check(
            self.ecc == "none" or self.protect in ("none", "secded"),
            "attack.sweep.protect",
            f"ecc = 'secded' contradicts protect = {self.protect!r}: set only protect",
        )

    def memory_spec(self, **changes: Any) -> MemorySpec:
        """This section's memory settings as a :class:`MemorySpec` (``changes`` override them)."""
        return MemorySpec(**{"word_bits": self.word_bits, "protect": self.protect, **changes})

    def montecarlo_spec(self, **changes: Any) -> MonteCarloSpec:
        """This section's chips and seed as a :class:`MonteCarloSpec` (``changes`` override them)."""
        return MonteCarloSpec(**{"samples": self.chips, "seed": self.seed, "compile": self.compile,
                                 "batch_realisations": self.batch_realisations, **changes})


# Where random-flip and sweep-voltage put their faults (issue 20 section 1): the weight memory (today's
# behaviour, the default), the activation buffer, or both.
TARGETS = ("weights", "activations", "both")


@settings("attack.activations")
class ActivationSpec:
    """The activation buffer of random-flip and sweep-voltage (wcatsim.memory.activations; issue 20).

    Declared once for both commands; ``target`` weights (the default) leaves activations in float and
    fault-free, as before.
    """

    target: Literal["weights", "activations", "both"] = Field(
        "weights", description="Faulty memory: weights (default), activations (the global buffer) or both."
    )
    # 8 bits: INT8 inference stores feature maps in 8 bits (wcatsim.memory.activations.DEFAULT_ACT_BITS).
    bits: int = Field(8, description="Bits per stored activation (2..8 or 16; two's complement words).")
    word_bits: int = Field(64, description="Data bits per activation-buffer word.")
    protect: str = Field(
        "none", description="Protection scheme of the activation buffer (sram_models.SCHEME_NAMES)."
    )
    # About 500: NVIDIA's TensorRT guide finds ~500 images enough to calibrate ImageNet classifiers.
    calibration_images: int = Field(
        500, ge=1, description="Training images the storage ranges are calibrated on (their max; fewer "
        "when the training set is smaller).",
    )
    fault: str | None = Field(
        None, description="Fault model of the buffer (sram_models.FAULT_MODEL_NAMES); None = the command's."
    )
    preset: str | None = Field(
        None, description="sweep-voltage: the buffer's technology preset or file; None = the weights' preset."
    )
    voltage: float | None = Field(
        None,
        description="sweep-voltage, target both: the buffer's supply (preset's unit); None = the swept one.",
    )
    ber: float | None = Field(
        None, ge=0, le=1, description="random-flip, target both: the buffer's BER; None = the point's BER."
    )

    def __post_init__(self) -> None:
        # the widths sram_models.layout.WordLayout packs (not imported here: it would load numba)
        _check(2 <= self.bits <= 8 or self.bits == 16, "attack.activations.bits",
               f"must be 2..8 or 16, got {self.bits}")  # fmt: skip
        _check(self.bits <= self.word_bits <= 512, "attack.activations.word_bits",
               f"must be in bits..512, got {self.word_bits}")  # fmt: skip
        check_choice(self.protect, "attack.activations.protect", "SCHEME_NAMES", "protection scheme")
        if self.fault is not None:
            check_choice(self.fault, "attack.activations.fault", "FAULT_MODEL_NAMES", "fault model")

    @property
    def weights(self) -> bool:
        """The weight memory is faulty (target weights or both)."""
        return self.target in ("weights", "both")

    @property
    def activations(self) -> bool:
        """The activation buffer is faulty (target activations or both)."""
        return self.target in ("activations", "both")


@settings("attack.bfa")
class BFAConfig:
    """``wcatsim bfa``: the Bit-Flip Attack (issue 5)."""

    # Weights per layer kept by gradient magnitude (the original WCAT configuration: 100).
    k_top: int = Field(
        100,
        description="Weights per layer kept by gradient magnitude (the original WCAT configuration: 100).",
    )
    # Largest k_top the search widens to when no flip among the top-k_top weights raises the attack loss;
    # an iteration that finds nothing at it has stalled (the trial is censored there). 0 = up to every
    # weight of each layer, so a stall means no flip anywhere raises the loss (the default: a stall is
    # then a proof). A cap is for attacks whose loss saturates while their goal is judged elsewhere
    # (a targeted attack against --defended-break), where proving the stall costs a forward per bit.
    k_top_max: int = Field(
        0, description="Largest k_top the search widens to before it calls a stall; 0 = every weight."
    )
    # Flip budget per trial.
    max_flips: int = Field(500, description="Flip budget per trial.")
    # Iteration budget per trial.
    max_iterations: int = Field(500, description="Iteration budget per trial.")
    # Images in the attack batch (the original's attack_sample_size: 64).
    attack_batch: int = Field(
        64, description="Images in the attack batch (the original's attack_sample_size: 64)."
    )
    # Trials, each with its own attack batch.
    trials: int = Field(5, description="Trials, each with its own attack batch.")
    # Images for the per-iteration accuracy; 0 = the whole test set.
    eval_subset: int = Field(0, description="Images for the per-iteration accuracy; 0 = the whole test set.")
    # Stop accuracy in percent; < 0 = most-frequent-class rate + 1/C.
    threshold: float = Field(
        -1.0, description="Stop accuracy in percent; < 0 = most-frequent-class rate + 1/C."
    )
    # Base seed of the attack batches.
    seed: int = Field(0, description="Base seed of the attack batches.")

    def __post_init__(self) -> None:
        for key in ("k_top", "max_flips", "max_iterations", "attack_batch", "trials"):
            value = getattr(self, key)
            _check(value >= 1, f"attack.bfa.{key}", f"must be >= 1, got {value}")
        _check(self.k_top_max == 0 or self.k_top_max >= self.k_top, "attack.bfa.k_top_max",
               f"must be 0 (every weight) or >= attack.bfa.k_top ({self.k_top}), got {self.k_top_max}")
        _check(self.eval_subset >= 0, "attack.bfa.eval_subset", f"must be >= 0, got {self.eval_subset}")
        _check(self.threshold <= 100, "attack.bfa.threshold", f"must be <= 100 %, got {self.threshold}")
        _check(self.seed >= 0, "attack.bfa.seed", f"must be >= 0, got {self.seed}")


@settings("attack")
class AttackConfig:
    """How a trained model is attacked; not part of the run directory's name."""

    random_flip: RandomFlipConfig = Field(
        default_factory=RandomFlipConfig, description="random-flip's settings."
    )
    sweep: SweepConfig = Field(default_factory=SweepConfig, description="sweep-voltage's settings.")
    bfa: BFAConfig = Field(default_factory=BFAConfig, description="bfa's settings.")
    activations: ActivationSpec = Field(
        default_factory=ActivationSpec, description="The activation buffer (random-flip, sweep-voltage)."
    )


def _default_quant() -> QuantConfig:
    # The built-in default: 4-bit WCAT (the method this project is about).
    return QuantConfig(method="wcat", bits=4)


@settings("")
class ExperimentConfig:
    """Everything an experiment needs, validated; saved with every result as ``config.toml``."""

    model: ModelConfig = Field(default_factory=ModelConfig, description="Which network to build.")
    data: DataConfig = Field(default_factory=DataConfig, description="Which dataset to train and test on.")
    quant: QuantConfig = Field(default_factory=_default_quant, description="How the weights are quantized.")
    trainer: TrainerConfig = Field(default_factory=TrainerConfig, description="How to train.")
    attack: AttackConfig = Field(
        default_factory=AttackConfig,
        description="How a trained model is attacked (not part of the run directory's name).",
    )
    # plan-voltage's settings; like attack, not part of the run directory's name.
    plan: PlanConfig = Field(default_factory=PlanConfig, description="plan-voltage's settings.")

    def __post_init__(self) -> None:
        if self.model.weights and self.trainer.init_from:
            raise ConfigError(
                f"model.weights ({self.model.weights}) and trainer.init_from ({self.trainer.init_from}) both "
                "give the starting weights: keep one"
            )

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (tuples as lists), the form hashed and written to TOML."""
        return _plain(dataclasses.asdict(self))

    def model_dict(self) -> dict[str, Any]:
        """The sections that define the trained model (model, data, quant, trainer)."""
        full = self.to_dict()
        return {key: full[key] for key in MODEL_SECTIONS}

    def to_toml(self) -> str:
        """The resolved config as TOML; :func:`load_config` of it gives this config back."""
        return dump_toml(self.to_dict())

    def replace(self, **sections: Any) -> ExperimentConfig:
        """A copy with whole sections replaced (e.g. ``cfg.replace(trainer=new_trainer)``)."""
        return dataclasses.replace(self, **sections)


# Sections that name the run directory and must match when a checkpoint is resumed or loaded.
MODEL_SECTIONS = ("model", "data", "quant", "trainer")

_SECTION_TYPES: dict[str, type] = {
    "model": ModelConfig,
    "data": DataConfig,
    "quant": QuantConfig,
    "trainer": TrainerConfig,
    "attack": AttackConfig,
    "plan": PlanConfig,
}


def load_config(
    layers: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
    *,
    base: Mapping | None = None,
    record_hashes: bool = True,
) -> ExperimentConfig:
    """Compose the built-in default, TOML ``layers`` in order, then ``overrides`` (``"a.b=value"``).

    ``base`` (a nested dict such as a checkpoint's saved config) replaces the
    built-in default as the first layer. Raises :class:`ConfigError` naming the
    key, its source and the allowed values for anything unknown or invalid.
    ``record_hashes``: fill ``model.factory_sha256`` / ``model.weights_sha256``
    from the files named, where the layers do not give them already
    (:func:`wcatsim.config.model_source.record_file_hashes`).
    """
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if base is not None:
        _merge(merged, sources, dict(base), "the saved config", ())
    for layer in layers:
        path = Path(layer)
        _merge(merged, sources, _read_toml(path), str(path), ())
    for item in overrides:
        key, value = parse_override(item)
        nested: dict[str, Any] = {}
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        _merge(merged, sources, nested, f"--set {item}", ())
    cfg = _build_experiment(merged, sources)
    if record_hashes:
        from wcatsim.config.model_source import record_file_hashes

        cfg = record_file_hashes(cfg)
    return cfg


def config_from_dict(data: Mapping[str, Any], source: str = "the saved config") -> ExperimentConfig:
    """Rebuild a config from :meth:`ExperimentConfig.to_dict` output (checkpoints, config.toml)."""
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    _merge(merged, sources, dict(data), source, ())
    return _build_experiment(merged, sources)


def parse_override(item: str) -> tuple[str, Any]:
    """``"trainer.epochs=5"`` -> ``("trainer.epochs", 5)``; values are TOML literals, else strings."""
    if "=" not in item:
        raise ConfigError(f"`option.set` {item!r}: expected KEY=VALUE, e.g. `option.set` trainer.epochs=5")
    key, text = item.split("=", 1)
    key = key.strip()
    text = text.strip()
    if not key or any(not part for part in key.split(".")) or "." not in key:
        raise ConfigError(
            f"`option.set` {item!r}: KEY must be section.name, e.g. `option.set` trainer.epochs=5"
        )
    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        value = text  # a bare word such as wcat or cosine
    return key, value


def dump_toml(data: Mapping[str, Any]) -> str:
    """A nested dict of scalars and lists as TOML (tables for nested dicts; ``None`` values left out)."""
    lines: list[str] = []
    _dump_table(data, (), lines)
    return "\n".join(lines).strip() + "\n"


def _dump_table(table: Mapping[str, Any], prefix: tuple[str, ...], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping) and v is not None}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    if prefix and (scalars or not tables):
        lines.append(f"[{'.'.join(prefix)}]")
    for key, value in scalars.items():
        lines.append(f"{key} = {_toml_value(value)}")
    if scalars:
        lines.append("")
    for key, value in tables.items():
        _dump_table(value, (*prefix, key), lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write a {type(value).__name__} value to TOML")


def _read_toml(path: Path) -> dict[str, Any]:
    from wcatsim.config.shipped import find_layer  # configs/... also resolves outside the checkout

    return read_toml(find_layer(path), ConfigError)


def _merge(
    into: dict[str, Any], sources: dict[str, str], layer: Mapping[str, Any], source: str, prefix: tuple
) -> None:
    for key, value in layer.items():
        path = (*prefix, key)
        if isinstance(value, Mapping):
            node = into.get(key)
            if not isinstance(node, dict):
                node = {}
                into[key] = node
            _merge(node, sources, value, source, path)
        else:
            into[key] = value
            sources[".".join(path)] = source


def _build_experiment(merged: dict[str, Any], sources: dict[str, str]) -> ExperimentConfig:
    for name, value in merged.items():
        if name not in _SECTION_TYPES:
            raise ConfigError(
                f"unknown section {name!r} in {sources_under(sources, name)}; "
                f"allowed: {', '.join(_SECTION_TYPES)}{_did_you_mean(name, _SECTION_TYPES)}"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{name} in {sources[name]} must be a table ([{name}]), not a single value")
    default = ExperimentConfig()
    sections = {
        name: _build_section(getattr(default, name), merged.get(name, {}), sources, name)
        for name in _SECTION_TYPES
    }
    return ExperimentConfig(**sections)


def _build_section(default: Any, values: dict[str, Any], sources: dict[str, str], prefix: str) -> Any:
    cls = type(default)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = _type_hints(cls)
    changes: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}.{key}"
        if key not in fields:
            raise ConfigError(
                f"unknown key {dotted!r} in {sources_under(sources, dotted)}; allowed keys of [{prefix}]: "
                f"{', '.join(fields)}{_did_you_mean(key, fields)}"
            )
        current = getattr(default, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{dotted} in {sources_under(sources, dotted)} must be a table [{dotted}]")
            changes[key] = _build_section(current, value, sources, dotted)
        elif isinstance(current, dict):  # a free-form table, e.g. [model.args]
            if not isinstance(value, dict):
                where = sources_under(sources, dotted)
                raise ConfigError(f"{dotted} in {where} must be a table [{dotted}], not a single value")
            changes[key] = dict(value)
        else:
            if isinstance(value, dict):
                where = sources_under(sources, dotted)
                raise ConfigError(f"{dotted} in {where} must be a value, not a table")
            changes[key] = _coerce(value, hints.get(key, type(current)), current, dotted, sources[dotted])
    try:
        return dataclasses.replace(default, **changes)
    except _FieldError as exc:
        where = sources.get(exc.key)
        raise ConfigError(f"{exc} (set in {where})" if where else str(exc)) from None
    except (ValueError, TypeError) as exc:  # includes InputError from another section's own checks
        where = sources_under(sources, prefix)
        raise ConfigError(f"[{prefix}] {exc} (set in {where})") from None


def setting_field(key: str) -> Any:
    """The pydantic ``FieldInfo`` of the setting ``key`` (``"plan.budget"``): its annotation, default and
    one-line doc (``description``), e.g. for a CLI option that mirrors it.

    Raises
    ------
    ConfigError
        For a key that names no setting (with a "did you mean").
    """
    section: Any = ExperimentConfig
    parts = key.split(".")
    for depth, part in enumerate(parts):
        fields = section.__pydantic_fields__
        if part not in fields:
            where = ".".join(parts[:depth]) or "the config"
            raise ConfigError(f"no setting {key!r}: {where} has no {part!r}{_did_you_mean(part, fields)}")
        info = fields[part]
        if depth == len(parts) - 1:
            return info
        section = info.default_factory if info.default_factory is not None else type(info.default)


def sources_under(sources: Mapping[str, str], prefix: str) -> str:
    """Where the keys at or under ``prefix`` were set (for error messages)."""
    found = [src for key, src in sources.items() if key == prefix or key.startswith(prefix + ".")]
    unique = list(dict.fromkeys(found))
    return ", ".join(unique) if unique else "the built-in default"


def _did_you_mean(word: str, choices: Mapping[str, Any] | Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - annotations that do not resolve: fall back to the defaults' types
        return {}


def _coerce(value: Any, hint: Any, current: Any, key: str, source: str) -> Any:
    """Check ``value`` against the field's type ``hint``; return it in the field's own type."""
    ok, result, expected = _try_coerce(value, hint, current)
    if ok:
        return result
    raise ConfigError(f"{key} = {_show(value)} in {source}: expected {expected}")


def _try_coerce(value: Any, hint: Any, current: Any) -> tuple[bool, Any, str]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        allowed = ", ".join(str(a) for a in args)
        return (value in args and type(value) is type(args[0])), value, f"one of: {allowed}"
    if origin in (typing.Union, types.UnionType):
        expected = []
        for arg in args:
            if arg is type(None):
                if value is None:
                    return True, None, "nothing"
                continue
            ok, result, what = _try_coerce(value, arg, current)
            if ok:
                return True, result, what
            expected.append(what)
        return False, None, " or ".join(expected)
    if origin in (tuple, list):
        item_hint = args[0] if args else Any
        if not isinstance(value, (list, tuple)):
            return False, None, f"a list of {_describe(item_hint)}"
        items = []
        for item in value:
            ok, result, _ = _try_coerce(item, item_hint, None)
            if not ok:
                return False, None, f"a list of {_describe(item_hint)}"
            items.append(result)
        return True, (tuple(items) if origin is tuple else items), f"a list of {_describe(item_hint)}"
    if hint is Any or hint is None:
        return True, value, "anything"
    if hint is bool:
        return isinstance(value, bool), value, "true or false"
    if hint is int:
        return (isinstance(value, int) and not isinstance(value, bool)), value, "an integer"
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value), "a number"
        return False, None, "a number"
    if hint is str:
        return isinstance(value, str), value, "a string"
    if isinstance(hint, type):
        return isinstance(value, hint), value, hint.__name__
    return True, value, "anything"


def _describe(hint: Any) -> str:
    return {float: "numbers", int: "integers", str: "strings", bool: "booleans"}.get(hint, str(hint))


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _model_names() -> Sequence[str]:
    return MODELS.names()


__all__ = [
    "ActivationSpec",
    "AttackConfig",
    "BFAConfig",
    "DataConfig",
    "ExperimentConfig",
    "MODEL_SECTIONS",
    "MemorySpec",
    "MonteCarloSpec",
    "PlanConfig",
    "ModelConfig",
    "PAPER_BERS",
    "RandomFlipConfig",
    "SweepConfig",
    "TARGETS",
    "TrainerConfig",
    "config_from_dict",
    "dump_toml",
    "load_config",
    "parse_override",
    "setting_field",
]
