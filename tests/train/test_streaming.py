"""Streamed evaluation: the same numbers as in memory, in a fixed order; --eval-images subsets."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sram_models.errors import InputError
from wcatsim.train.datasets.streaming import EvalImages, LazyImages, stratified_subset

IMAGEFOLDER = ["data.name=imagefolder", "data.image_size=16", "data.resize=20", "quant.method=maxabs",
               "quant.bits=4", "trainer.epochs=4", "data.val_fraction=0.2", "data.workers=0"]


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-bit small CNN trained briefly on a generated imagefolder (3 classes, 18 test images)."""
    from wcatsim.config import load_config
    from wcatsim.train.datasets.synthetic import write_image_folder
    from wcatsim.train.trainer import train

    base = tmp_path_factory.mktemp("stream")
    root = write_image_folder(base / "data", classes=3, train_per_class=10, val_per_class=6, size=24)
    cfg = load_config([], [*IMAGEFOLDER, f"data.root={json.dumps(str(root))}"])
    return train(cfg, out_dir=base / "run", device="cpu", progress=False).run_dir


def _accuracies(run, stream: bool, bers=(0.0, 3e-2, 1e-1), seeds=(0, 1, 2)) -> list[float]:
    from wcatsim.memory.evaluator import FaultEvaluator, make_flip_model

    run.data = dataclasses.replace(run.data, stream=stream, workers=2)  # streamed: two worker processes
    evaluator = FaultEvaluator.for_run(run)
    assert evaluator.streamed is stream
    out = [evaluator.clean_acc]
    for ber in bers:
        for seed in seeds:
            result = evaluator.memory.corrupt(make_flip_model("transient", ber), seed)
            out.append(evaluator.evaluate(result.codes)[0])
    return out


def test_streamed_and_in_memory_evaluation_agree_exactly_on_files(folder_run: Path) -> None:
    from wcatsim.train.runs import load_run

    run = load_run(folder_run, device="cpu")
    in_memory = _accuracies(run, stream=False)
    streamed = _accuracies(run, stream=True)  # two DataLoader worker processes decode the JPEGs
    assert streamed == in_memory
    assert len(set(in_memory)) > 1, "the faults must change some accuracy, or the comparison proves nothing"


def test_random_flip_sweep_streamed_equals_held_and_resumes_across_data_stream(folder_run: Path,
                                                                            tmp_path: Path) -> None:
    # data.stream changes neither a number nor a table's identity: a sweep held in memory and the same
    # sweep streamed write the same rows under the same fingerprint at one batch size (the batch size is
    # in the fingerprint: it changes the floating-point sums). Found: the streamed sweep crashed
    # reading the device of its absent test tensor, and the two fingerprints differed)
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep
    from wcatsim.store.atomic import read_csv
    from wcatsim.train.runs import load_run

    tables = {}
    for stream in (False, True):
        run = load_run(folder_run, device="cpu", stream=stream, workers=2 if stream else 0)
        out = tmp_path / f"rf_{stream}.csv"
        random_flip_sweep(run, [0.0, 5e-2], samples=3, out=out, device="cpu", batch_size=64)
        sidecar = json.loads(out.with_suffix(".json").read_text())
        tables[stream] = (read_csv(out), sidecar["fingerprint"])
        assert ("streamed" in sidecar["test_data"]) is stream, sidecar["test_data"]
    assert tables[True] == tables[False]


def test_streamed_and_in_memory_evaluation_agree_exactly_on_tensors(digits_runs) -> None:
    from wcatsim.memory.evaluator import FaultEvaluator
    from wcatsim.train.runs import load_run

    run = load_run(digits_runs["wcat"], device="cpu")
    assert _accuracies(run, stream=True, bers=(5e-2,)) == _accuracies(run, stream=False, bers=(5e-2,))
    # the fingerprint bytes of in-memory data are the tensors', as the sweeps always hashed them
    x, y = run.data.test_tensors()
    run.data = dataclasses.replace(run.data, stream="auto")
    evaluator = FaultEvaluator.for_run(run)
    assert evaluator.data_identity() == x.contiguous().numpy().tobytes() + y.numpy().tobytes()


def test_auto_streams_above_the_size_limit(monkeypatch, digits_runs) -> None:
    from wcatsim.train.datasets import load_dataset, streaming

    data = load_dataset("digits")
    assert data.eval_images("test").in_memory
    monkeypatch.setattr(streaming, "STREAM_ABOVE_BYTES", 1000)
    images = data.eval_images("test")
    assert not images.in_memory and "streamed through a DataLoader" in images.description
    batches = list(images.batches())
    assert torch.equal(torch.cat([b[0] for b in batches]), data.test.x), "fixed order, every image once"
    assert list(images.batches())[0][0].shape[0] == images.batch_size
    forced = dataclasses.replace(data, stream=False).eval_images("test")
    assert forced.in_memory, "data.stream = false holds it in memory whatever its size"


def test_lazy_images_decode_on_slicing_in_the_order_asked(folder_run: Path) -> None:
    from wcatsim.train.runs import load_run

    data = load_run(folder_run, device="cpu").data
    full = EvalImages(data.test, stream=False, workers=0).x
    lazy = EvalImages(data.test, stream=True, workers=0).tensors()[0]
    assert isinstance(lazy, LazyImages) and lazy.shape == full.shape and lazy.dim() == 4
    assert torch.equal(lazy[2:5], full[2:5]) and torch.equal(lazy[3], full[3])
    order = torch.tensor([5, 0, 7])
    assert torch.equal(lazy[order], full[order])
    assert lazy.contiguous(memory_format=torch.channels_last) is lazy


def test_bfa_runs_on_streamed_data_with_the_same_flips(folder_run: Path, monkeypatch) -> None:
    from wcatsim.experiments.attacks.bfa import run_bfa
    from wcatsim.train.datasets import streaming
    from wcatsim.train.runs import load_run

    results = []
    for stream in (False, True):
        if stream:  # the test set stays lazy (decoded slice by slice), an attack batch is decoded
            monkeypatch.setattr(streaming, "STREAM_ABOVE_BYTES", 30_000)  # 18 test images: 55 kB
        run = load_run(folder_run, device="cpu", stream=stream, workers=0)
        if stream:
            assert isinstance(run.data.test_tensors()[0], LazyImages)
        result = run_bfa(run, trials=1, k_top=5, max_flips=4, max_iterations=4, attack_batch=8,
                         threshold=0.0, write=False)
        results.append(result.trials[0])
    a, b = results
    keys = ("layer", "index", "bit", "acc")
    assert [tuple(r[k] for k in keys) for r in a.rows] == [tuple(r[k] for k in keys) for r in b.rows]
    assert a.flips >= 1 and a.final_acc == b.final_acc


def test_stratified_subset_counts_follow_the_largest_remainder_rule() -> None:
    labels = np.repeat([0, 1, 2, 3], [50, 30, 15, 5])  # 100 images
    for k in (1, 7, 10, 33, 99):
        chosen = stratified_subset(labels, k, seed=4)
        assert len(chosen) == k and len(set(chosen.tolist())) == k and np.all(np.diff(chosen) > 0)
        quota = np.array([50, 30, 15, 5]) * k / 100
        base = np.floor(quota).astype(int)
        extra = k - base.sum()
        # independent reading of the rule: the `extra` classes with the largest fractional parts get one more
        remainders = sorted(range(4), key=lambda c: (-(quota[c] - base[c]), c))
        expected = base.copy()
        expected[remainders[:extra]] += 1
        assert np.bincount(labels[chosen], minlength=4).tolist() == expected.tolist(), k
    assert np.array_equal(stratified_subset(labels, 10, 4), stratified_subset(labels, 10, 4))
    assert not np.array_equal(stratified_subset(labels, 10, 4), stratified_subset(labels, 10, 5))
    assert np.array_equal(stratified_subset(labels, 100, 0), np.arange(100))
    with pytest.raises(InputError, match="the test split has only 100 images; drop `memory.eval_images`"):
        stratified_subset(labels, 500, 0)  # refused: a sidecar of 100 images would not be the 500 asked for
    with pytest.raises(InputError, match="positive number"):
        stratified_subset(labels, 0, 0)


def test_random_flip_on_an_eval_images_subset_is_recorded(digits_runs, tmp_path: Path) -> None:
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep
    from wcatsim.store.atomic import read_csv
    from wcatsim.train.runs import load_run

    run = load_run(digits_runs["maxabs"], device="cpu")
    out = tmp_path / "rf.csv"
    random_flip_sweep(run, [2e-2], samples=3, out=out, per_realisation=True, eval_images=40, device="cpu")
    record = json.loads(out.with_suffix(".json").read_text())["settings"]["eval_images"]
    assert record["images"] == 40 and record["of"] == 539 and record["seed"] == 0
    assert record["indices"] == stratified_subset(run.data.test.y, 40, 0).tolist()
    assert "realisations on this fixed subset" in record["note"]
    counts = np.bincount(run.data.test.y.numpy()[record["indices"]], minlength=10)
    assert counts.min() >= 3 and counts.max() <= 5, f"stratified over 10 classes: {counts}"
    assert {r["images"] for r in read_csv(tmp_path / "rf_realisations.csv")} <= {"40", "0"}
    # another subset size is another table (the settings differ), never a silent mix
    random_flip_sweep(run, [2e-2], samples=3, out=out, eval_images=20, device="cpu")
    kept = [p.name for p in tmp_path.glob("rf.*.csv")]  # the earlier table, named by when and fingerprint
    assert len(kept) == 1, kept


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_streamed_evaluation_on_the_gpu_matches_the_cpu(folder_run: Path) -> None:
    from wcatsim.train.runs import load_run

    cpu = _accuracies(load_run(folder_run, device="cpu"), stream=True)
    gpu = _accuracies(load_run(folder_run, device="cuda"), stream=True)
    one_image = 100.0 / 18
    assert all(abs(a - b) <= one_image + 1e-9 for a, b in zip(cpu, gpu, strict=True)), (cpu, gpu)
