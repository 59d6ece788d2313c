"""The report's CNN's incremental occlusion equals full forward passes, and occlusion takes it."""

from __future__ import annotations

import pytest
import torch

from cnnviz.fast import occlusion as fast_occlusion
from cnnviz.fast.occlusion import occluded_logits, supports
from cnnviz.inspect.occlusion import _window_starts, occlusion
from cnnviz.models.checkpoint import pretrained
from cnnviz.models.cnn import CNN, IMAGE_SIZE
from tests.inspect.test_occlusion import LogitsOnly


class RenamedCNN(CNN):
    """A CNN subclass keeping the CNN's logits: still the incremental path."""


class DoubledCNN(CNN):
    """A CNN subclass with its own logits: the generic path."""

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * super().logits(x)


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1


def starts_of(patch: int, stride: int) -> torch.Tensor:
    return _window_starts(IMAGE_SIZE, patch, stride, torch.device("cpu"))


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize(("patch", "stride"), [(5, 1), (5, 2), (3, 3), (8, 3), (12, 7), (28, 1)])
def test_incremental_path_equals_generic_path_on_real_digits(mnist, batchnorm, patch, stride):
    cnn = pretrained(batchnorm=batchnorm)
    digits, labels = mnist.test_x[:2], mnist.test_y[:2].tolist()
    for digit, label, score in zip(digits, labels, ("logit", "probability"), strict=True):
        fast = occlusion(cnn, digit, label, patch=patch, stride=stride, score=score)
        slow = occlusion(LogitsOnly(cnn), digit, label, patch=patch, stride=stride, score=score)
        assert torch.allclose(fast.attribution, slow.attribution, atol=1e-5)
        assert torch.allclose(fast.probability, slow.probability, atol=1e-5)
        assert abs(fast.base_probability - slow.base_probability) < 1e-6


def test_the_report_cnn_takes_the_incremental_path(monkeypatch, image):
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[0])
        return occluded_logits(*args, **kwargs)

    monkeypatch.setattr(fast_occlusion, "occluded_logits", spy)
    cnn, renamed, doubled = CNN().eval(), RenamedCNN().eval(), DoubledCNN().eval()
    occlusion(cnn, image, 0)
    occlusion(renamed, image[None], 0, patch=(4, 4), stride=2)
    assert calls == [cnn, renamed]
    occlusion(doubled, image, 0)
    occlusion(LogitsOnly(cnn), image, 0)
    occlusion(cnn, image, 0, patch=(4, 5))
    occlusion(cnn, image, 0, stride=(1, 2))
    assert calls == [cnn, renamed]


def test_supports_one_digit_with_square_windows_only():
    digit = torch.zeros(1, 1, 28, 28)
    assert supports(CNN(), digit, patch=(5, 5), stride=(2, 2))
    assert not supports(CNN(), digit, patch=(5, 5), stride=(2, 1))
    assert not supports(CNN(), digit, patch=(3, 5), stride=(1, 1))
    assert not supports(CNN(), torch.zeros(1, 1, 32, 32), patch=(5, 5), stride=(1, 1))
    assert not supports(CNN(), torch.zeros(2, 1, 28, 28), patch=(5, 5), stride=(1, 1))


def occlude_every_window(image, starts, patch):
    """``(n * n, 1, 28, 28)``: ``image`` with a zero patch at each window, row-major."""
    occluded = image.expand(len(starts) ** 2, 1, 28, 28).clone()
    for index, (top, left) in enumerate(torch.cartesian_prod(starts, starts).tolist()):
        occluded[index, :, top : top + patch, left : left + patch] = 0.0
    return occluded


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize(("patch", "stride", "chunk"), [(5, 1, 256), (5, 1, 7), (8, 3, 40)])
def test_local_logits_equal_full_forward_passes_on_real_digits(
    mnist, batchnorm, patch, stride, chunk
):
    """Shipped weights, real digits: every window's logits as a full pass gives them."""
    model = pretrained(batchnorm=batchnorm)
    starts = starts_of(patch, stride)
    for digit in mnist.test_x[:2]:
        with torch.no_grad():
            expected = model.logits(occlude_every_window(digit, starts, patch))
        ours = occluded_logits(
            model, digit[None], starts=starts, patch=patch, value=0.0, chunk=chunk
        )
        assert (ours - expected).abs().max() < 1e-4


def test_local_logits_are_exact_for_every_patch_and_stride(image):
    """All 406 valid (patch, stride) pairs on 28x28, small chunks: block geometry holds."""
    model = pretrained(batchnorm=True)
    for patch in range(1, 29):
        for stride in range(1, patch + 1):
            starts = starts_of(patch, stride)
            with torch.no_grad():
                expected = model.logits(occlude_every_window(image, starts, patch))
            ours = occluded_logits(
                model, image[None], starts=starts, patch=patch, value=0.0, chunk=97
            )
            assert (ours - expected).abs().max() < 1e-4, (patch, stride)
