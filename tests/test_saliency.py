"""Saliency: the gradient it reports is the real one."""

from __future__ import annotations

import pytest
import torch

from cnnviz.model import CNN
from cnnviz.saliency_maps import saliency


@pytest.fixture(scope="module")
def model() -> CNN:
    torch.manual_seed(0)
    return CNN(batchnorm=True).eval()


def test_signed_saliency_equals_central_finite_differences(model):
    tiny = CNN(batchnorm=True).double().eval()
    tiny.load_state_dict(model.state_dict())
    x = torch.rand(1, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = x * 2 - 1
    gradient = saliency(tiny, x, 4, absolute=False)[0]
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
    assert maps.shape == (4, 28, 28) and (maps >= 0).all()
    signed = saliency(model, x, targets, absolute=False)
    assert torch.equal(maps, signed.abs())
    one = saliency(model, x[2:3], 2)
    assert torch.allclose(one[0], maps[2], atol=1e-6)
    assert all(p.grad is None for p in model.parameters())
    model.train()
    saliency(model, x, 0)
    assert model.training
    model.eval()


def test_smoothgrad_is_seeded_and_reduces_to_saliency_without_noise(model):
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    first = saliency(model, x, 5, smooth_samples=8, seed=1)
    assert torch.equal(first, saliency(model, x, 5, smooth_samples=8, seed=1))
    assert not torch.equal(first, saliency(model, x, 5, smooth_samples=8, seed=2))
    plain = saliency(model, x, 5)
    assert torch.allclose(saliency(model, x, 5, smooth_samples=3, noise=0.0), plain, atol=1e-6)


def test_target_count_must_match(model):
    with pytest.raises(ValueError, match="targets"):
        saliency(model, torch.zeros(3, 1, 28, 28), torch.tensor([1, 2]))
