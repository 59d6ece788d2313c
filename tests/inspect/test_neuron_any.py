"""A unit of any model: pytorch/examples' Net and a nested colour CNN, against the forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.inspect.layers import activations
from cnnviz.inspect.neuron import unit_computation, unit_layers
from tests.neuron_models import colour_digits, colour_model
from tests.teacher_net import seeded_net

#: (layer, unit, position) of the Net: corners, edges and interior; fc1, fc2.
NET_UNITS = [
    ("conv1", 0, (0, 0)),
    ("conv1", 31, (25, 13)),
    ("conv2", 5, (0, 23)),
    ("conv2", 63, (11, 12)),
    ("fc1", 0, None),
    ("fc1", 127, None),
    ("fc2", 3, None),
]
#: The same for the colour model: zero padding, grouped + strided + dilated, reflect padding.
COLOUR_UNITS = [
    ("features.0.0", 0, (0, 0)),
    ("features.0.0", 11, (31, 17)),
    ("features.1.0", 0, (0, 0)),
    ("features.1.0", 7, (15, 15)),
    ("features.1.0", 11, (8, 3)),
    ("features.2", 2, (0, 15)),
    ("features.2", 15, (7, 9)),
    ("head.1", 4, None),
]


@pytest.fixture(scope="module")
def net_inputs(mnist):
    mean, std = 0.1307, 0.3081
    return ((mnist.test_x[:3] + 1) / 2 - mean) / std  # Net's normalised inputs


@pytest.fixture(scope="module")
def colour_inputs(mnist):
    return colour_digits(mnist.test_x[:3])


def check_against_forward(model, images, units):
    """Every unit's terms add up to the forward value, which is the layer's own output."""
    for image in images:
        for layer, unit, position in units:
            terms = unit_computation(model, image, layer, unit, position)
            assert abs(terms.total - terms.forward_value) < 1e-5, (layer, unit, position)
            output = activations(model, image[None], layer)[layer][0, unit]
            expected = output if position is None else output[position]
            assert terms.forward_value == pytest.approx(float(expected), abs=1e-6)
            assert terms.products.shape == terms.inputs.shape == terms.weights.shape
            assert terms.batch_norm is None and terms.relu is None and terms.pool is None
            assert terms.output == terms.total


def test_the_net_units_add_up_to_its_forward_pass_on_real_digits(net_inputs):
    check_against_forward(seeded_net(), net_inputs, NET_UNITS)


def test_the_colour_units_add_up_to_its_forward_pass(colour_inputs):
    check_against_forward(colour_model(), colour_inputs, COLOUR_UNITS)


def test_unit_layers_are_the_conv_and_linear_layers_by_nested_name():
    assert unit_layers(seeded_net()) == ("conv1", "conv2", "fc1", "fc2")
    assert unit_layers(colour_model()) == ("features.0.0", "features.1.0", "features.2", "head.1")


def test_a_conv_window_follows_stride_dilation_groups_and_padding(colour_inputs):
    model, image = colour_model(), colour_inputs[0]
    below = activations(model, image[None], "features.0.2")["features.0.2"][0].double()
    terms = unit_computation(model, image, "features.1.0", 7, (5, 9))
    # groups of 4 channels: unit 7 reads channels 4-7; stride 2, dilation 2, padding 2
    rows, cols = 2 * 5 - 2 + 2 * np.arange(3), 2 * 9 - 2 + 2 * np.arange(3)
    assert terms.inputs.shape == (4, 3, 3) and terms.bias == 0.0
    assert np.allclose(terms.inputs, below[4:8][:, rows][:, :, cols].numpy())
    assert not terms.padding.any()
    corner = unit_computation(model, image, "features.1.0", 0, (0, 0))
    assert corner.padding[:, 0, :].all() and corner.padding[:, :, 0].all()
    assert not corner.padding[:, 1:, 1:].any() and (corner.inputs[corner.padding] == 0).all()
    assert np.allclose(corner.inputs[:, 1:, 1:], below[0:4, 0:3:2, 0:3:2].numpy())


def test_reflect_padding_shows_the_reflected_values(colour_inputs):
    model, image = colour_model(), colour_inputs[1]
    below = activations(model, image[None], "features.1.2")["features.1.2"][0].double()
    terms = unit_computation(model, image, "features.2", 3, (0, 15))
    reflected = F.pad(below[None], (1, 1, 1, 1), mode="reflect")[0]
    assert np.allclose(terms.inputs, reflected[:, 0:3, 15:18].numpy())
    assert terms.padding[0].tolist() == [[True] * 3, [False, False, True], [False, False, True]]
    assert (terms.inputs[terms.padding] != 0).any()  # reflected values, not zeros


@pytest.mark.parametrize(
    ("layer", "position", "size"),
    [("conv1", (12, 12), 3), ("conv2", (10, 11), 5)],
)
def test_the_net_field_is_the_pixels_the_unit_depends_on(layer, position, size):
    model = seeded_net()
    top, bottom, left, right = unit_computation(
        model, torch.rand(1, 28, 28), layer, 0, position
    ).receptive_field
    assert (top, left) == position and (bottom - top, right - left) == (size, size)


def test_the_colour_field_holds_every_pixel_the_unit_depends_on(colour_inputs):
    model, image = colour_model(), colour_inputs[2]
    layer, unit, position = "features.2", 6, (4, 9)
    terms = unit_computation(model, image, layer, unit, position)
    top, bottom, left, right = terms.receptive_field
    # conv 5x5 (pad 2), then 3x3 stride 2 dilation 2 (pad 2), then 3x3: rows 2r-4 .. 2r+6
    assert (top, bottom, left, right) == (2 * 4 - 6, 2 * 4 + 7, 2 * 9 - 6, 2 * 9 + 7)

    def value(picture):
        return float(activations(model, picture[None], layer)[layer][0, unit, 4, 9])

    outside = image.clone()
    outside[:, :top] = outside[:, bottom:] = 0.5
    outside[:, :, :left] = outside[:, :, right:] = 0.5
    assert value(outside) == pytest.approx(value(image), abs=1e-6)
    for r, c in [(top, left), (bottom - 1, right - 1)]:
        changed = image.clone()
        changed[:, r, c] = 1 - changed[:, r, c]
        assert value(changed) != pytest.approx(value(image), abs=1e-7)


def test_a_linear_unit_reads_the_flattened_input(colour_inputs):
    model, image = colour_model(), colour_inputs[0]
    terms = unit_computation(model, image, "head.1", 2)
    pooled = activations(model, image[None], "features.4")["features.4"][0]
    assert np.allclose(terms.inputs, pooled.flatten().double().numpy())
    assert terms.receptive_field == (0, 32, 0, 32) and terms.source == "input"
    assert terms.push_meaning() == "input x weight"
    assert unit_computation(model, image, "features.0.0", 0, (3, 3)).source == "image"


def test_bad_requests_name_the_valid_layers_and_ranges(colour_inputs):
    model, image = colour_model(), colour_inputs[0]
    with pytest.raises(ValueError, match=r"features\.0\.0, features\.1\.0, features\.2, head\.1"):
        unit_computation(model, image, "features.0.1", 0, (0, 0))
    with pytest.raises(ValueError, match="units 0 to 11, not 12"):
        unit_computation(model, image, "features.1.0", 12, (0, 0))
    with pytest.raises(ValueError, match="rows 0 to 15 and columns 0 to 15"):
        unit_computation(model, image, "features.1.0", 0, (0, 16))
    with pytest.raises(ValueError, match="needs its"):
        unit_computation(model, image, "features.2", 0)
    with pytest.raises(ValueError, match="one image"):
        unit_computation(model, torch.zeros(2, 3, 32, 32), "head.1", 0)
    with pytest.raises(ValueError, match="no Conv2d or Linear"):
        unit_computation(nn.Sequential(nn.Flatten()), image, "0", 0)


class Guarded(nn.Module):
    """Replaces not-a-number by 0 before its convolution (so NaN cannot reach a unit)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 2, 3)
        self.head = nn.Linear(2 * 6 * 6, 3)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(torch.nan_to_num(images)).flatten(1))


class TokenHead(nn.Module):
    """A Linear layer applied to each of 4 rows (a (N, 4, 8) tensor), then averaged."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = nn.Linear(8, 3)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.mix(images.reshape(len(images), 4, 8)).mean(1)


def test_a_model_that_stops_nan_gives_the_whole_image_as_field():
    terms = unit_computation(Guarded(), torch.rand(1, 8, 8), "conv", 1, (2, 3))
    assert terms.receptive_field == (0, 8, 0, 8)
    assert abs(terms.total - terms.forward_value) < 1e-5


def test_a_linear_layer_on_more_than_a_vector_is_refused():
    with pytest.raises(ValueError, match=r"applied to a \(4, 8\) tensor"):
        unit_computation(TokenHead(), torch.rand(2, 4, 4), "mix", 0)
