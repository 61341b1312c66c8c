"""The lean inference layers: the same floats as nn.BatchNorm2d and nn.MaxPool2d, less memory in inference."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from wcatsim.train.models.lean_inference import POOL_CHUNK, BatchChunkedMaxPool2d, InplaceBatchNorm2d
from wcatsim.train.models.registry import build_model


def _pair(channels: int = 8) -> tuple[nn.BatchNorm2d, InplaceBatchNorm2d]:
    torch.manual_seed(0)
    plain = nn.BatchNorm2d(channels)
    with torch.no_grad():
        plain.running_mean.normal_()
        plain.running_var.uniform_(0.25, 4.0)
        plain.weight.normal_()
        plain.bias.normal_()
    inplace = InplaceBatchNorm2d(channels)
    inplace.load_state_dict(plain.state_dict())
    return plain.eval(), inplace.eval()


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("shape", [(5, 8, 9, 7), (1, 8, 1, 1), (64, 8, 30, 30)])
def test_inference_is_bit_identical_and_in_place(layout: torch.memory_format, shape: tuple[int, ...]) -> None:
    plain, inplace = _pair()
    x = torch.randn(shape).contiguous(memory_format=layout)
    with torch.no_grad():
        expected = plain(x)
        y = x.clone(memory_format=torch.preserve_format)
        out = inplace(y)
    assert out.data_ptr() == y.data_ptr(), "inference should overwrite the input"
    assert torch.equal(out, expected)
    assert out.stride() == expected.stride()


def test_training_and_autograd_take_the_ordinary_path() -> None:
    plain, inplace = _pair()
    x = torch.randn(4, 8, 5, 5)
    kept = x.clone()
    # autograd on (the Bit-Flip Attack's gradients): a new tensor, the input untouched, same gradient
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    plain(xa).square().sum().backward()
    inplace(xb).square().sum().backward()
    assert torch.equal(xa.grad, xb.grad)
    # training mode updates the running statistics exactly as the plain module does
    plain.train(), inplace.train()
    with torch.no_grad():
        assert torch.equal(plain(x), inplace(x))
    assert torch.equal(plain.running_mean, inplace.running_mean)
    assert torch.equal(x, kept), "training mode must not overwrite the input"


def test_resnet18_state_dict_and_outputs_unchanged() -> None:
    torch.manual_seed(0)
    model = build_model("resnet18", 10, 3, 64, width=8).eval()
    assert sum(isinstance(m, InplaceBatchNorm2d) for m in model.modules()) == 20
    assert isinstance(model.maxpool, BatchChunkedMaxPool2d)
    reference = build_model("resnet18", 10, 3, 64, width=8)
    for module in list(reference.modules()):  # the same network with plain batch norms and pools
        for child_name, child in list(module.named_children()):
            if isinstance(child, InplaceBatchNorm2d):
                setattr(module, child_name, nn.BatchNorm2d(child.num_features))
            elif isinstance(child, BatchChunkedMaxPool2d):
                setattr(module, child_name, nn.MaxPool2d(3, stride=2, padding=1))
    reference.load_state_dict(model.state_dict())
    reference.eval()
    for m in model.modules():  # non-trivial statistics, so the test sees the normalisation
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 2.0)
            m.running_mean.normal_(0, 0.1)
    reference.load_state_dict(model.state_dict())
    x = torch.randn(2 * POOL_CHUNK + 3, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize(("batch", "pool"), [(3 * POOL_CHUNK + 5, (3, 2, 1)), (2 * POOL_CHUNK, (2, 2, 0)),
                                              (POOL_CHUNK + 1, (3, 2, 1))])
def test_chunked_max_pool_is_bit_identical(layout: torch.memory_format, batch: int,
                                           pool: tuple[int, int, int]) -> None:
    kernel, stride, padding = pool
    torch.manual_seed(1)
    x = torch.randn(batch, 6, 13, 11).contiguous(memory_format=layout)
    plain = nn.MaxPool2d(kernel, stride=stride, padding=padding)
    chunked = BatchChunkedMaxPool2d(kernel, stride=stride, padding=padding)
    with torch.no_grad():
        expected, got = plain(x), chunked(x)
    assert torch.equal(got, expected)
    assert got.stride() == expected.stride()
    # with autograd the ordinary path runs and the gradient is the plain one
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    plain(xa).sum().backward()
    chunked(xb).sum().backward()
    assert torch.equal(xa.grad, xb.grad)
