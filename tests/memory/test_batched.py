"""Several realisations in one batched forward give the results of one realisation at a time.

The reference is the plain path: the model loaded with one read (``ModelMemory.loaded``) and called on
the images, one read after the other.  Logits must agree within ``LOGIT_ATOL + LOGIT_RTOL * max|logit|``
(the recorded float tolerance); accuracies, per-image answers and whole Monte Carlo tables exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from wcatsim.memory.batched import LOGIT_ATOL, LOGIT_RTOL, logits_batched, stacked_weights
from wcatsim.memory.evaluator import FaultEvaluator, ModelMemory, make_flip_model
from wcatsim.train.models import build_model
from wcatsim.train.quant import QuantConfig, quantize


def _one_by_one_logits(memory: ModelMemory, reads: list[dict], x: torch.Tensor) -> torch.Tensor:
    out = []
    with torch.inference_mode():
        for codes in reads:
            with memory.loaded(codes) as model:
                out.append(model.eval()(x))
    return torch.stack(out)


def _assert_logits_close(batched: torch.Tensor, single: torch.Tensor) -> None:
    bound = LOGIT_ATOL + LOGIT_RTOL * float(single.abs().max())
    worst = float((batched - single).abs().max())
    assert batched.shape == single.shape
    assert worst <= bound, f"batched logits differ by {worst:.3g} > {bound:.3g}"


def _faulty_reads(memory: ModelMemory, ber: float, seeds: range) -> list[dict]:
    fault = make_flip_model("transient", ber)
    return [memory.corrupt(fault, seed).codes for seed in seeds]


def _tiny(name: str, size: int, images: int, seed: int = 0) -> FaultEvaluator:
    torch.manual_seed(seed)
    model = quantize(build_model(name, 10, 3, size), QuantConfig(method="maxabs", bits=4)).eval()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(images, 3, size, size, generator=generator)
    y = torch.randint(0, 10, (images,), generator=generator)
    return FaultEvaluator(ModelMemory(model), x, y, batch_size=32)  # 32 < images: several image batches


def test_digits_batched_equals_one_by_one(digits_runs) -> None:
    from wcatsim.train.runs import load_run

    evaluator = FaultEvaluator.for_run(load_run(digits_runs["wcat"], device="cpu"))
    memory = evaluator.memory
    # 5 faulty reads and the clean read (which evaluate_many must answer without a forward, as evaluate)
    reads = _faulty_reads(memory, 3e-2, range(5)) + [memory.clean_codes]
    single = [evaluator.evaluate(codes) for codes in reads]
    assert len({acc for acc, _, _ in single}) >= 3, f"the faults should move the accuracy: {single}"
    assert evaluator.evaluate_many(reads) == single
    x = evaluator.x[:128]
    _assert_logits_close(logits_batched(memory.model, stacked_weights(memory, reads[:5]), x),
                         _one_by_one_logits(memory, reads[:5], x))


@pytest.mark.parametrize(("name", "size", "images"), [("resnet20", 8, 80), ("resnet18", 32, 40)])
def test_tiny_resnets_batched_equal_one_by_one(name: str, size: int, images: int) -> None:
    # resnet18 is the ImageNet layout: its in-place batch norm and chunked max pooling run on the folded batch
    evaluator = _tiny(name, size, images)
    memory = evaluator.memory
    reads = _faulty_reads(memory, 2e-2, range(3))
    single = [evaluator.evaluate(codes) for codes in reads]
    assert evaluator.evaluate_many(reads) == single
    x = evaluator.x[:16]
    _assert_logits_close(logits_batched(memory.model, stacked_weights(memory, reads), x),
                         _one_by_one_logits(memory, reads, x))
    # nested Monte Carlo: each read on its own subset of one size
    rng = np.random.default_rng(1)
    subsets = [rng.choice(images, size=25, replace=False) for _ in reads]
    batched = evaluator.correct_many(reads, subsets)
    for got, codes, chosen in zip(batched, reads, subsets, strict=True):
        np.testing.assert_array_equal(got, evaluator.correct(codes, chosen))


def test_grouped_circular_convolution_and_bias_free_linear() -> None:
    # groups > 1 and a non-zero padding mode take the grouped path's other branches; a Linear without bias
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(4, 8, 3, padding=1, groups=2, padding_mode="circular"), nn.ReLU(),
        nn.Conv2d(8, 6, 3, stride=2, bias=False), nn.Flatten(), nn.Linear(6 * 3 * 3, 5, bias=False),
    )
    model = quantize(model, QuantConfig(method="maxabs", bits=4)).eval()
    memory = ModelMemory(model)
    reads = _faulty_reads(memory, 5e-2, range(4))
    x = torch.randn(7, 4, 8, 8).contiguous(memory_format=torch.channels_last)
    single = _one_by_one_logits(memory, reads, x)
    assert float((single[0] - single[1]).abs().max()) > 0, "the reads should change the logits"
    _assert_logits_close(logits_batched(model, stacked_weights(memory, reads), x), single)
    assert model[0].forward.__func__ is type(model[0]).forward, "the block restores the layers' forward"


@pytest.mark.parametrize("images", [None, 100])
def test_batched_sweep_gives_the_same_table(digits_runs, tmp_path, images) -> None:
    from wcatsim.config.specs import MonteCarloSpec
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep
    from wcatsim.store.atomic import read_csv

    tables = {}
    for batch in (1, 4):
        out = tmp_path / f"b{batch}.csv"
        random_flip_sweep(digits_runs["wcat"], [0.0, 3e-2], out=out, per_realisation=True, device="cpu",
                          montecarlo=MonteCarloSpec(samples=6, batch_realisations=batch), images=images)
        tables[batch] = read_csv(out.with_name(out.stem + "_realisations.csv"))
    # the same faults (seeds) and the same accuracies, realisation by realisation
    assert tables[4] == tables[1]
    assert len({row["accuracy"] for row in tables[1]}) >= 3


@pytest.mark.slow  # inductor compiles C++ kernels with gcc: tens of seconds on two cores
def test_compiled_forward_gives_the_eager_accuracies(digits_runs) -> None:
    from wcatsim.train.runs import load_run

    evaluator = FaultEvaluator.for_run(load_run(digits_runs["wcat"], device="cpu"))
    reads = _faulty_reads(evaluator.memory, 3e-2, range(4))
    eager = [evaluator.evaluate(codes) for codes in reads]
    assert len({acc for acc, _, _ in eager}) >= 2, f"the faults should move the accuracy: {eager}"
    every = np.arange(evaluator.n_images)
    eager_correct = [evaluator.correct(codes, every) for codes in reads]
    evaluator.compile_forward()
    assert [evaluator.evaluate(codes) for codes in reads] == eager
    # the nested design's per-image correctness through the compiled module: the same images right
    for codes, expected in zip(reads, eager_correct, strict=True):
        assert np.array_equal(evaluator.correct(codes, every), expected)
        assert np.array_equal(evaluator.correct(codes, every[::7]), expected[::7])


def test_settings_reach_the_montecarlo_spec() -> None:
    from wcatsim.config import load_config

    cfg = load_config([], ["attack.random_flip.batch_realisations=4", "attack.sweep.batch_realisations=3",
                           "attack.sweep.compile=true"])
    spec = cfg.attack.random_flip.montecarlo_spec()
    assert (spec.batch_realisations, spec.compile) == (4, False)
    spec = cfg.attack.sweep.montecarlo_spec()
    assert (spec.batch_realisations, spec.compile) == (3, True)
    assert load_config([], []).attack.random_flip.montecarlo_spec().batch_realisations == 1


def test_streamed_test_set_batched_equals_one_by_one(digits_runs) -> None:
    import dataclasses

    from wcatsim.train.runs import load_run

    run = load_run(digits_runs["wcat"], device="cpu")
    run.data = dataclasses.replace(run.data, stream=True, workers=0)  # decoded batch by batch, in order
    evaluator = FaultEvaluator.for_run(run)
    assert evaluator.streamed
    reads = _faulty_reads(evaluator.memory, 5e-2, range(3))
    single = [evaluator.evaluate(codes) for codes in reads]
    assert len({acc for acc, _, _ in single}) >= 2, f"the faults should move the accuracy: {single}"
    assert evaluator.evaluate_many(reads) == single


def test_batched_voltage_sweep_gives_the_same_chips(digits_runs, tmp_path) -> None:
    # persistent chips (nested fault maps): chip i is the same draw whether evaluated alone or in a batch
    from wcatsim.config.specs import MonteCarloSpec
    from wcatsim.experiments.sweeps.sweep import voltage_sweep
    from wcatsim.store.atomic import read_csv

    tables = {}
    for batch in (1, 3):
        out = tmp_path / f"v{batch}.csv"
        voltage_sweep(digits_runs["wcat"], "chandramoorthy14", [0.78, 0.75], out=out, per_realisation=True,
                      device="cpu", montecarlo=MonteCarloSpec(samples=4, batch_realisations=batch))
        tables[batch] = read_csv(out.with_name(out.stem + "_realisations.csv"))
    assert tables[3] == tables[1]
    assert len({row["accuracy"] for row in tables[1]}) >= 3, tables[1]


def test_activation_faults_go_one_by_one_with_the_same_table(digits_runs, tmp_path) -> None:
    # activation reads are drawn per realisation inside the buffer's hooks: a batch falls back to them
    from wcatsim.config import ActivationSpec
    from wcatsim.config.specs import MonteCarloSpec
    from wcatsim.experiments.sweeps.sweep import random_flip_sweep
    from wcatsim.store.atomic import read_csv

    act = ActivationSpec(target="activations", calibration_images=64)
    tables = {}
    for batch in (1, 3):
        out = tmp_path / f"a{batch}.csv"
        random_flip_sweep(digits_runs["maxabs"], [1e-1], out=out, per_realisation=True, device="cpu",
                          eval_images=100, activations=act,
                          montecarlo=MonteCarloSpec(samples=3, batch_realisations=batch))
        tables[batch] = read_csv(out.with_name(out.stem + "_realisations.csv"))
    assert tables[3] == tables[1]
    assert len({row["accuracy"] for row in tables[1]}) >= 2, tables[1]
