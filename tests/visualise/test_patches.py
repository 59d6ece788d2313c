"""The test patches that excite each channel most, and their receptive fields."""

from __future__ import annotations

import pytest
import torch

from cnnviz.inspect.layers import activations
from cnnviz.inspect.neuron import receptive_field
from cnnviz.models.checkpoint import pretrained
from cnnviz.visualise.patches import top_patches


@pytest.mark.parametrize("layer", ["relu1", "relu2", "pool2"])
def test_top_patches_are_the_strongest_units_and_their_receptive_fields(mnist, layer):
    model, images = pretrained(), mnist.test_x[:300]
    found = top_patches(model, images, layer, count=5, batch_size=128)
    maps = activations(model, images, layer)[layer]
    strongest = maps.flatten(2).max(2).values  # (N, C)
    for channel in (0, 13, 31):
        expected = strongest[:, channel].topk(5).values
        assert torch.allclose(torch.from_numpy(found.values[channel]), expected)
        index = int(found.indices[channel, 0])
        row, col = found.positions[channel, 0]
        assert float(maps[index, channel, row, col]) == pytest.approx(found.values[channel, 0])
        top, bottom, left, right = receptive_field(layer, int(row), int(col))
        crop = images[index, 0, top:bottom, left:right]
        patch = torch.from_numpy(found.patches[channel, 0])
        clipped = receptive_field(layer, int(row), int(col), clip=False)
        inner = patch[top - clipped[0] :, left - clipped[2] :][: crop.shape[0], : crop.shape[1]]
        assert torch.equal(inner, crop)
