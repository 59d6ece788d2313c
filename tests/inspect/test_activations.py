"""Filters and activations: shapes, values, hooks that never linger, thread safety, any model."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.inspect.layers import activations, conv_filters
from cnnviz.models.cnn import ACTIVATION_LAYERS, CNN
from tests.foreign_models import ColourNet, NestedNet, colour_images, grey_images


@pytest.fixture
def model() -> CNN:
    torch.manual_seed(0)
    return CNN(batchnorm=True).eval()


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks for m in model.modules())


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in model.state_dict().items()}


def unchanged(model: nn.Module, before: dict[str, torch.Tensor]) -> bool:
    after = model.state_dict()
    return all(torch.equal(after[name], value) for name, value in before.items())


def test_filters_have_the_report_shapes_and_a_shared_symmetric_limit(model):
    first, second = conv_filters(model, "conv1"), conv_filters(model, "conv2")
    assert first.weights.shape == (32, 1, 3, 3) and second.weights.shape == (32, 32, 3, 3)
    assert first.limit == pytest.approx(float(model.conv1.weight.detach().abs().max()))
    assert np.abs(second.weights).max() == pytest.approx(second.limit)
    with pytest.raises(ValueError, match=r"not a convolution layer.*conv1, conv2"):
        conv_filters(model, "fc1")


def test_filters_of_nested_and_foreign_convolutions():
    nested, colour = NestedNet().double(), ColourNet()
    inner = conv_filters(nested, "blocks.1.conv")
    assert inner.weights.shape == (6, 6, 3, 3) and inner.weights.dtype == np.float32
    assert np.allclose(inner.weights, nested.blocks[1].conv.weight.detach().numpy())
    assert conv_filters(colour, "block.3").weights.shape == (16, 8, 3, 3)
    with pytest.raises(ValueError, match=r"block\.0, block\.3"):
        conv_filters(colour, "block.1")  # a ReLU


def test_activations_equal_a_hand_computed_forward_pass(model):
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    maps = activations(model, x, ACTIVATION_LAYERS)
    conv1 = F.conv2d(x, model.conv1.weight, model.conv1.bias, padding=1)
    pool1 = F.max_pool2d(F.relu(conv1), 2)
    conv2 = F.conv2d(pool1, model.conv2.weight, model.conv2.bias, padding=1)
    with torch.no_grad():
        relu2 = F.relu(model.conv2_bn(conv2))
    for name, expected in [("conv1", conv1), ("pool1", pool1), ("conv2", conv2), ("relu2", relu2)]:
        assert torch.allclose(maps[name], expected, atol=1e-5), name
    shapes = {name: tuple(t.shape) for name, t in maps.items()}
    assert shapes["relu1"] == (3, 32, 28, 28) and shapes["pool2"] == (3, 32, 7, 7)
    assert list(maps) == list(ACTIVATION_LAYERS)
    assert no_hooks(model)


def test_activations_of_a_colour_model_in_the_order_asked():
    net, x = ColourNet(), colour_images()
    maps = activations(net, x, ["head", "block.0", "block.2"])
    assert list(maps) == ["head", "block.0", "block.2"]
    with torch.no_grad():
        first = net.block[0](x)
        assert torch.allclose(maps["block.0"], first, atol=1e-6)
        assert torch.allclose(maps["block.2"], F.max_pool2d(F.relu(first), 2), atol=1e-6)
        assert torch.allclose(maps["head"], net(x), atol=1e-6)
    assert maps["block.0"].shape == (4, 8, 32, 32) and maps["head"].shape == (4, 7)
    assert activations(net, x[0], "block.0")["block.0"].shape == (1, 8, 32, 32)


def test_activations_of_nested_blocks_leave_the_model_as_it_was():
    net, x = NestedNet().train(), grey_images(3).double()
    net.double()
    before = snapshot(net)
    maps = activations(net, x, ("stem.conv", "blocks.0.conv", "blocks.1", "blocks.1.norm"))
    net.eval()
    with torch.no_grad():
        stem = net.stem(x)
        assert torch.allclose(maps["stem.conv"], net.stem.conv(x))
        assert torch.allclose(maps["blocks.0.conv"], net.blocks[0].conv(stem))
        assert torch.allclose(maps["blocks.1"], net.blocks(stem))
    assert maps["blocks.1"].shape == (3, 6, 14, 14) and maps["blocks.1"].dtype == torch.float64
    assert (maps["blocks.1"] >= 0).all() and (maps["blocks.1.norm"] < 0).any()
    net.train()
    assert unchanged(net, before) and no_hooks(net)
    assert all(p.grad is None for p in net.parameters())


def test_captured_maps_are_copies_safe_from_in_place_layers():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(16, 2))
    x = torch.randn(2, 1, 4, 4)
    conv = activations(net, x, "0")["0"]
    with torch.no_grad():
        assert torch.equal(conv, net[0](x))
    assert (conv < 0).any()  # the in-place ReLU after it did not zero the copy


class Exploding(nn.Module):
    """A classifier whose forward pass fails after its first layer ran."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.head = nn.Linear(2, 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.conv(images)
        raise RuntimeError("boom")


class WithSpare(nn.Module):
    """A classifier with a module its forward pass never calls."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.spare = nn.ReLU()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.linear(images.flatten(1))


def test_hooks_are_removed_when_the_forward_pass_fails(model):
    def explode(*_):
        raise RuntimeError("boom")

    handle = model.fc1.register_forward_hook(explode)
    with pytest.raises(RuntimeError, match="boom"):
        activations(model, torch.zeros(1, 1, 28, 28))
    handle.remove()
    assert no_hooks(model)
    exploding = Exploding().train()
    with pytest.raises(RuntimeError, match="boom"):
        activations(exploding, torch.zeros(1, 1, 5, 5), ["conv", "head"])
    assert no_hooks(exploding) and exploding.training


def test_mode_is_restored_and_errors_are_clear(model):
    model.train()
    maps = activations(model, torch.zeros(2, 1, 28, 28))
    assert model.training and list(maps) == ["conv1", "conv2"]
    with pytest.raises(ValueError, match=r"unknown layers \['fc9'\].*conv1, relu1"):
        activations(model, torch.zeros(1, 1, 28, 28), ("fc9",))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        activations(model, torch.zeros(28, 28))
    with pytest.raises(ValueError, match="name the layers"):
        activations(ColourNet(), colour_images())
    with pytest.raises(ValueError, match=r"blocks\.0\.conv"):
        activations(NestedNet(), grey_images(), "blocks.9.conv")
    spare = WithSpare()
    with pytest.raises(ValueError, match=r"\['spare'\] did not run"):
        activations(spare, torch.zeros(1, 1, 2, 2), ["linear", "spare"])
    assert no_hooks(spare)


def test_concurrent_calls_each_get_their_own_maps(model):
    inputs = [torch.full((1, 1, 28, 28), value) for value in torch.linspace(-1, 1, 16).tolist()]
    expected = [activations(model, x)["conv2"] for x in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda x: activations(model, x)["conv2"], inputs * 4))
    for index, result in enumerate(results):
        assert torch.equal(result, expected[index % len(inputs)])
    assert no_hooks(model)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_activations_on_the_gpu_equal_the_cpu():
    net, x = ColourNet(), colour_images()
    cpu = activations(net, x, "block.3")["block.3"]
    gpu = activations(net.cuda(), x.cuda(), "block.3")["block.3"]
    assert gpu.is_cuda and torch.allclose(gpu.cpu(), cpu, atol=1e-5)
