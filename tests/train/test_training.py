"""The trainer: resume, determinism, checkpoint refusal, non-finite loss, optimizer groups, schedules."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

import wcatsim.train.trainer as training
from wcatsim.config import load_config
from wcatsim.errors import CheckpointError, InputError
from wcatsim.store.atomic import read_csv
from wcatsim.train.checkpoints import BEST, LAST, check_same_model, read_checkpoint
from wcatsim.train.quant import layer_stats, range_parameters
from wcatsim.train.runs import build_model_for, load_dataset_for, load_run
from wcatsim.train.schedules import lr_factor
from wcatsim.train.trainer import NonFiniteLossError, train

# A ResNet-20 on synthetic CIFAR-shaped data (with its random crop/flip augmentation), a few steps per epoch.
RESNET = [
    "model.name=resnet20",
    "data.name=synthetic_cifar",
    "trainer.optimizer=sgd",
    "trainer.lr=0.05",
    "trainer.weight_decay=5e-4",
    "trainer.range_decay=0.01",
    "trainer.epochs=2",
    "trainer.steps_per_epoch=2",
    "trainer.batch_size=16",
    "data.val_fraction=0.05",
]
# The digits recipe cut to a couple of seconds.
TINY = ["trainer.epochs=2", "trainer.steps_per_epoch=4"]


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models: one thread is as fast, and far faster when other processes share the cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def fit(overrides: list[str], out: Path, **kwargs):
    return train(load_config([], overrides), out_dir=out, device="cpu", progress=False, **kwargs)


def states_equal(a: dict, b: dict) -> list[str]:
    """Names of entries that differ (exact comparison)."""
    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k])]


def test_resnet20_resumed_after_an_interruption_ends_exactly_like_an_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_config([], RESNET)
    straight = train(cfg, out_dir=tmp_path / "straight", device="cpu", progress=False)
    assert straight.epochs_run == 2 and straight.resumed_from is None

    # Interrupt the second run right after its first epoch's checkpoints are written.
    real_write_csv = training.atomic_write_csv

    def interrupt_after_first_epoch(path, columns, rows):
        real_write_csv(path, columns, rows)
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "atomic_write_csv", interrupt_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, out_dir=tmp_path / "resumed", device="cpu", progress=False)
    monkeypatch.setattr(training, "atomic_write_csv", real_write_csv)
    assert read_checkpoint(tmp_path / "resumed" / LAST)["epoch"] == 1

    resumed = train(cfg, out_dir=tmp_path / "resumed", device="cpu", progress=False)
    assert resumed.resumed_from == 1 and resumed.epochs_run == 1

    a = read_checkpoint(tmp_path / "straight" / LAST)
    b = read_checkpoint(tmp_path / "resumed" / LAST)
    assert states_equal(a["model"], b["model"]) == []  # every parameter and BN buffer, bit for bit
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    assert resumed.test_accuracy == straight.test_accuracy
    rows_a = read_csv(tmp_path / "straight" / "metrics.csv")
    rows_b = read_csv(tmp_path / "resumed" / "metrics.csv")
    for ra, rb in zip(rows_a, rows_b, strict=True):
        ra.pop("seconds"), rb.pop("seconds")
        assert ra == rb
    # the ranges have their own decayed group and moved
    stats = layer_stats(load_run(tmp_path / "resumed").model).values()
    assert any(s["range"] != s["max_abs_weight"] for s in stats)


def test_same_seed_same_model_other_seed_other_model(tmp_path: Path) -> None:
    a = fit(TINY, tmp_path / "a")
    b = fit(TINY, tmp_path / "b")
    c = fit([*TINY, "trainer.seed=1"], tmp_path / "c")
    sa, sb, sc = (read_checkpoint(r.run_dir / LAST)["model"] for r in (a, b, c))
    assert states_equal(sa, sb) == []
    assert states_equal(sa, sc) != []


def test_a_finished_run_is_not_retrained_and_fresh_starts_over(tmp_path: Path) -> None:
    cfg = load_config([], TINY)
    first = train(cfg, out_dir=tmp_path, device="cpu", progress=False)
    again = train(cfg, out_dir=tmp_path, device="cpu", progress=False)
    assert again.epochs_run == 0 and again.test_accuracy == first.test_accuracy
    over = train(cfg, out_dir=tmp_path, device="cpu", progress=False, fresh=True)
    assert over.epochs_run == 2 and over.resumed_from is None
    assert over.test_accuracy == first.test_accuracy  # deterministic
    assert len(read_csv(tmp_path / "metrics.csv")) == 2
    # how the data is read is not the run: another data.workers / data.stream is the same finished run
    same = train(load_config([], [*TINY, "data.workers=1", "data.stream=true"]), out_dir=tmp_path,
                 device="cpu", progress=False)  # fmt: skip
    assert same.epochs_run == 0 and same.test_accuracy == first.test_accuracy


def test_run_dir_of_another_config_is_refused_unless_fresh(tmp_path: Path) -> None:
    train(load_config([], TINY), out_dir=tmp_path, device="cpu", progress=False)
    with pytest.raises(CheckpointError, match=r"another config \(differs in trainer.lr\).*`option.fresh`"):
        train(load_config([], [*TINY, "trainer.lr=0.002"]), out_dir=tmp_path, device="cpu", progress=False)
    with pytest.raises(CheckpointError, match="4-bit wcat.*8-bit wcat"):
        train(load_config([], [*TINY, "quant.bits=8"]), out_dir=tmp_path, device="cpu", progress=False)
    fit([*TINY, "quant.bits=8"], tmp_path, fresh=True)
    assert read_checkpoint(tmp_path / BEST)["config"]["quant"]["bits"] == 8


def test_checkpoint_of_another_architecture_or_bit_width_is_refused(
    digits_runs: dict, tmp_path: Path
) -> None:
    saved = read_checkpoint(digits_runs["wcat"] / BEST)
    wcat4 = saved["config"]
    for override, pattern in [
        ("quant.bits=8", "small_cnn on digits, 4-bit wcat, but this run is small_cnn on digits, 8-bit wcat"),
        ("model.name=mlp", "holds small_cnn on digits, 4-bit wcat, but this run is mlp"),
        ("quant.method=lsq", "quant.method"),
    ]:
        with pytest.raises(CheckpointError, match=pattern):
            check_same_model(wcat4, load_config([], [override]).to_dict(), digits_runs["wcat"] / BEST)
    # a checkpoint whose tensors do not fit is refused by shape, even with a matching config
    run = tmp_path / "run"
    shutil.copytree(digits_runs["wcat"], run)
    state = dict(saved)
    state["model"] = {k: (v[:1] if k == "conv1.weight" else v) for k, v in saved["model"].items()}
    torch.save(state, run / BEST)
    with pytest.raises(CheckpointError, match="shape of conv1.weight"):
        load_run(run)


def test_init_from_loads_float_weights_and_reinitialises_ranges(tmp_path: Path) -> None:
    float_run = fit([*TINY, "quant.method=float"], tmp_path / "float")
    source = read_checkpoint(float_run.run_dir / BEST)["model"]
    init = f"trainer.init_from={json.dumps(str(float_run.run_dir / BEST))}"
    cfg = load_config([], [*TINY, init])
    data = load_dataset_for(cfg)
    model = training._model_from_init(cfg, data, Path(cfg.trainer.init_from))
    for name, tensor in model.state_dict().items():
        if name in source:
            assert torch.equal(tensor, source[name]), name
    from wcatsim.train.quant import quantized_layers
    from wcatsim.train.quant.range_init import minimise_mse_range

    layers = quantized_layers(model)
    for name, stats in layer_stats(model).items():  # the default mse init, from the loaded weights
        want = minimise_mse_range(layers[name].weight, 4)
        assert stats["range"] == pytest.approx(want, rel=1e-6) and want < stats["max_abs_weight"], name
    result = train(cfg, out_dir=tmp_path / "wcat", device="cpu", progress=False)
    assert result.epochs_run == 2
    other = load_config([], [*TINY, "model.name=mlp", init])
    with pytest.raises(CheckpointError, match="holds a small_cnn model, this run trains a mlp"):
        train(other, out_dir=tmp_path / "mlp", device="cpu", progress=False)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_config([], ["trainer.epochs=3", "trainer.steps_per_epoch=3"])
    real = torch.nn.functional.cross_entropy
    calls = {"n": 0}

    def nan_in_second_epoch(logits, y):
        calls["n"] += 1
        loss = real(logits, y)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(training.F, "cross_entropy", nan_in_second_epoch)
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 2, step 2.*epoch 1.*kept"):
        train(cfg, out_dir=tmp_path, device="cpu", progress=False)
    assert read_checkpoint(tmp_path / LAST)["epoch"] == 1
    assert read_checkpoint(tmp_path / BEST)["epoch"] == 1
    assert "stopped, unhealthy: loss became nan" in (tmp_path / "train.log").read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["healthy"] is False and summary["reason"].startswith("loss became nan at epoch 2")
    assert summary["best_epoch"] == 1 and summary["test_accuracy"] > 0
    monkeypatch.setattr(training.F, "cross_entropy", real)
    # the kept checkpoint resumes
    assert train(cfg, out_dir=tmp_path, device="cpu", progress=False).resumed_from == 1


def test_a_diverging_learning_rate_stops_with_a_message(tmp_path: Path) -> None:
    cfg = load_config([], [*TINY, "trainer.optimizer=sgd", "trainer.lr=1e30", "trainer.schedule=constant"])
    with pytest.raises(NonFiniteLossError, match="no epoch finished.*Lower trainer.lr"):
        train(cfg, out_dir=tmp_path, device="cpu", progress=False)
    assert not (tmp_path / BEST).exists()


def test_a_range_at_its_floor_stops_the_run_naming_the_layer_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wcatsim.train.quant import quantized_layers

    cfg = load_config([], ["trainer.epochs=4", "trainer.steps_per_epoch=3"])
    real_step = torch.optim.Adam.step
    calls = {"n": 0}

    def collapse_conv2_in_epoch_2(self, *args, **kwargs):
        out = real_step(self, *args, **kwargs)
        calls["n"] += 1
        if 4 <= calls["n"] <= 6:  # what an SGD step far too large for the range does
            for group in self.param_groups:
                if group["name"] == "ranges":
                    group["params"][1].data.zero_()
        return out

    monkeypatch.setattr(torch.optim.Adam, "step", collapse_conv2_in_epoch_2)
    with pytest.raises(training.TrainingHealthError) as caught:
        train(cfg, out_dir=tmp_path, device="cpu", progress=False)
    message = str(caught.value)
    assert message.startswith("wcat ranges of conv2 fell to the floor at epoch 2: lower trainer.lr or set "
                              "trainer.range_lr (e.g. 0.0001)"), message
    assert "\n" not in message and str(tmp_path) in message
    assert not isinstance(caught.value, InputError)  # exit code 3, not 2
    assert read_checkpoint(tmp_path / LAST)["epoch"] == 2, "the collapsed epoch is kept for inspection"
    assert list(quantized_layers(load_run(tmp_path, device="cpu").model)) == ["conv1", "conv2", "conv3", "fc"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["healthy"] is False and summary["reason"] == message


def test_accuracy_at_chance_from_the_third_epoch_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = training._accuracy
    majority = None

    def dead_on_validation(model, images, dev):
        nonlocal majority
        y = images.y
        if len(y) == 126:  # the digits' validation split: answer like a model that predicts one class
            counts = torch.bincount(y)
            majority = 100.0 * float(counts.max()) / len(y)
            return majority + 1.9  # within 2 points of the most frequent class
        return real(model, images, dev)

    monkeypatch.setattr(training, "_accuracy", dead_on_validation)
    two = fit(["trainer.epochs=2", "trainer.steps_per_epoch=2"], tmp_path / "two")  # too short to judge
    assert json.loads((two.run_dir / "summary.json").read_text())["healthy"] is True
    at_chance = r"validation accuracy .* at epoch 3 is at chance"
    with pytest.raises(training.TrainingHealthError, match=at_chance) as e:
        fit(["trainer.epochs=5", "trainer.steps_per_epoch=2"], tmp_path / "five")
    assert f"most frequent class: {majority:.2f}%" in str(e.value) and "lower trainer.lr" in str(e.value)
    assert read_checkpoint(tmp_path / "five" / LAST)["epoch"] == 3
    summary = json.loads((tmp_path / "five" / "summary.json").read_text())
    assert summary["healthy"] is False and "at chance" in summary["reason"]
    assert summary["test_majority_share"] == pytest.approx(100 * 55 / 539, abs=1e-3)  # 55 of 539 digits


def test_gradient_clipping_bounds_each_sgd_step(tmp_path: Path) -> None:
    # SGD without momentum moves each step by lr * clipped gradient: norm <= lr * grad_clip.
    cfg = load_config(
        [],
        [
            "trainer.optimizer=sgd",
            "trainer.momentum=0",
            "trainer.lr=1",
            "trainer.schedule=constant",
            "trainer.grad_clip=1e-4",
            "trainer.epochs=1",
            "trainer.steps_per_epoch=1",
            "quant.method=float",
            "data.val_fraction=0",
        ],
    )
    torch.manual_seed(cfg.trainer.seed)
    initial = build_model_for(cfg, load_dataset_for(cfg)).state_dict()
    train(cfg, out_dir=tmp_path, device="cpu", progress=False)
    final = read_checkpoint(tmp_path / LAST)["model"]
    moved = torch.cat([(final[k] - initial[k]).ravel() for k in initial if k.endswith(("weight", "bias"))])
    assert 0 < float(moved.norm()) <= 1e-4 * (1 + 1e-5), f"step norm {float(moved.norm())}"


def test_ranges_have_their_own_group_with_range_lr_and_range_decay_for_wcat() -> None:
    # (method, the ranges group's weight decay): WCAT's ranges get trainer.range_decay; LSQ's step keeps the
    # ordinary weight decay (as LSQ and the WCAT code do); maxabs has no learned range.
    for method, decay in [("wcat", 0.3), ("lsq", 5e-4), ("maxabs", None)]:
        for range_lr, want_lr in [(0.0, 2e-3), (1e-4, 1e-4)]:
            settings = ["trainer.lr=2e-3", f"trainer.range_lr={range_lr}"]
            decays = ["trainer.weight_decay=5e-4", "trainer.range_decay=0.3"]
            cfg = load_config([], [f"quant.method={method}", *decays, *settings])
            model = build_model_for(cfg, load_dataset_for(cfg))
            optimizer = training._make_optimizer(model, cfg)
            groups = {g["name"]: g for g in optimizer.param_groups}
            assert groups["weights"]["weight_decay"] == 5e-4 and groups["weights"]["lr"] == 2e-3
            n_all = sum(1 for _ in model.parameters())
            if decay is None:
                assert "ranges" not in groups and len(groups["weights"]["params"]) == n_all
                continue
            ranges = groups["ranges"]
            assert ranges["weight_decay"] == decay
            assert ranges["lr"] == pytest.approx(want_lr, rel=1e-12), (method, range_lr)
            assert {id(p) for p in ranges["params"]} == {id(p) for p in range_parameters(model)}
            assert len(groups["weights"]["params"]) + len(ranges["params"]) == n_all
    sgd = load_config([], ["trainer.optimizer=sgd"])
    optimizer = training._make_optimizer(build_model_for(sgd, load_dataset_for(sgd)), sgd)
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["nesterov"] is True


def test_range_lr_follows_the_schedule_in_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real_step = torch.optim.Adam.step

    def record(self, *args, **kwargs):
        seen.append({g["name"]: g["lr"] for g in self.param_groups})
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", record)
    fit([*TINY, "trainer.lr=1e-3", "trainer.range_lr=1e-4"], tmp_path)
    ratios = {round(s["ranges"] / s["weights"], 12) for s in seen if s["weights"] > 0}
    assert ratios == {0.1} and seen[-1]["weights"] < seen[0]["weights"], seen


def test_schedules() -> None:
    assert lr_factor("cosine", 0, 100, 0, 0.9) == 1.0
    assert lr_factor("cosine", 50, 100, 0, 0.9) == pytest.approx(0.5)
    assert lr_factor("cosine", 100, 100, 0, 0.9) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor("cosine", 25, 100, 0, 0.9) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_factor("exponential", 999, 100, 3, 0.9) == pytest.approx(0.729)
    assert lr_factor("constant", 7, 100, 3, 0.9) == 1.0


def test_metrics_and_summary_of_a_run(digits_runs: dict) -> None:
    rows = read_csv(digits_runs["wcat"] / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1))
    ratios = [float(r["mean_range_ratio"]) for r in rows]
    assert ratios[-1] < ratios[0] < 1.0, ratios  # range decay pulls WCAT's ranges down as training goes
    assert float(rows[-1]["lr"]) < float(rows[0]["lr"])  # cosine
    summary = json.loads((digits_runs["wcat"] / "summary.json").read_text())
    assert summary["best_epoch"] >= 1 and summary["epochs"] == len(rows)
    assert summary["healthy"] is True and "reason" not in summary


@pytest.mark.slow
def test_4bit_wcat_is_within_one_point_of_float_on_digits_with_ranges_below_max_abs(tmp_path: Path) -> None:
    """Issue 3's accuracy claim on the default recipe: 3 seeds of float and of 4-bit wcat (six models)."""
    means = {}
    for method in ("float", "wcat"):
        accs = []
        for seed in (0, 1, 2):
            result = fit([f"quant.method={method}", f"trainer.seed={seed}"], tmp_path / f"{method}-{seed}")
            accs.append(result.test_accuracy)
            if method != "wcat":
                continue
            print(f"\nwcat seed {seed}: test {result.test_accuracy:.2f}%; range / max|w| (clipped share):")
            for name, s in result.summary["layers"].items():
                share = 100 * s["clipped_fraction"]
                print(f"  {name:6s} {s['range']:.4f} / {s['max_abs_weight']:.4f} ({share:.1f}%)")
                assert s["range"] < s["max_abs_weight"], f"seed {seed} {name}: range not below max|w|"
        means[method] = sum(accs) / len(accs)
        print(f"{method}: test accuracy {means[method]:.2f}% (mean of seeds 0-2: {accs})")
    gap = means["float"] - means["wcat"]
    message = f"4-bit wcat {means['wcat']:.2f}% is {gap:.2f} points below float {means['float']:.2f}%"
    assert gap <= 1.0, message + " (bound: 1.0 point)"
