"""What a channel or a class looks for: regularised visualisations that the model reads."""

from __future__ import annotations

import pytest
import torch

from cnnviz.inspect.layers import activations
from cnnviz.models.checkpoint import pretrained
from cnnviz.visualise.features import visualise
from cnnviz.visualise.transforms import PLAIN, READABLE


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
