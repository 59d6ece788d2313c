"""Inside a neuron: the terms add up to the forward pass, the receptive fields are right."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz.inspect.layers import activations
from cnnviz.inspect.neuron import UNIT_LAYERS, receptive_field, unit_computation
from cnnviz.models.checkpoint import pretrained
from cnnviz.models.cnn import CNN

#: (layer, unit, position) samples: corners, edges and interior of every layer.
UNITS = [
    ("conv1", 0, (0, 0)),
    ("conv1", 7, (27, 13)),
    ("conv1", 31, (14, 9)),
    ("conv2", 3, (0, 13)),
    ("conv2", 17, (6, 7)),
    ("conv2", 30, (13, 0)),
    ("fc1", 0, None),
    ("fc1", 321, None),
    ("fc2", 0, None),
    ("fc2", 9, None),
]


@pytest.mark.parametrize("batchnorm", [False, True], ids=["nobn", "bn"])
def test_the_terms_reproduce_the_forward_pass_on_real_digits(mnist, batchnorm):
    model = pretrained(batchnorm=batchnorm)
    for image in mnist.test_x[:4]:
        logits = model.logits(image[None]).detach()[0]
        for layer, unit, position in UNITS:
            terms = unit_computation(model, image, layer, unit, position)
            assert abs(terms.total - terms.forward_value) < 1e-5, (layer, unit, position)
            assert terms.products.shape == terms.inputs.shape == terms.weights.shape
            if layer == "fc2":
                assert abs(terms.output - float(logits[unit])) < 1e-5
                continue
            assert abs(terms.output - terms.relu) < 1e-5  # batch norm and ReLU by hand
            assert (terms.batch_norm is not None) == (batchnorm and layer != "conv1")
            if terms.pool is not None:
                offset = (position[0] % 2, position[1] % 2)
                assert terms.pool.value == pytest.approx(terms.pool.window.max(), abs=0)
                assert terms.pool.window[offset] == pytest.approx(terms.relu, abs=1e-6)
                kept_value = terms.pool.window[terms.pool.kept]
                assert kept_value == terms.pool.window.max()  # ties: the first maximum
                beaten = (terms.pool.window < terms.relu).sum() == 3
                assert terms.pool.unit_was_kept(offset) or not beaten


def test_the_inputs_are_the_padded_window_of_the_layer_below(mnist):
    model, image = pretrained(), mnist.test_x[0]
    corner = unit_computation(model, image, "conv1", 2, (0, 0))
    assert corner.padding[0, 0].tolist() == [True] * 3 and not corner.padding[0, 1:, 1:].any()
    assert np.allclose(corner.inputs[0, 1:, 1:], image[0, :2, :2].numpy())
    assert (corner.inputs[corner.padding] == 0).all()
    middle = unit_computation(model, image, "conv2", 4, (5, 8))
    pool1 = activations(model, image[None], "pool1")["pool1"][0]
    assert np.allclose(middle.inputs, pool1[:, 4:7, 7:10].double().numpy())
    assert middle.channel_sums().shape == (32,)
    assert middle.channel_sums().sum() + middle.bias == pytest.approx(middle.total)
    up, down = unit_computation(model, image, "fc2", 3).strongest(5)
    assert len(up) <= 5 and len(down) <= 5 and not set(up) & set(down)


@pytest.mark.parametrize(
    ("layer", "width", "size"),
    [("conv1", 3, 28), ("pool1", 4, 14), ("conv2", 8, 14), ("pool2", 10, 7)],
)
def test_receptive_fields_are_exactly_the_pixels_a_unit_depends_on(layer, width, size):
    torch.manual_seed(0)
    model = CNN().eval()
    image = torch.rand(1, 1, 28, 28) * 2 - 1
    row, col = size // 2, size // 2 - 1  # interior
    top, bottom, left, right = receptive_field(layer, row, col)
    assert (bottom - top, right - left) == (width, width)
    before = activations(model, image, layer)[layer][0, :, row, col]
    outside = image.clone()
    outside[..., :top, :] = outside[..., bottom:, :] = 1.0
    outside[..., :left] = outside[..., right:] = 1.0
    assert torch.equal(activations(model, outside, layer)[layer][0, :, row, col], before)
    for r, c in [(top, left), (bottom - 1, right - 1)]:  # the field's far corners matter
        inside = image.clone()
        inside[..., r, c] = -inside[..., r, c] + 0.5
        assert not torch.equal(activations(model, inside, layer)[layer][0, :, row, col], before)


def test_bad_requests_are_refused_with_a_reason(mnist):
    model, image = pretrained(), mnist.test_x[0]
    with pytest.raises(ValueError, match="layer must be one of"):
        unit_computation(model, image, "relu1", 0, (0, 0))
    with pytest.raises(ValueError, match="units 0 to 31"):
        unit_computation(model, image, "conv1", 32, (0, 0))
    with pytest.raises(ValueError, match="positions are 0 to 13"):
        unit_computation(model, image, "conv2", 0, (14, 0))
    with pytest.raises(ValueError, match="position"):
        unit_computation(model, image, "conv2", 0)
    with pytest.raises(ValueError, match="1x28x28"):
        unit_computation(model, torch.zeros(1, 1, 32, 32), "fc2", 0)
    with pytest.raises(ValueError, match="report's CNN"):
        unit_computation(torch.nn.Sequential(), image, "fc2", 0)
    with pytest.raises(ValueError, match="receptive fields"):
        receptive_field("fc1", 0, 0)
    assert set(UNIT_LAYERS) == {"conv1", "conv2", "fc1", "fc2"}
