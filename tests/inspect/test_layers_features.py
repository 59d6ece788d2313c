"""feature_layers: the layers whose outputs are feature maps, read from the model itself."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.inspect.layers import activations, feature_layers
from cnnviz.models.cnn import CNN
from tests.foreign_models import NestedNet
from tests.neuron_models import colour_model
from tests.teacher_net import seeded_net


def test_the_net_lists_its_module_maps_in_forward_order():
    # F.relu and F.max_pool2d are functions, not modules: dropout1 holds the pooled maps
    assert feature_layers(seeded_net(), (1, 28, 28)) == {
        "conv1": (32, 26, 26),
        "conv2": (64, 24, 24),
        "dropout1": (64, 12, 12),
    }


def test_nested_names_and_shapes_are_those_of_the_forward_pass():
    model = colour_model()
    layers = feature_layers(model, (3, 32, 32))
    assert list(layers) == [
        "features.0.0",
        "features.0.1",
        "features.0.2",
        "features.1.0",
        "features.1.1",
        "features.1.2",
        "features.2",
        "features.3",
        "features.4",
    ]  # no Sequential containers ("features", "features.0"), nothing after Flatten
    images = torch.rand(1, 3, 32, 32)
    for name, output in activations(model, images, list(layers)).items():
        assert tuple(output.shape[1:]) == layers[name]
    assert layers["features.1.0"] == (12, 16, 16) and layers["features.4"] == (16, 4, 4)


def test_a_custom_block_is_listed_after_its_inner_layers():
    layers = list(feature_layers(NestedNet(), (1, 28, 28)))
    assert layers.index("blocks.0.conv") < layers.index("blocks.0.norm") < layers.index("blocks.0")
    assert "blocks" not in layers and "classifier" not in layers


def test_the_report_cnn_and_bad_shapes():
    assert list(feature_layers(CNN(), (1, 28, 28)))[-1] == "pool2"
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        feature_layers(CNN(), (28, 28))
    with pytest.raises(ValueError, match="no layer whose output is a feature map"):
        feature_layers(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), (1, 2, 2))
