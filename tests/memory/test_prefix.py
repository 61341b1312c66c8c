"""Faults confined to later layers replay the clean prefix: the same accuracies as whole forwards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wcatsim.memory.evaluator import FaultEvaluator, ModelMemory
from wcatsim.train.models import build_model
from wcatsim.train.quant import QuantConfig, quantize


def _evaluator(seed: int = 0, images: int = 300, batch: int = 64) -> FaultEvaluator:
    torch.manual_seed(seed)
    # ResNet-20 modifies outputs in place (out += shortcut): the records must find and copy those.
    model = quantize(build_model("resnet20", 10, 3, 8), QuantConfig(method="maxabs", bits=4)).eval()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(images, 3, 8, 8, generator=generator)
    y = torch.randint(0, 10, (images,), generator=generator)
    return FaultEvaluator(ModelMemory(model), x, y, batch_size=batch)  # 300 = 4 x 64 + a partial batch


def _read(clean: dict[str, np.ndarray], layers: list[str], seed: int) -> dict[str, np.ndarray]:
    """Codes with random 4-bit codes in a third of ``layers``' weights, the rest clean."""
    rng = np.random.default_rng(seed)
    codes = {name: c.copy() for name, c in clean.items()}
    for name in layers:
        hit = rng.random(codes[name].shape) < 1 / 3
        codes[name][hit] = rng.integers(-8, 8, size=int(hit.sum()))
    return codes


@pytest.mark.parametrize("batches_in_budget", [None, 1.5])
def test_reads_faulty_from_a_later_layer_give_exactly_the_plain_accuracy(batches_in_budget) -> None:
    evaluator = _evaluator()
    memory_bytes = None
    if batches_in_budget is not None:  # a budget that holds the largest record of one batch and a half
        with evaluator.sharing_clean_prefix():
            evaluator.evaluate(_read(evaluator.memory.clean_codes, [evaluator.memory.layers[-1]], seed=7))
            memory_bytes = int(batches_in_budget * max(evaluator._prefix._bytes.values()))
    names = evaluator.memory.layers
    clean = evaluator.memory.clean_codes
    # later and earlier first faulty layers in turn (records re-made and cut back), a repeated layer,
    # two layers at once, and the first layer (nothing to replay)
    order = [names[5], names[12], names[3], names[12], names[-1], names[0], names[8], names[15]]
    reads = [_read(clean, [name], seed=i) for i, name in enumerate(order)]
    reads.append(_read(clean, [names[10], names[17]], seed=99))
    plain = [evaluator.evaluate(codes)[0] for codes in reads]
    assert len(set(plain)) > 3, f"the faults should move the accuracy: {plain}"
    with evaluator.sharing_clean_prefix(memory_bytes):
        prefix = evaluator._prefix
        shared = [evaluator.evaluate(codes)[0] for codes in reads]
        assert prefix.replayed_calls > 0, "no unit call was replayed: the test would not test the prefix"
        if memory_bytes is not None:
            assert 0 < sum(prefix._bytes.values()) <= memory_bytes and prefix._whole, "the budget binds"
    assert shared == plain
    assert evaluator._prefix is None  # the block ends the sharing
    assert [evaluator.evaluate(codes)[0] for codes in reads] == plain


def test_a_subsets_replayed_answers_are_exactly_the_plain_ones() -> None:
    # correct_replayed: a subset's own clean prefix recorded under its key and replayed (the plan's chips,
    # each on its own images at every point); the answers must equal correct()'s, image by image.
    evaluator = _evaluator()
    names = evaluator.memory.layers
    clean = evaluator.memory.clean_codes
    rng = np.random.default_rng(4)
    subsets = {key: np.sort(rng.choice(300, size=size, replace=False))
               for key, size in (("a", 150), ("b", 70))}  # fmt: skip
    reads = [_read(clean, [name], seed=i) for i, name in enumerate([names[9], names[4], names[14], names[0]])]
    plain = {key: [evaluator.correct(codes, chosen) for codes in reads] for key, chosen in subsets.items()}
    assert len({int(p.sum()) for p in plain["a"]}) > 1, "the faults should move the answers"
    with evaluator.sharing_clean_prefix():
        replayed = {key: [evaluator.correct_replayed(codes, chosen, key, share=2) for codes in reads]
                    for key, chosen in subsets.items()}  # fmt: skip
        held = evaluator._subset_prefixes
        assert set(held) == {"a", "b"}
        assert sum(p.replayed_calls for p in held.values()) > 0, "nothing was replayed"
        assert all(p.memory_bytes == evaluator._prefix.memory_bytes // 2 for p in held.values())
    for key in subsets:
        for mine, reference in zip(replayed[key], plain[key], strict=True):
            assert np.array_equal(mine, reference)
    assert evaluator._subset_prefixes == {}  # the block ends the sharing
    assert np.array_equal(evaluator.correct_replayed(reads[0], subsets["a"], "a"), plain["a"][0])
