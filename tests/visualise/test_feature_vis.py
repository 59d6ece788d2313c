"""What a channel looks for: regularised visualisations that the model reads, top patches."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from cnnviz.inspect.layers import activations
from cnnviz.inspect.neuron import receptive_field
from cnnviz.models.checkpoint import pretrained
from cnnviz.visualise.features import (
    PLAIN,
    READABLE,
    Regularisers,
    _gaussian_blur,
    _transform,
    top_patches,
    visualise,
)


@pytest.mark.parametrize("batchnorm", [False, True], ids=["nobn", "bn"])
def test_regularised_class_images_are_read_as_their_class_at_p_09(batchnorm):
    model = pretrained(batchnorm=batchnorm)
    grown = visualise(model, range(10), regularisers=READABLE)
    probabilities = torch.softmax(model.logits(grown.images).detach(), 1)
    assert (probabilities.argmax(1) == torch.arange(10)).all()
    assert (probabilities[torch.arange(10), torch.arange(10)] >= 0.9).all()
    assert torch.allclose(probabilities[torch.arange(10), torch.arange(10)], grown.probabilities)
    assert grown.images.min() >= -1 and grown.images.max() <= 1


def test_regularised_images_are_smoother_than_plain_ones():
    model = pretrained(batchnorm=False)
    plain = visualise(model, range(10), regularisers=PLAIN, steps=128)
    readable = visualise(model, range(10), regularisers=READABLE, steps=128)

    def roughness(images: torch.Tensor) -> float:  # mean jump between neighbours
        return float((images[..., 1:, :] - images[..., :-1, :]).abs().mean())

    assert roughness(readable.images) < 0.6 * roughness(plain.images)


def test_a_channel_image_excites_its_channel_more_than_any_test_digit(mnist):
    model = pretrained(batchnorm=False)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    grown = visualise(model, [4, 11], layer="relu2", steps=128)
    real = activations(model, mnist.test_x[:500], "relu2")["relu2"][:, [4, 11]]
    assert (grown.objective > real.mean((2, 3)).max(0).values).all()
    assert grown.objective_history.shape == (128, 2) and grown.probabilities is None
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())
    assert not model.training
    with pytest.raises(ValueError, match="not a layer"):
        visualise(model, [0], layer="conv9")


def test_transformations_keep_the_background_and_blur_keeps_the_mean():
    generator = torch.Generator().manual_seed(0)
    black = -torch.ones(3, 1, 28, 28)
    moved = _transform(black, READABLE, generator, low=-1.0)
    assert torch.allclose(moved, black)  # uncovered pixels are black too
    assert _transform(black, PLAIN, generator, low=-1.0) is black  # no toggle, no change
    images = torch.rand(2, 1, 28, 28)
    blurred = _gaussian_blur(images, 0.8)
    assert blurred.shape == images.shape
    assert torch.allclose(blurred.mean(), images.mean(), atol=0.02)
    assert blurred.std() < images.std()
    fourier = dataclasses.replace(PLAIN, fourier=True)
    grown = visualise(pretrained(), [1], regularisers=fourier, steps=5)
    assert grown.images.shape == (1, 1, 28, 28)
    assert Regularisers().blur == 0.0


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
