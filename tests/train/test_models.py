"""Model registry: output shapes, sizes from the papers, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sram_models.errors import InputError
from wcatsim.train.models import MODEL_NAMES, build_model
from wcatsim.train.quant import QuantConfig, quantize, quantized_layers


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# the deeper ResNets share resnet20's code (only n differs); their sizes are checked below
@pytest.mark.parametrize("name", ["mlp", "small_cnn", "lenet5", "resnet20"])
@pytest.mark.parametrize("channels,size,classes", [(1, 8, 10), (1, 28, 10), (3, 32, 7)])
def test_output_shapes(name: str, channels: int, size: int, classes: int) -> None:
    torch.manual_seed(0)
    model = build_model(name, classes, channels, size).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, channels, size, size))
    assert out.shape == (2, classes)


def test_model_names() -> None:
    assert set(MODEL_NAMES) == {"mlp", "small_cnn", "lenet5", "resnet20", "resnet32", "resnet44", "resnet56",
                                "resnet18", "resnet34", "resnet50", "vgg11_bn", "vgg16_bn", "mobilenet_v2",
                                "deit_tiny", "deit_small"}


@pytest.mark.parametrize("depth,millions", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85)])
def test_cifar_resnet_sizes_match_he_et_al_table_6(depth: int, millions: float) -> None:
    model = build_model(f"resnet{depth}", 10, 3, 32)
    assert round(n_params(model) / 1e6, 2) == millions
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == depth - 1, "option-A shortcuts add no conv layers"


def test_lenet5_on_mnist_is_the_classic_size() -> None:
    model = build_model("lenet5", 10, 1, 28)
    assert n_params(model) == 61706  # 2 convs (6, 16 maps of 5x5) + 120 + 84 + 10 units
    assert [type(m).__name__ for m in model.children()].count("Linear") == 3


def test_every_conv_and_linear_is_quantized_first_and_last_included() -> None:
    model = quantize(build_model("small_cnn", 10, 1, 8), QuantConfig(method="maxabs"))
    assert list(quantized_layers(model)) == ["conv1", "conv2", "conv3", "fc"]
    assert not any(type(m) in (nn.Conv2d, nn.Linear) for m in model.modules())


def test_bad_names_and_sizes_are_input_errors() -> None:
    # the registry's one-line message: the allowed names and the closest one
    with pytest.raises(InputError, match=r"unknown model 'vgg16'.*allowed: mlp, small_cnn, lenet5, resnet20.*"
                                         r"did you mean 'vgg16_bn'"):
        build_model("vgg16")
    with pytest.raises(InputError, match="num_classes"):
        build_model("mlp", 1)
    with pytest.raises(InputError, match="image_size"):
        build_model("mlp", 10, 1, 0)
    with pytest.raises(InputError, match="at least 4x4"):
        build_model("lenet5", 10, 1, 3)
