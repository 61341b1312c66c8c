"""The trainer: quantization-aware training of one model into its run directory.

SGD (momentum, Nesterov) or Adam; cosine, exponential or constant learning
rate; weight decay on the weights; the quantization ranges
(``wcatsim.train.quant.range_parameters``) in a parameter group of their own, with
their own learning rate (``trainer.range_lr``) and, for WCAT, their own decay
(``trainer.range_decay``, the pull that makes WCAT's ranges small); optional
gradient-norm clipping. Seeded and deterministic on CPU: each epoch reseeds
torch from (seed, epoch), so a run resumed from its last checkpoint ends bit
for bit where an uninterrupted run ends.

Every epoch writes ``metrics.csv``, a line of ``train.log`` and ``last.pt``
(atomically); a better validation accuracy also writes ``checkpoint.pt``. Then
the run's health is checked (``_HealthContext.problem``): a non-finite loss, a
learned range at its floor, or validation accuracy at chance from the third
epoch on stops the run with :class:`wcatsim.train.health.TrainingHealthError` (exit
code 3 on the command line), one line naming the likely cause and the fix; the
checkpoints are kept for inspection and ``summary.json`` records
``"healthy": false`` and the reason (a healthy run records ``"healthy": true``).

Each line of ``train.log`` is also a message of the logger ``wcatsim.train.trainer`` (INFO; a health
warning WARNING): the library configures no handler, the caller's decides where they go (the CLI
prints them; docs/logging.md). ``tensorboard=DIR`` writes the epoch's scalars there too
(:mod:`wcatsim.train.tracking`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from wcatsim.config import MODEL_SECTIONS, ExperimentConfig
from wcatsim.errors import CheckpointError, InputError
from wcatsim.store.atomic import atomic_write_csv, atomic_write_json, atomic_write_text
from wcatsim.store.runs import (
    CONFIG_FILE,
    LOG_FILE,
    METRICS_FILE,
    SUMMARY_FILE,
    identity_sections,
    run_dir_for,
)
from wcatsim.train.checkpoints import (
    BEST,
    LAST,
    check_same_model,
    load_model_state,
    read_checkpoint,
    save_checkpoint,
)
from wcatsim.train.clustering import clustering_penalty
from wcatsim.train.health import (
    MAJORITY_KEY,
    TrainingHealthError,
    chance_verdict,
    majority_share,
    single_step_advice,
)
from wcatsim.train.runs import build_model_for, load_dataset_for
from wcatsim.train.schedules import lr_factor
from wcatsim.train.tracking import ScalarLog, log_epoch

logger = logging.getLogger(__name__)

METRICS_COLUMNS = (
    "epoch",
    "lr",
    "train_loss",
    "train_accuracy",
    "val_accuracy",
    "mean_range_ratio",
    "seconds",
)


# Validation accuracy at chance counts as unhealthy from this epoch on (1-based): the first two epochs of
# a healthy run may still be near chance (issue 10 §1), a third at chance is a run that is not learning.
CHANCE_FROM_EPOCH = 3


class NonFiniteLossError(TrainingHealthError):
    """The loss (or the weights) became NaN or infinite; the run stopped and kept its last good checkpoint."""


@dataclass
class TrainResult:
    """What :func:`train` did."""

    run_dir: Path
    test_accuracy: float  # percent, of the best checkpoint
    best_val_accuracy: float | None  # percent; None without a validation split
    best_epoch: int  # 1-based epoch of the best checkpoint
    epochs_run: int  # epochs trained in this call (0 when the run was already complete)
    resumed_from: int | None  # epochs already done when this call started, if it resumed
    seconds: float  # wall time of this call
    summary: dict[str, Any] = field(default_factory=dict)


def train(
    cfg: ExperimentConfig,
    out_dir: str | Path | None = None,
    device: str = "auto",
    progress: bool = True,
    *,
    fresh: bool = False,
    tensorboard: str | Path | None = None,
) -> TrainResult:
    """Train ``cfg``'s model into ``out_dir`` (default: :func:`wcatsim.train.runs.run_dir_for`).

    A run directory whose ``last.pt`` was written by the same config resumes from
    it; ``fresh=True`` starts over. A directory holding another config's run is
    refused (CheckpointError) unless ``fresh``.

    ``progress``: a ``tqdm.auto`` bar on a terminal or in a notebook (:mod:`wcatsim.train.progress`);
    the lines of ``train.log`` go to the logger ``wcatsim.train.trainer`` whatever ``progress`` is.
    ``tensorboard``: a folder for TensorBoard scalars per epoch (loss, accuracies, learning rate, learned
    ranges per layer; :func:`wcatsim.train.tracking.log_epoch`), needs the ``tensorboard`` extra.
    """
    from wcatsim.train.evaluate import resolve_device
    from wcatsim.train.quant import clip_weights_

    start_time = time.perf_counter()
    board = ScalarLog(tensorboard)  # a missing tensorboard package fails here, before anything is written
    run_dir = Path(out_dir) if out_dir is not None else run_dir_for(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    dev = resolve_device(device)
    tcfg = cfg.trainer

    data = load_dataset_for(cfg)
    torch.manual_seed(tcfg.seed)
    if tcfg.init_from:
        model = _model_from_init(cfg, data, Path(tcfg.init_from))
    else:
        model = build_model_for(cfg, data)
    model.to(dev)
    optimizer = _make_optimizer(model, cfg)

    history: list[dict[str, Any]] = []
    best_val: float | None = None  # validation accuracy of the kept checkpoint
    max_val: float | None = None  # highest validation accuracy of any epoch so far
    best_epoch = 0
    start_epoch = 0
    resumed_from: int | None = None
    last_path = run_dir / LAST
    if fresh:
        for name in (LAST, BEST, SUMMARY_FILE, METRICS_FILE, LOG_FILE):
            (run_dir / name).unlink(missing_ok=True)
    elif last_path.is_file():
        state = read_checkpoint(last_path)
        _check_resumable(state, cfg, last_path)
        load_model_state(model, state["model"], last_path)
        optimizer.load_state_dict(state["optimizer"])
        history = [dict(row) for row in state.get("history", [])]
        best_val = state.get("best_val")
        max_val = state.get("max_val")
        best_epoch = int(state.get("best_epoch", 0))
        start_epoch = int(state["epoch"])
        resumed_from = start_epoch

    atomic_write_text(run_dir / CONFIG_FILE, cfg.to_toml())
    # Off a terminal (and outside a notebook) there is no bar: the log's lines (one per epoch) are the
    # progress, through the logger to wherever the caller's handler sends them.
    log = _Log(run_dir / LOG_FILE)
    if resumed_from is not None:
        log.write(f"resuming {run_dir.name} after epoch {resumed_from} of {tcfg.epochs}")
    else:
        log.write(f"training {run_dir.name}: {_describe_cfg(cfg)} on {dev}")

    # Validation and test images in a fixed order, held in memory or streamed
    # (wcatsim.train.datasets.streaming).
    val_images = data.eval_images("val") if len(data.val) else None
    test_images = data.eval_images("test")
    log.write(f"test data: {test_images.description}")
    batches = _BatchSource(data.train, tcfg.batch_size)
    steps_per_epoch = batches.steps(tcfg.steps_per_epoch)
    total_steps = steps_per_epoch * tcfg.epochs
    from wcatsim.train.datasets.streaming import labels_of

    health = _HealthContext(
        run_dir, cfg, log, dev, test_images,
        val_majority=None if val_images is None else majority_share(val_images.y),
        train_majority=majority_share(labels_of(data.train)),
        steps_per_epoch=steps_per_epoch,
    )  # fmt: skip

    bar = _progress_bar(progress, total_steps, start_epoch * steps_per_epoch, run_dir.name)
    health_warnings: list[str] = []  # trainer.health = "warn": what would have stopped the run
    try:
        for epoch in range(start_epoch, tcfg.epochs):
            epoch_start = time.perf_counter()
            # Reseed per epoch: batch order, augmentation and dropout depend only on (seed, epoch),
            # which is what makes a resumed run identical to an uninterrupted one.
            torch.manual_seed(_epoch_seed(tcfg.seed, epoch))
            generator = torch.Generator().manual_seed(_epoch_seed(tcfg.seed, epoch))
            model.train()
            loss_sum, correct, seen = 0.0, 0, 0
            lr = tcfg.lr
            for step_in_epoch, (x, y) in enumerate(batches.epoch(tcfg.steps_per_epoch, generator)):
                step = epoch * steps_per_epoch + step_in_epoch
                lr = tcfg.lr * lr_factor(tcfg.schedule, step, total_steps, epoch, tcfg.gamma)
                for group in optimizer.param_groups:
                    group["lr"] = lr * group.get("lr_scale", 1.0)
                x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                if not torch.isfinite(loss):
                    value = float(loss.detach())
                    reason = _non_finite_message(run_dir, epoch, step_in_epoch, value, best_epoch)
                    health.stop(NonFiniteLossError, reason, model, history)
                optimizer.zero_grad(set_to_none=True)
                # piecewise clustering (trainer.clustering > 0); the logged loss stays the cross-entropy
                if tcfg.clustering > 0:
                    loss_to_step = loss + tcfg.clustering * clustering_penalty(model, tcfg.clustering_form)
                else:
                    loss_to_step = loss
                loss_to_step.backward()
                if tcfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
                optimizer.step()
                clip_weights_(model)  # wclip/plclip keep their stored weights inside the fixed range
                n = y.shape[0]
                loss_sum += float(loss.detach()) * n
                correct += int((logits.detach().argmax(1) == y).sum())
                seen += n
                if bar is not None:
                    bar.update(1)
                    if step_in_epoch % 5 == 0:
                        bar.set_postfix(
                            epoch=f"{epoch + 1}/{tcfg.epochs}",
                            loss=f"{loss_sum / seen:.3f}",
                            acc=f"{100.0 * correct / seen:.1f}%",
                        )
            # The last step's update is not seen by a loss; check the weights before keeping them.
            if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
                reason = _non_finite_message(
                    run_dir, epoch, step_in_epoch, float("nan"), best_epoch, what="weights"
                )
                health.stop(NonFiniteLossError, reason, model, history)
            val_acc = _accuracy(model, val_images, dev) if val_images is not None else None
            row = {
                "epoch": epoch + 1,
                "lr": lr,
                "train_loss": round(loss_sum / max(seen, 1), 6),
                "train_accuracy": round(100.0 * correct / max(seen, 1), 4),
                "val_accuracy": None if val_acc is None else round(val_acc, 4),
                "mean_range_ratio": _mean_range_ratio(model),
                "seconds": round(time.perf_counter() - epoch_start, 3),
            }
            history.append(row)
            # Keep the epoch with the best validation accuracy, where an epoch at most one validation
            # image below the best so far counts as a tie and ties go to the later epoch: a one-image
            # difference is below what the split can resolve, while a later epoch of the (cosine) run has
            # converged further and WCAT's ranges have settled further (on the digits the 126-image
            # validation split reaches 100% within a few epochs, long before the ranges settle).
            # Without a validation split the last epoch is kept.
            if val_acc is not None:
                max_val = val_acc if max_val is None else max(max_val, val_acc)
            if val_acc is None or val_acc >= max_val - 100.0 / val_images.n_images - 1e-9:
                best_val, best_epoch = val_acc, epoch + 1
                save_checkpoint(run_dir / BEST, _model_payload(model, cfg, epoch + 1, val_acc))
            save_checkpoint(
                last_path,
                {
                    **_model_payload(model, cfg, epoch + 1, val_acc),
                    "optimizer": optimizer.state_dict(),
                    "history": history,
                    "best_val": best_val,
                    "max_val": max_val,
                    "best_epoch": best_epoch,
                },
            )
            atomic_write_csv(run_dir / METRICS_FILE, METRICS_COLUMNS, history)
            log.write(
                f"epoch {epoch + 1}/{tcfg.epochs} lr {lr:.3g} loss {row['train_loss']:.4f} "
                f"train {row['train_accuracy']:.2f}% val "
                + ("-" if val_acc is None else f"{val_acc:.2f}%")
                + f" range/max|w| {row['mean_range_ratio']} ({row['seconds']:.1f} s)",
                epoch=row,
            )
            log_epoch(board, model, row)
            val_n = None if val_images is None else val_images.n_images
            problem = health.problem(model, epoch + 1, val_acc, row["train_accuracy"], val_n, seen)
            if problem is not None and tcfg.health == "warn":  # the user asked to go on: say it, go on
                log.write("warning, unhealthy: " + problem, level=logging.WARNING)
                health_warnings.append(f"epoch {epoch + 1}: {problem}")
            elif problem is not None:
                health.stop(TrainingHealthError, problem, model, history)
    except BaseException:
        board.close()
        raise
    finally:
        if bar is not None:
            bar.close()

    # Evaluate and summarise the best checkpoint (the model that later commands load).
    best = read_checkpoint(run_dir / BEST)
    load_model_state(model, best["model"], run_dir / BEST)
    test_acc = _accuracy(model, test_images, dev)
    summary = make_summary(
        model, cfg, test_acc, best_val, best_epoch, history, majority=majority_share(test_images.y)
    )
    if health_warnings:  # only then: the summary of a run without warnings keeps its keys
        summary["health_warnings"] = health_warnings
    atomic_write_json(run_dir / SUMMARY_FILE, summary)
    epochs_run = tcfg.epochs - start_epoch
    log.write(
        f"done: best epoch {best_epoch}, val "
        + ("-" if best_val is None else f"{best_val:.2f}%")
        + f", test {test_acc:.2f}% ({epochs_run} epochs in this call)"
    )
    board.scalar("test/accuracy", test_acc, tcfg.epochs)  # the best checkpoint's, at the run's last epoch
    board.close()
    return TrainResult(
        run_dir=run_dir,
        test_accuracy=test_acc,
        best_val_accuracy=best_val,
        best_epoch=best_epoch,
        epochs_run=epochs_run,
        resumed_from=resumed_from,
        seconds=time.perf_counter() - start_time,
        summary=summary,
    )


def make_summary(
    model: torch.nn.Module,
    cfg: ExperimentConfig,
    test_acc: float | None,
    best_val: float | None,
    best_epoch: int,
    history: list[dict[str, Any]],
    *,
    healthy: bool = True,
    reason: str | None = None,
    majority: float | None = None,
) -> dict[str, Any]:
    """Return the contents of ``summary.json``.

    Accuracies in percent, the quantizer, whether training stayed healthy (and if not, why), the test
    split's most frequent class share and, per layer, range, max|w|, clipped share.
    """
    from wcatsim import __version__

    health: dict[str, Any] = {"healthy": healthy}
    if not healthy:
        health["reason"] = reason
    return {
        **health,
        "test_accuracy": None if test_acc is None else round(test_acc, 4),
        "best_val_accuracy": None if best_val is None else round(best_val, 4),
        "best_epoch": best_epoch,
        "epochs": len(history),
        "quantizer": cfg.quant.method,
        "bits": cfg.quant.bits if cfg.quant.method != "float" else None,
        "model": cfg.model.name,
        "dataset": cfg.data.name,
        "seed": cfg.trainer.seed,
        MAJORITY_KEY: None if majority is None else round(majority, 4),
        "train_seconds": round(sum(float(r["seconds"]) for r in history), 3),
        "version": __version__,
        "layers": layer_table(model),
    }


def layer_table(model: torch.nn.Module) -> dict[str, dict[str, float]]:
    """Per quantized layer: ``range`` (clipping range in use), ``max_abs_weight``, ``clipped_fraction``."""
    from wcatsim.train.quant import layer_stats

    table = {}
    for name, stats in layer_stats(model).items():
        table[name] = {
            "range": float(stats["range"]),
            "max_abs_weight": float(stats["max_abs_weight"]),
            "clipped_fraction": float(stats["clipped_fraction"]),
        }
    return table


# ---------------------------------------------------------------- helpers


def _make_optimizer(model: torch.nn.Module, cfg: ExperimentConfig) -> torch.optim.Optimizer:
    from wcatsim.train.quant import param_groups

    tcfg = cfg.trainer
    # the weights, and the learned ranges in a group of their own (param_groups says why): the same helper
    # a user's own training loop calls
    groups = param_groups(model, tcfg.lr, weight_decay=tcfg.weight_decay, range_decay=tcfg.range_decay,
                          range_lr=tcfg.range_lr, method=cfg.quant.method)
    if tcfg.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=tcfg.lr, momentum=tcfg.momentum, nesterov=tcfg.nesterov and tcfg.momentum > 0
        )
    return torch.optim.Adam(groups, lr=tcfg.lr)


def _model_from_init(cfg: ExperimentConfig, data: Any, path: Path) -> torch.nn.Module:
    """Return a model of ``cfg`` with the weights of the checkpoint at ``path`` (ranges re-initialised)."""
    from wcatsim.train.quant import quantize, reinit_ranges
    from wcatsim.train.runs import build_float_model

    source = read_checkpoint(path)
    saved = source.get("config", {})
    wanted = cfg.to_dict()
    if saved.get("model", {}).get("name") != cfg.model.name:
        raise CheckpointError(
            f"`trainer.init_from` {path}: it holds a {saved.get('model', {}).get('name', '?')} model, this "
            f"run trains a {cfg.model.name}; start from a checkpoint of the same architecture"
        )
    if saved.get("data", {}).get("name") != wanted["data"]["name"]:
        # Another dataset may mean another input shape or class count: the shape check below decides.
        pass
    float_model = build_float_model(cfg, data)
    own = float_model.state_dict()
    # Take the float parameters and buffers only: a quantized source's ranges are not reused.
    state = {k: v for k, v in source["model"].items() if k in own}
    load_model_state(float_model, state, path)
    model = quantize(float_model, cfg.quant)
    reinit_ranges(model)
    return model


def _check_resumable(state: dict[str, Any], cfg: ExperimentConfig, path: Path) -> None:
    saved = identity_sections(state.get("config", {}))
    wanted = identity_sections(cfg.to_dict())  # data.stream / data.workers may change between calls
    check_same_model(saved, wanted, path)
    diffs = [
        f"{section}.{key}"
        for section in MODEL_SECTIONS
        for key in sorted(set(saved.get(section, {})) | set(wanted[section]))
        if saved.get(section, {}).get(key) != wanted[section].get(key)
    ]
    if diffs:
        raise CheckpointError(
            f"{path} was written by another config (differs in {', '.join(diffs[:5])}); "
            f"pass `option.fresh` to start over in {path.parent}, or train into another `option.out`"
        )
    if "optimizer" not in state or "epoch" not in state:
        raise CheckpointError(
            f"{path} has no optimizer state to resume from; pass `option.fresh` to start over"
        )


def _model_payload(model: torch.nn.Module, cfg: ExperimentConfig, epoch: int, val_acc: float | None) -> dict:
    return {
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "config": cfg.to_dict(),
        "config_toml": cfg.to_toml(),
        "epoch": epoch,
        "val_accuracy": val_acc,
    }


def _non_finite_message(
    run_dir: Path, epoch: int, step: int, value: float, best_epoch: int, what: str = "loss"
) -> str:
    kept = (
        f"the last good checkpoints (best: epoch {best_epoch}) are kept in {run_dir}"
        if best_epoch
        else f"no epoch finished, so {run_dir} holds no checkpoint"
    )
    return (
        f"{what} became {'non-finite' if what == 'weights' else value} at epoch {epoch + 1}, "
        f"step {step + 1}; training stopped and {kept}. "
        "Lower trainer.lr or set trainer.grad_clip, then rerun with `option.fresh`"
    )


@dataclass
class _HealthContext:
    """What the health checks and the unhealthy summary need besides the model."""

    run_dir: Path
    cfg: ExperimentConfig
    log: _Log
    device: torch.device
    test_images: Any  # wcatsim.train.datasets.streaming.EvalImages of the test split
    val_majority: float | None  # most frequent class share of the validation split (percent)
    train_majority: float | None  # ... of the training split, used where there is no validation split
    steps_per_epoch: int = 0  # optimizer steps per epoch (1: the advice is about batch size and epochs)

    def problem(
        self, model: torch.nn.Module, epoch: int, val_acc: float | None, train_acc: float,
        val_n: int | None = None, train_n: int = 0,
    ) -> str | None:
        """Return what is wrong after ``epoch`` (1-based): one line naming cause and fix; None if healthy.

        Checked: a learned range at its floor (every epoch); accuracy at chance from epoch
        CHANCE_FROM_EPOCH on (validation accuracy over ``val_n`` images; training accuracy over the
        epoch's ``train_n`` images where there is no validation split), by
        :func:`wcatsim.train.health.chance_verdict` (a binomial test on the split's size).
        """
        from wcatsim.train.quant import collapsed_ranges

        kept = f"the checkpoints are kept in {self.run_dir} for inspection"
        tcfg, method = self.cfg.trainer, self.cfg.quant.method
        fallen = collapsed_ranges(model)
        if fallen:
            names = ", ".join(fallen[:4]) + (f" and {len(fallen) - 4} more" if len(fallen) > 4 else "")
            suggested = (tcfg.range_lr if tcfg.range_lr > 0 else tcfg.lr) / 10
            return (
                f"{method} ranges of {names} fell to the floor at epoch {epoch}: lower trainer.lr or set "
                f"trainer.range_lr (e.g. {suggested:g}), then train again; {kept}"
            )
        if epoch < CHANCE_FROM_EPOCH:
            return None
        if val_acc is not None:
            split, acc, majority, n = "validation", val_acc, self.val_majority, int(val_n or 0)
        else:
            split, acc, majority, n = "training", train_acc, self.train_majority, int(train_n)
        if majority is None:
            return None
        verdict = chance_verdict(round(acc * n / 100.0), n, majority)
        if not verdict.at_chance:
            return None
        # A run whose epoch is one step has taken a handful of steps by now: too few, whatever the rate.
        fix = single_step_advice(self.steps_per_epoch, tcfg.batch_size, tcfg.epochs)
        if fix is None:
            fix = "lower trainer.lr (e.g. 10x)" if tcfg.optimizer == "sgd" else "lower trainer.lr"
            if method in ("wcat", "lsq"):
                fix += " or set trainer.range_lr"
        return (
            f"{split} accuracy {acc:.2f}% at epoch {epoch} is at chance (most frequent class: "
            f"{majority:.2f}%; {verdict.describe()}): the model is not learning; {fix}, then train again "
            f"(or set trainer.health = \"warn\" to go on); {kept}"
        )

    def stop(
        self, error: type[TrainingHealthError], reason: str, model: torch.nn.Module,
        history: list[dict[str, Any]],
    ) -> None:
        """Record the failure and raise ``error``.

        The failure goes to train.log and to summary.json with ``healthy: false``, describing the best
        checkpoint kept, its test accuracy measured, where there is one. The run's records keep the words
        they always had: an ``option.NAME`` key of ``reason`` is written as its flag there (the exception
        itself names the key, sram_models.errors).
        """
        from sram_models.errors import render_keys

        exc_reason, reason = reason, render_keys(reason, lambda key: None)
        self.log.write("stopped, unhealthy: " + reason)
        test_acc, best_val, best_epoch = None, None, 0
        if (self.run_dir / BEST).is_file():
            best = read_checkpoint(self.run_dir / BEST)
            load_model_state(model, best["model"], self.run_dir / BEST)
            best_val, best_epoch = best.get("val_accuracy"), int(best.get("epoch", 0))
            test_acc = _accuracy(model, self.test_images, self.device)
        summary = make_summary(
            model, self.cfg, test_acc, best_val, best_epoch, history, healthy=False, reason=reason,
            majority=majority_share(self.test_images.y),
        )
        atomic_write_json(self.run_dir / SUMMARY_FILE, summary)
        raise error(exc_reason)


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + 17) % (2**63 - 1)


def _accuracy(model: torch.nn.Module, images: Any, dev: torch.device) -> float:
    from wcatsim.train.evaluate import accuracy_on

    was_training = model.training
    model.eval()
    try:
        return float(accuracy_on(model, images, device=dev))
    finally:
        model.train(was_training)


def _mean_range_ratio(model: torch.nn.Module) -> float | None:
    """Mean over layers of range / max|w| (1 = no clipping; WCAT drives it below 1); None for float."""
    from wcatsim.train.quant import layer_stats

    stats = layer_stats(model)
    ratios = [s["range"] / s["max_abs_weight"] for s in stats.values() if s["max_abs_weight"] > 0]
    return round(sum(ratios) / len(ratios), 4) if ratios else None


class _BatchSource:
    """Shuffled (and, where the dataset has an augmentation, augmented) training batches.

    In-memory image datasets (``x``, ``y``, ``augment_batch``) are sliced and augmented a batch at a time;
    any other torch Dataset goes through a DataLoader. Everything random draws from ``generator``.
    """

    def __init__(self, dataset: Any, batch_size: int) -> None:
        if len(dataset) == 0:
            raise InputError("the training split is empty; check the dataset")
        self.dataset = dataset
        self.batch_size = batch_size
        self.in_memory = all(hasattr(dataset, a) for a in ("x", "y", "augment_batch"))

    def steps(self, limit: int) -> int:
        full = math.ceil(len(self.dataset) / self.batch_size)
        return min(full, limit) if limit > 0 else full

    def epoch(self, limit: int, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.dataset), generator=generator)
        steps = self.steps(limit)
        if self.in_memory:
            for i in range(steps):
                idx = order[i * self.batch_size : (i + 1) * self.batch_size]
                x = self.dataset.augment_batch(self.dataset.x[idx], generator=generator)
                yield x, self.dataset.y[idx]
            return
        sampler: list[Any] = order[: steps * self.batch_size].tolist()
        if getattr(self.dataset, "seeded_items", False):
            # one augmentation seed per drawn image (from the epoch's generator), so the augmentation is the
            # same whichever loader worker decodes the image
            seeds = torch.randint(0, 2**62, (len(sampler),), generator=generator).tolist()
            sampler = list(zip(sampler, seeds, strict=True))
        loader = torch.utils.data.DataLoader(self.dataset, batch_size=self.batch_size, sampler=sampler,
                                             num_workers=getattr(self.dataset, "workers", 0))
        yield from loader


class _Log:
    """``train.log``: appended line by line (timestamps in UTC); each line is also a log message."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, line: str, level: int = logging.INFO, epoch: dict[str, Any] | None = None) -> None:
        """Append ``line`` and log it; ``epoch`` (the metrics row) rides on the record as ``epoch_row``."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(f"{stamp} {line}\n")
        logger.log(level, "%s", line, extra={"run_dir": str(self.path.parent), "epoch_row": epoch})


def _describe_cfg(cfg: ExperimentConfig) -> str:
    t = cfg.trainer
    quant = "float" if cfg.quant.method == "float" else f"{cfg.quant.bits}-bit {cfg.quant.method}"
    return (
        f"{cfg.model.name} on {cfg.data.name}, {quant}; {t.optimizer} lr {t.lr} {t.schedule}, "
        f"{t.epochs} epochs, batch {t.batch_size}, weight decay {t.weight_decay}, "
        f"range decay {t.range_decay}, range lr {t.range_lr or t.lr}, seed {t.seed}"
    )


def _progress_bar(enabled: bool, total: int, initial: int, name: str) -> Any:
    from wcatsim.train.progress import bar

    return bar(enabled, total=total, initial=initial, desc=name, unit="step", leave=False, dynamic_ncols=True)


__all__ = [
    "CHANCE_FROM_EPOCH", "NonFiniteLossError", "TrainResult", "TrainingHealthError", "layer_table",
    "make_summary", "train",
]
