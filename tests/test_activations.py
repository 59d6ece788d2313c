"""Filters and activations: shapes, values, hooks that never linger, thread safety."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from cnnviz.layers import ACTIVATION_LAYERS, activations, conv_filters
from cnnviz.model import CNN


@pytest.fixture
def model() -> CNN:
    torch.manual_seed(0)
    return CNN(batchnorm=True).eval()


def no_hooks(model: CNN) -> bool:
    return all(not m._forward_hooks for m in model.modules())


def test_filters_have_the_report_shapes_and_a_shared_symmetric_limit(model):
    first, second = conv_filters(model, "conv1"), conv_filters(model, "conv2")
    assert first.weights.shape == (32, 1, 3, 3) and second.weights.shape == (32, 32, 3, 3)
    assert first.limit == pytest.approx(float(model.conv1.weight.detach().abs().max()))
    assert np.abs(second.weights).max() == pytest.approx(second.limit)
    with pytest.raises(ValueError, match="not a convolution layer"):
        conv_filters(model, "fc1")


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
    assert no_hooks(model)


def test_hooks_are_removed_when_the_forward_pass_fails(model):
    def explode(*_):
        raise RuntimeError("boom")

    handle = model.fc1.register_forward_hook(explode)
    with pytest.raises(RuntimeError, match="boom"):
        activations(model, torch.zeros(1, 1, 28, 28))
    handle.remove()
    assert no_hooks(model)


def test_mode_is_restored_and_errors_are_clear(model):
    model.train()
    activations(model, torch.zeros(2, 1, 28, 28))
    assert model.training
    with pytest.raises(ValueError, match="unknown layers"):
        activations(model, torch.zeros(1, 1, 28, 28), ("fc1",))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        activations(model, torch.zeros(1, 28, 28))


def test_concurrent_calls_each_get_their_own_maps(model):
    inputs = [torch.full((1, 1, 28, 28), value) for value in torch.linspace(-1, 1, 16).tolist()]
    expected = [activations(model, x)["conv2"] for x in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda x: activations(model, x)["conv2"], inputs * 4))
    for index, result in enumerate(results):
        assert torch.equal(result, expected[index % len(inputs)])
    assert no_hooks(model)
