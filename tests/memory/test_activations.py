"""The activation buffer: one fault at a chosen bit, faults off exactly clean, the BER convention."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests import naive

BITS = 8


@pytest.fixture(scope="module")
def maxabs_run(digits_runs):
    from wcatsim.train.runs import load_run

    return load_run(digits_runs["maxabs"], device="cpu")


@pytest.fixture(scope="module")
def calibration(maxabs_run):
    from wcatsim.memory.activations import calibration_images

    return calibration_images(maxabs_run, 64, seed=0)


@pytest.fixture(scope="module")
def buffer(maxabs_run, calibration):
    from wcatsim.memory.activations import ActivationBuffer

    return ActivationBuffer(maxabs_run.model, calibration, bits=BITS)


@pytest.fixture(scope="module")
def test_x(maxabs_run):
    x, _ = maxabs_run.data.test_tensors()
    return x


class OneCell:
    """A fault 'model' that flips one chosen cell of one layer's read (every other read is clean)."""

    def __init__(self, layer: str, cell: int) -> None:
        self.layer, self.cell = layer, cell

    def corrupt(self, image, seed, voltage=None):
        from sram_models import read_back

        words = image.words.copy()
        if image.names == [self.layer]:
            word, bit = divmod(self.cell, image.layout.phys_bits)
            words[word, bit // 64] ^= np.uint64(1 << (bit % 64))
        return read_back(image, words)


def _inputs(model, layer):
    """A pre-hook recording the input ``layer`` receives (registered last: after the buffer's hooks)."""
    from wcatsim.train.quant import quantized_layers

    seen = []
    handle = quantized_layers(model)[layer].register_forward_pre_hook(lambda m, a: seen.append(a[0].clone()))
    return seen, handle


def test_ranges_are_the_calibration_images_min_and_max(maxabs_run, calibration, buffer) -> None:
    from wcatsim.train.quant import quantized_layers

    seen = {}
    layers = quantized_layers(maxabs_run.model)
    handles = [layers[n].register_forward_pre_hook(lambda m, a, n=n: seen.setdefault(n, a[0].clone()))
               for n in buffer.layers]  # fmt: skip
    with torch.inference_mode():
        maxabs_run.model.eval()(calibration)
    for handle in handles:
        handle.remove()
    assert buffer.layers == list(layers)
    for name, x in seen.items():
        step, unsigned = naive.naive_act_range(float(x.min()), float(x.max()), BITS)
        got = buffer.ranges[name]
        assert (got.step, got.unsigned) == (step, unsigned), name
        assert buffer.volume(name) == x[0].numel()
    # the network's input is signed (normalised pixels), every later input follows a ReLU
    assert [buffer.ranges[n].unsigned for n in buffer.layers] == [False, True, True, True]


@pytest.mark.parametrize("layer_index, image, element, bit", [(0, 3, 17, 0), (1, 5, 700, 7), (2, 0, 511, 4),
                                                              (3, 9, 255, 6), (1, 2, 3, 3)])  # fmt: skip
def test_one_fault_changes_that_element_by_its_bit_weight(buffer, maxabs_run, test_x, layer_index, image,
                                                          element, bit) -> None:  # fmt: skip
    from wcatsim.memory.activations import ActivationRead

    model = maxabs_run.model.eval()
    layer = buffer.layers[layer_index]
    rng = buffer.ranges[layer]
    x = test_x[:16]
    with buffer.reading(model, None):
        seen_clean, handle = _inputs(model, layer)
        with torch.inference_mode():
            model(x)
        handle.remove()
    read = ActivationRead(OneCell(layer, buffer.cell(layer, image, element, bit)), seed=0)
    raw, raw_handle = _inputs(model, layer)  # registered first: the float input, before the buffer
    with buffer.reading(model, read) as stats:
        seen, handle = _inputs(model, layer)
        with torch.inference_mode():
            model(x)
        handle.remove()
    raw_handle.remove()
    # by hand: the stored codes of the float input, the one element's code with its bit flipped
    codes = naive.naive_act_store(raw[0], rng.step, rng.unsigned, BITS)
    flat = codes.reshape(codes.shape[0], -1)
    flipped = flat.clone()
    flipped[image, element] = naive.naive_flip(int(flat[image, element]), bit, BITS)
    assert abs(int(flipped[image, element]) - int(flat[image, element])) == 2**bit
    expected = naive.naive_act_value(flipped.reshape(codes.shape), rng.step, rng.unsigned, BITS, raw[0].dtype)
    assert torch.equal(seen[0], expected)
    clean = naive.naive_act_value(codes, rng.step, rng.unsigned, BITS, raw[0].dtype)
    assert torch.equal(seen_clean[0], clean)
    differs = (seen[0] != clean).reshape(codes.shape[0], -1).nonzero().tolist()
    assert differs == [[image, element]]
    assert stats.bits_changed == 1 and stats.per_layer[layer] == 1 and stats.reads == len(buffer.layers)


def _naive_logits(model, x, buffer):
    """Logits with every quantized layer's input stored and read back by hand (hooks of plain torch)."""
    from wcatsim.train.quant import quantized_layers

    layers = quantized_layers(model)
    handles = []
    for name in buffer.layers:
        rng = buffer.ranges[name]

        def hook(m, a, rng=rng):
            codes = naive.naive_act_store(a[0], rng.step, rng.unsigned, BITS)
            return (naive.naive_act_value(codes, rng.step, rng.unsigned, BITS, a[0].dtype),)

        handles.append(layers[name].register_forward_pre_hook(hook))
    try:
        with torch.inference_mode():
            return model(x)
    finally:
        for handle in handles:
            handle.remove()


def test_faults_off_gives_the_clean_logits_exactly(buffer, maxabs_run, test_x) -> None:
    from sram_models import make_fault_model
    from wcatsim.memory.activations import ActivationRead

    model = maxabs_run.model.eval()
    x = test_x[:64]
    with torch.inference_mode():
        float_logits = model(x)
    reference = _naive_logits(model, x, buffer)
    for read in (None, ActivationRead(make_fault_model("transient", ber=0.0), seed=3),
                 ActivationRead(make_fault_model("chip", ber=0.0), seed=3)):  # fmt: skip
        with buffer.reading(model, read), torch.inference_mode():
            logits = model(x)
        assert torch.equal(logits, reference), read
    with torch.inference_mode():  # the hooks are gone after the block
        assert torch.equal(model(x), float_logits)


def test_target_weights_keeps_float_activations(maxabs_run) -> None:
    from wcatsim.config import ActivationSpec
    from wcatsim.memory.evaluator import FaultEvaluator

    plain = FaultEvaluator.for_run(maxabs_run, eval_images=100)
    same = FaultEvaluator.for_run(maxabs_run, eval_images=100, activations=ActivationSpec(target="weights"))
    assert same.activations is None and same.clean_acc == plain.clean_acc
    stored = FaultEvaluator.for_run(
        maxabs_run, eval_images=100, activations=ActivationSpec(target="activations", calibration_images=64)
    )
    assert stored.activations is not None and stored.activations.calibration_images == 64
    # the clean read of the stored activations is the clean accuracy, exactly and without evaluation
    assert stored.evaluate(stored.memory.clean_codes) == (stored.clean_acc, 0, 0)


@pytest.mark.parametrize("fault", ["transient", "chip"])
@pytest.mark.parametrize("ber", [1e-3, 2e-2])
def test_flip_rate_follows_the_ber_convention(buffer, maxabs_run, test_x, fault, ber) -> None:
    """bits read wrong / bits read = ber for every model (README: one bit-error convention).

    transient flips every cell independently: binomial, 5 standard errors.  chip cells are stuck
    (2 x ber of them, each at 0 or 1 half the time, so a read is wrong with probability ber whatever
    is stored), the same cells under every image and layer: the reads of one chip are correlated, at
    most ``images x layers`` reads per cell, so n_eff >= bits read / (images x layers) per chip.
    """
    from sram_models import make_fault_model
    from wcatsim.memory.activations import ActivationRead

    model = maxabs_run.model.eval()
    x = test_x[:128]
    changed = read_bits = 0
    chips = 20 if fault == "chip" else 2
    for seed in range(chips):
        read = ActivationRead(make_fault_model(fault, ber=ber), seed=seed)
        with buffer.reading(model, read) as stats, torch.inference_mode():
            model(x)
        changed += stats.bits_changed
        read_bits += stats.bits_read
    assert read_bits == chips * x.shape[0] * buffer.volume_per_inference * BITS
    n_eff = read_bits if fault == "transient" else read_bits / (x.shape[0] * len(buffer.layers))
    bound = 5 * math.sqrt(ber * (1 - ber) / n_eff)
    rate = changed / read_bits
    assert abs(rate - ber) <= bound, f"{fault}: flip rate {rate:.4g} vs ber {ber:g}, bound {bound:.3g}"


def test_transient_draws_afresh_per_batch_chip_maps_cells_onto_addresses(buffer, maxabs_run, test_x) -> None:
    from sram_models import make_fault_model
    from wcatsim.memory.activations import ActivationRead

    model = maxabs_run.model.eval()
    layer = buffer.layers[1]
    x = test_x[:1].repeat(8, 1, 1, 1)  # one image 8 times: only the faults can tell them apart
    for fault, persistent in (("transient", False), ("chip", True)):
        read = ActivationRead(make_fault_model(fault, ber=2e-2), seed=7)
        raw, raw_handle = _inputs(model, layer)
        with buffer.reading(model, read):
            seen, handle = _inputs(model, layer)
            with torch.inference_mode():
                model(x[:, :, :, :])
                model(x)  # a second inference batch
            handle.remove()
        raw_handle.remove()
        # the chip's cells: the same faults for every image and batch (when the layer's input is the
        # same: the first faulty layer's input differs across images under transient faults upstream)
        if persistent:
            assert torch.equal(raw[0], raw[1])
            assert all(torch.equal(seen[0][i], seen[0][0]) for i in range(8))
            assert torch.equal(seen[0], seen[1])
        else:
            assert not torch.equal(seen[0], seen[1])
            assert not all(torch.equal(seen[0][i], seen[0][0]) for i in range(8))


def test_buffer_energy_counts_a_write_and_a_read_per_activation(buffer) -> None:
    from sram_models import load_technology

    tech = load_technology("chandramoorthy14")
    report = buffer.energy(tech, tech.v_nominal)
    words = sum(-(-buffer.volume(n) // (64 // BITS)) for n in buffer.layers)
    # dynamic: every word written once and read once, 64 cells each, at the read energy of a bit
    assert report.dynamic == pytest.approx(2 * words * 64 * float(tech.read_energy_norm(tech.v_nominal)),
                                           rel=1e-12)  # fmt: skip
    assert report.cells == 512 * 64  # the capacity (largest input: 128 words) fills one 512-row array


def test_the_buffers_scheme_corrects_a_single_fault(maxabs_run, calibration, test_x) -> None:
    """With SECDED on the buffer's words, one flipped cell (data or check bit) reads back clean."""
    from wcatsim.memory.activations import ActivationBuffer, ActivationRead

    protected = ActivationBuffer(maxabs_run.model, calibration, bits=BITS, protect="secded")
    assert protected.layout.phys_bits == 72
    model = maxabs_run.model.eval()
    x = test_x[:16]
    with protected.reading(model, None), torch.inference_mode():
        clean = model(x)
    layer = protected.layers[1]
    data_cell = protected.cell(layer, 2, 40, 7)
    check_cell = (data_cell // 72) * 72 + 64 + 3  # a check bit of the same word
    for cell in (data_cell, check_cell):
        with protected.reading(model, ActivationRead(OneCell(layer, cell), seed=0)) as stats:
            with torch.inference_mode():
                logits = model(x)
        assert torch.equal(logits, clean) and stats.bits_changed == 0 and stats.faulty_cells == 1, cell
    plain = ActivationBuffer(maxabs_run.model, calibration, bits=BITS)
    with plain.reading(model, ActivationRead(OneCell(layer, plain.cell(layer, 2, 40, 7)), 0)) as stats:
        with torch.inference_mode():
            model(x)
    assert stats.bits_changed == 1
