"""Conformance over the quantizer and model registries: every registered quantizer on every registered
model runs from its integer weight image bit for bit as its fake-quant forward; the README lists exactly
the registered names.

A model is built at its smallest practical size: the keyword arguments it declares that set its width
or depth are shrunk (SHRINK), and the image is the smallest of IMAGE_SIZES its builder accepts.  A model
that stays larger than MAX_PARAMETERS after that runs only in the slow set, with the reason in its mark.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sram_models.errors import InputError
from wcatsim.config.registries import MODELS, QUANTIZERS
from wcatsim.image import run_from_image, weight_image
from wcatsim.train.models import build_model, model_args
from wcatsim.train.quant import QuantConfig, quantize, quantized_layers

# Width/depth arguments a model may declare, and the small value used here (applied only to the
# arguments the model declares; a value below an argument's minimum is raised to it).
SHRINK = {"width": 4, "hidden": 8, "embed_dim": 8, "depth": 1, "num_heads": 2, "last_channel": 8,
          "width_mult": 0.1}
IMAGE_SIZES = (8, 16, 32)  # the first one the builder accepts
MAX_PARAMETERS = 1_000_000  # above this at its smallest size, a model runs in the slow set only
BITS = 4
CLASSES = 5
CHANNELS = 3
BATCH = 3


def small_args(name: str) -> dict[str, object]:
    """The model's declared width/depth arguments set to their SHRINK values."""
    args = {}
    for arg, spec in model_args(name).items():
        if arg in SHRINK:
            value = SHRINK[arg]
            if spec.minimum is not None and value < spec.minimum:
                value = spec.kind(spec.minimum)
            args[arg] = spec.kind(value)
    return args


def build_small(name: str) -> tuple[nn.Module, int]:
    """The model at its smallest size, and the image size it was built for."""
    refusals = []
    for size in IMAGE_SIZES:
        try:
            return build_model(name, CLASSES, CHANNELS, size, **small_args(name)), size
        except InputError as exc:  # e.g. the VGGs need 32 pixels: try the next size
            refusals.append(f"{size}: {exc}")
    raise AssertionError(f"{name} builds at none of the sizes {IMAGE_SIZES}: {'; '.join(refusals)}")


def _size_of(name: str) -> int:
    with torch.device("meta"):
        model, _ = build_small(name)
    return sum(p.numel() for p in model.parameters())


def model_cases() -> list:
    cases = []
    for name in MODELS.names():
        count = _size_of(name)
        marks = []
        if count > MAX_PARAMETERS:
            marks = [pytest.mark.slow(reason=f"{count} parameters at its smallest size (> {MAX_PARAMETERS})")]
        cases.append(pytest.param(name, marks=marks, id=name))
    return cases


QUANTIZING = [name for name, kind in QUANTIZERS.items() if kind.quantizes]


def test_every_method_but_float_quantizes() -> None:
    # "float" is the one registered method without an integer image; every other one is run below
    assert "float" in QUANTIZERS and "float" not in QUANTIZING
    assert set(QUANTIZING) == set(QUANTIZERS.names()) - {"float"}
    model = nn.Sequential(nn.Linear(4, 3))
    assert quantize(model, QuantConfig(method="float")) is model and not quantized_layers(model)


@pytest.mark.parametrize("method", QUANTIZING)
@pytest.mark.parametrize("name", model_cases())
def test_fake_quant_equals_the_run_from_the_integer_image(name: str, method: str) -> None:
    torch.manual_seed(0)
    model, size = build_small(name)
    weighted = [n for n, m in model.named_modules() if type(m) in (nn.Conv2d, nn.Linear)]
    model = quantize(model, QuantConfig(method=method, bits=BITS))
    # every Conv2d and Linear is quantized (none is left float silently) and is in the image
    assert list(quantized_layers(model)) == weighted
    image = weight_image(model)
    assert list(image) == weighted
    model.train()
    with torch.no_grad():
        model(torch.randn(BATCH + 1, CHANNELS, size, size))  # batch-norm statistics move
    model.eval()
    x = torch.randn(BATCH, CHANNELS, size, size)
    codes = {layer: img.codes for layer, img in image.items()}
    zeros = {layer: torch.zeros_like(c) for layer, c in codes.items()}
    with torch.inference_mode():
        fake = model(x)
        with run_from_image(model, codes):
            from_image = model(x)
        with run_from_image(model, zeros):
            from_zeros = model(x)
    assert fake.shape == (BATCH, CLASSES)
    assert torch.equal(fake, from_image), f"{name} {method}: the run from the image differs from fake-quant"
    # the image is what the model ran from: all-zero codes give other outputs
    assert not torch.equal(fake, from_zeros), f"{name} {method}: zero codes left the outputs unchanged"
