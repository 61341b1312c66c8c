"""Post-training quantization (``wcatsim quantize``): a pretrained float network into a run directory.

The float model ``cfg.model`` names gets the weights of ``model.weights``; it is quantized as
``cfg.quant`` says, every quantization range initialised from those weights (``quant.range_init``:
max|w|, SAWB, MSE, ...: the weight quantizers look at the weights only, never at images); its clean test
accuracy is measured; and the run directory gets what ``wcatsim train`` writes (``config.toml``,
``checkpoint.pt``, ``summary.json``, ``train.log``), so ``eval``, ``random-flip``, ``sweep-voltage``,
``bfa`` and ``pareto`` take it as they take a trained run.

**Calibration images.** Quantizing the weights shifts every layer's output a little, so the batch-norm
statistics measured on the float network no longer match. With ``calibration_images`` N > 0 the
batch-norm running means and variances are re-estimated with the quantized weights on N training images
(a fixed, class-stratified, seeded subset, evaluation preprocessing, no augmentation; the average over
batches of the batch statistics: PyTorch's cumulative average, ``momentum=None``); nothing else changes,
and no weight or range is fitted to them. N = 0 (the default) keeps the file's statistics: the network is
exactly the pretrained one with quantized weights. A model without batch norm is unchanged by N.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sram_models.errors import InputError
from wcatsim.config import ExperimentConfig
from wcatsim.store.atomic import atomic_write_json, atomic_write_text
from wcatsim.store.runs import CONFIG_FILE, LOG_FILE, SUMMARY_FILE, identity_sections, run_dir_for
from wcatsim.train.checkpoints import BEST, LAST, read_checkpoint, save_checkpoint
from wcatsim.train.runs import build_model_for, load_dataset_for

SOURCE = "post-training quantization"


@dataclass
class QuantizeResult:
    """What :func:`quantize_pretrained` did."""

    run_dir: Path
    test_accuracy: float  # percent
    test_images: int
    calibrated_layers: int  # batch-norm layers whose statistics were re-estimated (0 without calibration)
    chance: float  # percent: the most frequent test class's share + 1/C
    seconds: float
    summary: dict[str, Any]


def quantize_pretrained(
    cfg: ExperimentConfig,
    out_dir: str | Path | None = None,
    *,
    calibration_images: int = 0,
    device: str = "auto",
    allow_degenerate: bool = False,
) -> QuantizeResult:
    """Quantize ``cfg``'s model from ``cfg.model.weights`` into ``out_dir`` (default: its run directory).

    Refuses (InputError) a directory that holds another run, and, after writing the run, a model at or
    below chance (:class:`wcatsim.train.health.DegenerateModelError`) unless ``allow_degenerate``.
    """
    from wcatsim.train.evaluate import accuracy_on, resolve_device
    from wcatsim.train.health import DegenerateModelError, at_chance, chance_threshold, majority_share
    from wcatsim.train.trainer import _Log, _model_payload, make_summary

    started = time.perf_counter()
    if not cfg.model.weights:
        raise InputError("post-training quantization starts from pretrained weights: pass `option.weights` "
                         "FILE (or set model.weights)")
    if isinstance(calibration_images, bool) or calibration_images < 0:
        raise InputError(f"`option.calibration_images` must be >= 0 (0 = keep the file's batch-norm "
                         f"statistics), got {calibration_images!r}")
    run_dir = Path(out_dir) if out_dir is not None else run_dir_for(cfg)
    _check_target(run_dir, cfg)
    dev = resolve_device(device)
    data = load_dataset_for(cfg)
    torch.manual_seed(cfg.trainer.seed)  # only modules the weights do not cover would draw from it
    model = build_model_for(cfg, data).to(dev)
    calibrated = 0
    if calibration_images:
        calibration = _calibration_set(data, calibration_images, cfg.data.seed)
        calibrated = recalibrate_batchnorm(model, calibration, dev)
    model.eval()
    test_images = data.eval_images("test")
    test_acc = float(accuracy_on(model, test_images, device=dev))
    chance = chance_threshold(test_images.y, data.num_classes)
    majority = majority_share(test_images.y)

    record = {
        "source": SOURCE,
        "weights": cfg.model.weights,
        "weights_sha256": cfg.model.weights_sha256,
        "calibration_images": int(calibration_images),
        "batchnorm_recalibrated": calibrated,
        "test_data": test_images.description,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / CONFIG_FILE, cfg.to_toml())
    save_checkpoint(run_dir / BEST, {**_model_payload(model, cfg, 0, None), "post_training": record})
    summary = make_summary(model, cfg, test_acc, None, 0, [], majority=majority)
    summary["post_training"] = record
    atomic_write_json(run_dir / SUMMARY_FILE, summary)
    seconds = time.perf_counter() - started
    _Log(run_dir / LOG_FILE).write(
        f"{SOURCE} of {cfg.model.name} from {cfg.model.weights} on {dev}: {cfg.quant.bits}-bit "
        f"{cfg.quant.method}, batch norm recalibrated in {calibrated} layers on {calibration_images} "
        f"training images; test {test_acc:.2f}% on {test_images.description} ({seconds:.1f} s)"
    )
    if at_chance(test_acc, majority) and not allow_degenerate:
        raise DegenerateModelError(
            f"the quantized model is at chance ({test_acc:.2f}% on {test_images.n_images} test images, "
            f"within 2 points of the most frequent class's share): check that the weights belong to this "
            f"model and dataset (class order, "
            f"preprocessing data.mean/std/resize); {run_dir} is written for inspection, "
            "`option.allow_degenerate` accepts it"
        )
    return QuantizeResult(run_dir=run_dir, test_accuracy=test_acc, test_images=test_images.n_images,
                          calibrated_layers=calibrated, chance=chance, seconds=seconds, summary=summary)


def _check_target(run_dir: Path, cfg: ExperimentConfig) -> None:
    """Refuse a directory holding a trained run, or a quantized run of another config."""
    if (run_dir / LAST).is_file():
        raise InputError(f"{run_dir} holds a trained run (last.pt): quantize into another `option.out`")
    best = run_dir / BEST
    if best.is_file():
        saved = read_checkpoint(best)
        if "post_training" not in saved or identity_sections(saved.get("config", {})) != identity_sections(
            cfg.to_dict()
        ):
            raise InputError(
                f"{run_dir} already holds another run's checkpoint: quantize into another `option.out`"
            )


def _calibration_set(data: Any, n: int, seed: int) -> Any:
    from wcatsim.train.datasets.streaming import labels_of, stratified_subset

    train = data._split("train")
    if len(train) == 0:
        raise InputError("`option.calibration_images` needs training images (data.root/train/<class>/*); "
                         "the test split is never used for calibration")
    # all of them when fewer than n (as before; stratified_subset refuses a k above the split's size)
    return data.eval_images("train", stratified_subset(labels_of(train), min(n, len(train)), seed))


def recalibrate_batchnorm(model: nn.Module, images: Any, device: torch.device) -> int:
    """Re-estimate every batch-norm layer's running mean and variance on ``images`` (an EvalImages),
    with the model's current (quantized) weights; returns the number of layers recalibrated.

    Each statistic becomes the average over batches of the batch statistics (``momentum=None``, the
    unbiased variance as batch norm keeps it); everything else runs in eval mode (no bit-error training
    noise, no dropout) and nothing else changes.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    try:
        with torch.no_grad():
            for xb, _ in images.batches():
                model(xb.to(device))
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.eval()
    return len(norms)


__all__ = ["QuantizeResult", "quantize_pretrained", "recalibrate_batchnorm"]
