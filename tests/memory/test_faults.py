"""The model <-> memory bridge: exact packing, untouched clean model, same numbers as the naive path."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from sram_models.errors import InputError
from tests import naive


@pytest.fixture(scope="module")
def wcat_run(digits_runs):
    from wcatsim.train.runs import load_run

    return load_run(digits_runs["wcat"], device="cpu")


@pytest.fixture(scope="module")
def evaluator(wcat_run):
    from wcatsim.memory.evaluator import FaultEvaluator

    return FaultEvaluator.for_run(wcat_run)


def test_memory_holds_exactly_the_models_integer_weights(wcat_run) -> None:
    from wcatsim.image import weight_image
    from wcatsim.memory.evaluator import ModelMemory

    image = weight_image(wcat_run.model)
    memory = ModelMemory(wcat_run.model)
    assert memory.layers == list(image)
    assert memory.layout.bits == 4 and memory.layout.word_bits == 64 and memory.layout.ecc is None
    assert memory.image.n_weights == sum(li.codes.numel() for li in image.values())
    unpacked = memory.image.unpack()
    for name, li in image.items():
        assert np.array_equal(unpacked[name], li.codes.numpy()), name
    with pytest.raises(InputError, match="not quantized layers"):
        ModelMemory(wcat_run.model, layers=["conv1", "nope"])
    one = ModelMemory(wcat_run.model, layers=[memory.layers[-1]], word_bits=32, ecc="secded")
    assert one.layers == [memory.layers[-1]] and one.layout.check_bits == 7


def test_changed_bits_is_exact(evaluator) -> None:
    from wcatsim.memory.evaluator import make_flip_model

    memory = evaluator.memory
    for seed in range(3):
        result = memory.corrupt(make_flip_model("transient", 5e-3), seed)
        ours = memory.changed_bits(result.codes)
        ref = sum(
            naive.changed_bits_reference(memory.clean_codes[n], result.codes[n], memory.bits)
            for n in memory.layers
        )
        assert ours == ref == result.bits_changed, (ours, ref, result.bits_changed)
        assert ours > 0


def test_clean_accuracy_is_the_fake_quant_accuracy(wcat_run, evaluator) -> None:
    from wcatsim.train.evaluate import accuracy

    x, y = wcat_run.data.test_tensors()
    assert evaluator.clean_acc == accuracy(wcat_run.model, x, y, batch_size=evaluator.batch_size)
    acc, changed, images = evaluator.evaluate(evaluator.memory.clean_codes)
    assert (acc, changed, images) == (evaluator.clean_acc, 0, 0)


def test_faulty_evaluation_never_touches_or_copies_the_clean_model(wcat_run, evaluator, monkeypatch) -> None:
    from wcatsim.memory.evaluator import make_flip_model

    before = {k: v.clone() for k, v in wcat_run.model.state_dict().items()}

    def no_deepcopy(*args, **kwargs):
        raise AssertionError("a realisation deep-copied something")

    monkeypatch.setattr(copy, "deepcopy", no_deepcopy)
    result = evaluator.memory.corrupt(make_flip_model("transient", 3e-2), 11)
    acc, changed, images = evaluator.evaluate(result.codes)
    monkeypatch.undo()
    assert changed > 0 and images == evaluator.n_images
    after = wcat_run.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the clean model was modified"
    # ... and it still computes the clean accuracy afterwards.
    again, _, _ = evaluator.evaluate(evaluator.memory.clean_codes)
    assert again == evaluator.clean_acc


def _fixed_range_twin(run, method: str):
    """The trained wcat model's weights under a wclip or plclip quantizer (untrained for it, but a real
    model of real shape with clipped weights: the step formulas and the evaluation path are what count)."""
    from wcatsim.config import ExperimentConfig
    from wcatsim.train.quant import QuantConfig
    from wcatsim.train.runs import build_model_for

    cfg = ExperimentConfig(quant=QuantConfig(method=method, bits=4, w_max=0.3, plclip_base=0.4))
    model = build_model_for(cfg, run.data)
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in run.model.state_dict().items() if k in own}, strict=False)
    return model.eval()


@pytest.mark.parametrize("method", ["wcat", "maxabs", "lsq", "wclip", "plclip"])
def test_faulty_accuracy_equals_the_naive_float_copy_path(method, digits_runs, wcat_run) -> None:
    from wcatsim.image import weight_image
    from wcatsim.memory.evaluator import FaultEvaluator, ModelMemory, make_flip_model
    from wcatsim.train.runs import load_run

    run = wcat_run if method == "wcat" else None
    if method in ("maxabs", "lsq"):
        run = load_run(digits_runs[method], device="cpu")
    model = run.model if run is not None else _fixed_range_twin(wcat_run, method)
    x, y = wcat_run.data.test_tensors()
    steps = naive.naive_steps(model)
    assert steps == {n: li.step for n, li in weight_image(model).items()}, "steps differ from the formulas"
    codes = naive.naive_clean_codes(model, steps)
    assert all(torch.equal(codes[n], li.codes.to(torch.int64)) for n, li in weight_image(model).items())
    evaluator = FaultEvaluator(ModelMemory(model), x, y, device="cpu")
    assert evaluator.clean_acc == naive.naive_corrupted_accuracy(model, {}, x, y)
    for seed in range(2):
        result = evaluator.memory.corrupt(make_flip_model("transient", 2e-2), seed)
        acc, _, _ = evaluator.evaluate(result.codes)
        ref = naive.naive_corrupted_accuracy(model, result.codes, x, y)
        assert acc == pytest.approx(ref, abs=1e-9), (method, seed, acc, ref)


def test_protected_sign_bits_never_change(evaluator) -> None:
    from wcatsim.memory.evaluator import make_flip_model

    memory = evaluator.memory
    result = memory.corrupt(make_flip_model("transient", 5e-2, protect_msb=1.0), 4)
    assert result.bits_changed > 0
    for name in memory.layers:
        assert np.array_equal(result.codes[name] < 0, memory.clean_codes[name] < 0), name
    with pytest.raises(InputError, match="unknown fault model"):
        make_flip_model("cosmic-ray", 1e-3)
