"""Saliency: the gradient it reports is the real one, for any classifier."""

from __future__ import annotations

import pytest
import torch

from cnnviz.inspect.saliency import input_gradient, saliency
from cnnviz.models.cnn import CNN
from tests.foreign_models import ColourNet, NestedNet, colour_images, grey_images


@pytest.fixture(scope="module")
def model() -> CNN:
    torch.manual_seed(0)
    return CNN(batchnorm=True).eval()


def autograd_gradient(net: torch.nn.Module, x: torch.Tensor, targets: torch.Tensor):
    """``d net(x)[i, targets[i]] / d x`` by hand, on a copy of ``x``."""
    x = x.clone().requires_grad_(True)
    scores = net(x)
    scores[torch.arange(len(x)), targets].sum().backward()
    return x.grad


def test_signed_saliency_equals_central_finite_differences(model):
    tiny = CNN(batchnorm=True).double().eval()
    tiny.load_state_dict(model.state_dict())
    x = torch.rand(1, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = x * 2 - 1
    gradient = saliency(tiny, x, 4, absolute=False)[0, 0]
    eps = 1e-6
    bumps = torch.eye(784, dtype=torch.float64).reshape(784, 1, 28, 28) * eps
    with torch.no_grad():
        up, down = tiny.logits(x + bumps)[:, 4], tiny.logits(x - bumps)[:, 4]
    numeric = ((up - down) / (2 * eps)).reshape(28, 28)
    assert torch.allclose(gradient, numeric, atol=1e-6)
    assert gradient.abs().max() > 0


def test_absolute_per_sample_targets_and_no_side_effects(model):
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    targets = torch.tensor([0, 1, 2, 3])
    maps = saliency(model, x, targets)
    assert maps.shape == (4, 1, 28, 28) and (maps >= 0).all()
    signed = saliency(model, x, targets, absolute=False)
    assert torch.equal(maps, signed.abs())
    one = saliency(model, x[2:3], 2)
    assert torch.allclose(one[0], maps[2], atol=1e-6)
    assert all(p.grad is None for p in model.parameters())
    model.train()
    saliency(model, x, 0)
    assert model.training
    model.eval()


def test_saliency_of_a_colour_model_equals_its_autograd_gradient():
    net, x = ColourNet(), colour_images()
    targets = torch.tensor([0, 6, 3, 3])
    expected = autograd_gradient(net, x, targets)
    net.zero_grad(set_to_none=True)
    signed = saliency(net, x, targets, absolute=False, bounds=(0, 1))
    assert signed.shape == (4, 3, 32, 32) and signed.abs().max() > 0
    assert torch.allclose(signed, expected, atol=1e-6)
    assert torch.equal(saliency(net, x, targets.tolist()), signed.abs())
    assert torch.equal(input_gradient(net, x, targets), signed)


def test_nested_model_in_train_mode_is_left_as_it_was():
    net, x = NestedNet().double().train(), grey_images(3).double()
    before = {name: value.clone() for name, value in net.state_dict().items()}
    flags = [p.requires_grad for p in net.parameters()]
    maps = saliency(net, x, [1, 2, 3], smooth_samples=4)
    assert maps.shape == (3, 1, 28, 28) and maps.dtype == torch.float64 and (maps >= 0).all()
    assert net.training and [p.requires_grad for p in net.parameters()] == flags
    assert all(p.grad is None for p in net.parameters())
    after = net.state_dict()
    assert all(torch.equal(after[name], value) for name, value in before.items())
    net.eval()
    expected = autograd_gradient(net, x, torch.tensor([1, 2, 3]))
    assert torch.allclose(saliency(net, x, [1, 2, 3], absolute=False), expected)


def test_smoothgrad_noise_is_in_pixel_units():
    net, x = ColourNet(), colour_images(2)
    targets = torch.tensor([1, 5])

    def by_hand(sigma: float) -> torch.Tensor:
        noise = torch.randn((6, 3, 32, 32), generator=torch.Generator().manual_seed(7))
        noisy = x.repeat(3, 1, 1, 1) + sigma * noise
        return autograd_gradient(net, noisy, targets.repeat(3)).abs().reshape(3, 2, 3, 32, 32)

    for bounds, sigma in [((0, 1), 0.2), ((-1, 1), 0.4), ((0, 255), 51.0)]:
        smooth = saliency(net, x, targets, smooth_samples=3, noise=0.2, seed=7, bounds=bounds)
        assert torch.allclose(smooth, by_hand(sigma).mean(0), atol=1e-6), bounds


def test_smoothgrad_default_is_the_reports_noise_on_the_cnn(model):
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    noise = 0.15 * torch.randn((6, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    noisy = x.repeat(3, 1, 1, 1) + noise  # the report's recipe: 0.15 in [-1, 1] units
    expected = input_gradient(model, noisy, 5).abs().reshape(3, 2, 1, 28, 28).mean(0)
    assert torch.equal(saliency(model, x, 5, smooth_samples=3), expected)


def test_smoothgrad_is_seeded_and_reduces_to_saliency_without_noise(model):
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    first = saliency(model, x, 5, smooth_samples=8, seed=1)
    assert torch.equal(first, saliency(model, x, 5, smooth_samples=8, seed=1))
    assert not torch.equal(first, saliency(model, x, 5, smooth_samples=8, seed=2))
    plain = saliency(model, x, 5)
    assert torch.allclose(saliency(model, x, 5, smooth_samples=3, noise=0.0), plain, atol=1e-6)


def test_bad_arguments_are_refused(model):
    with pytest.raises(ValueError, match="targets"):
        saliency(model, torch.zeros(3, 1, 28, 28), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="smooth_samples"):
        saliency(model, torch.zeros(1, 1, 28, 28), 1, smooth_samples=-1)
    with pytest.raises(ValueError, match="noise"):
        saliency(model, torch.zeros(1, 1, 28, 28), 1, smooth_samples=2, noise=-0.1)
    with pytest.raises(ValueError, match="bounds"):
        saliency(model, torch.zeros(1, 1, 28, 28), 1, smooth_samples=2, bounds=(1, 0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_smoothgrad_on_the_gpu_equals_the_cpu():
    net, x = ColourNet(), colour_images()
    cpu = saliency(net, x, 2, smooth_samples=4)
    gpu = saliency(net.cuda(), x.cuda(), 2, smooth_samples=4)
    assert gpu.is_cuda and torch.allclose(gpu.cpu(), cpu, atol=1e-5)
