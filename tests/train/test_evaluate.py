"""Clean accuracy and device selection (wcatsim.train.evaluate)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sram_models.errors import InputError
from wcatsim.train.evaluate import accuracy, predict, resolve_device
from wcatsim.train.models import build_model
from wcatsim.train.quant import QuantConfig, quantize


class PickChannel(nn.Module):
    """Predicts the class whose input feature is largest: accuracy is known by construction."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def test_accuracy_is_percent_of_correct_predictions() -> None:
    x = torch.eye(4).repeat(25, 1)  # 100 samples, sample i is one-hot at i % 4
    y = torch.arange(100) % 4
    y_wrong = y.clone()
    y_wrong[:7] = (y_wrong[:7] + 1) % 4
    model = PickChannel()
    assert accuracy(model, x, y) == 100.0
    assert accuracy(model, x, y_wrong, batch_size=16) == 93.0
    assert not model.training


def test_accuracy_matches_a_plain_forward_for_a_conv_model() -> None:
    torch.manual_seed(0)
    model = quantize(build_model("small_cnn", 10, 1, 8), QuantConfig(method="wcat", bits=4))
    x = torch.randn(70, 1, 8, 8)
    model.train()
    with torch.no_grad():
        model.eval()
        labels = model(x).argmax(1)
    labels[:10] = (labels[:10] + 1) % 10
    assert torch.equal(predict(model, x, batch_size=32)[10:], labels[10:])
    assert accuracy(model, x, labels, batch_size=32) == pytest.approx(100 * 60 / 70)
    assert all(p.grad is None for p in model.parameters())


def test_accuracy_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="labels"):
        accuracy(PickChannel(), torch.zeros(3, 4), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(InputError, match="empty"):
        accuracy(PickChannel(), torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64))


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InputError, match="use auto, cpu or cuda"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without a GPU")
def test_cuda_without_a_gpu_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no CUDA GPU is available: use `option.device` cpu or auto"):
        resolve_device("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_accuracy_on_gpu_matches_cpu() -> None:
    torch.manual_seed(0)
    model = quantize(build_model("small_cnn", 10, 1, 8), QuantConfig(method="wcat", bits=4))
    x = torch.randn(200, 1, 8, 8)
    y = torch.randint(0, 10, (200,))
    on_cpu = accuracy(model, x, y)
    assert accuracy(model, x, y, device="cuda") == pytest.approx(on_cpu, abs=1.0)
