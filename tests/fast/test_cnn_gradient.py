"""The hand-written attack step of the report's CNN equals autograd's, and PGD uses it."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from cnnviz.attacks.fgsm import fgsm
from cnnviz.attacks.pgd import pgd
from cnnviz.fast import cnn_gradient
from cnnviz.models.checkpoint import pretrained
from cnnviz.models.cnn import CNN


class AutogradCNN(CNN):
    """The same network through autograd: the fast path takes only ``CNN`` itself."""


def autograd_twin(model: CNN) -> AutogradCNN:
    twin = AutogradCNN(batchnorm=model.batchnorm)
    twin.load_state_dict(model.state_dict())
    return twin.eval()


def autograd_loss_gradient(model: CNN, images: torch.Tensor, goal: torch.Tensor):
    x = images.clone().requires_grad_(True)
    scores = model.logits(x)
    (gradient,) = torch.autograd.grad(F.cross_entropy(scores, goal, reduction="sum"), x)
    return scores.detach(), gradient


@pytest.mark.parametrize("batchnorm", [False, True], ids=["nobn", "bn"])
def test_gradient_and_scores_equal_autograd_on_real_digits(mnist, batchnorm):
    model = pretrained(batchnorm=batchnorm).eval()
    images, labels = mnist.test_x[:256], mnist.test_y[:256]
    goal = (labels + 3) % 10  # a wrong class: large, varied gradients
    scores, gradient = cnn_gradient.cnn_loss_gradient(model, images, goal)
    expected_scores, expected = autograd_loss_gradient(model, images, goal)
    assert torch.allclose(scores, expected_scores, atol=1e-4)
    # Both sum in fp32 in different orders, so a pre-activation within rounding of zero
    # can pass a ReLU in one and not the other, and the pixels under it differ (on an
    # AVX2 CPU: 9 and 24 of these 200,704 pixels, in 1 and 2 of the 256 digits; none
    # on an AVX-512 one). Everywhere else the gradients are equal to float rounding.
    close = torch.isclose(gradient, expected, atol=1e-6, rtol=1e-4)
    assert (~close).sum() <= 50
    assert (~close.flatten(1).all(1)).sum() <= 4
    # the sign (all PGD uses) agrees wherever the gradient is not vanishingly small
    clear = (expected.abs() > 1e-6) & close
    assert torch.equal(gradient.sign()[clear], expected.sign()[clear])


def test_ties_route_the_gradient_like_torch_max_pooling():
    """A blank digit makes every background window of conv1 a four-way tie."""
    torch.manual_seed(0)
    model = CNN().eval()
    images = -torch.ones(4, 1, 28, 28)
    images[1:, :, 10:18, 12:15] = 1.0  # a stroke in three of them
    goal = torch.tensor([1, 2, 3, 4])
    _, gradient = cnn_gradient.cnn_loss_gradient(model, images, goal)
    _, expected = autograd_loss_gradient(model, images, goal)
    assert torch.allclose(gradient, expected, atol=1e-7)


def test_only_the_report_cnn_in_eval_mode_takes_the_fast_path():
    digits = torch.zeros(2, 1, 28, 28)
    assert cnn_gradient.supports(CNN().eval(), digits)
    assert not cnn_gradient.supports(CNN().train(), digits)
    assert not cnn_gradient.supports(AutogradCNN().eval(), digits)
    assert not cnn_gradient.supports(CNN().eval(), digits.double())
    assert not cnn_gradient.supports(CNN().eval(), torch.zeros(2, 1, 32, 32))


@pytest.mark.parametrize("batchnorm", [False, True], ids=["nobn", "bn"])
def test_pgd_on_the_fast_path_matches_pgd_through_autograd(mnist, batchnorm):
    model = pretrained(batchnorm=batchnorm)
    images, labels = mnist.test_x[:128], mnist.test_y[:128]
    fast = pgd(model, images, labels, eps=0.1, steps=20, step_size=0.01)
    slow = pgd(autograd_twin(model), images, labels, eps=0.1, steps=20, step_size=0.01)
    # Both compute in fp32 but sum in different orders: a gradient of ~1e-7 may change
    # sign, and that pixel's path then differs (with batch norm 0.3 % of the pixels on
    # an AVX-512 CPU, 4.5 % on an AVX2 one; without, 0 and 0.3 %); predictions agree
    # and probabilities stay close.
    same = (fast.images - slow.images).abs() < 1e-5
    assert same.float().mean() > 0.9
    assert (fast.predictions != slow.predictions).sum() <= 1
    apart = (fast.probability_history - slow.probability_history).abs()
    assert apart.mean() < 1e-3 and (apart < 1e-2).float().mean() > 0.99
    one_step = fgsm(model, images, labels, eps=0.3)
    assert torch.equal(
        one_step.success, fgsm(autograd_twin(model), images, labels, eps=0.3).success
    )


def test_channels_last_weights_give_the_same_gradient():
    torch.manual_seed(1)
    model = CNN(batchnorm=True).eval()
    images, goal = torch.rand(6, 1, 28, 28) * 2 - 1, torch.arange(6)
    _, before = cnn_gradient.cnn_loss_gradient(model, images, goal)
    model.to(memory_format=torch.channels_last)
    _, after = cnn_gradient.cnn_loss_gradient(
        model, images.contiguous(memory_format=torch.channels_last), goal
    )
    assert torch.allclose(before, after, atol=1e-7)
