"""Occlusion: batched map equals a naive loop; attribution equals Captum and a reference."""

from __future__ import annotations

import math

import pytest
import torch
from captum.attr import Occlusion

from cnnviz.checkpoint import pretrained
from cnnviz.model import CNN
from cnnviz.occlusion_maps import occluded_logits, occlusion, window_starts


@pytest.fixture(scope="module")
def model() -> CNN:
    torch.manual_seed(0)
    return CNN(batchnorm=True).eval()


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1


def naive_windows(patch, stride):
    count = math.ceil((28 - patch) / stride) + 1
    return [i * stride for i in range(count)]


@pytest.mark.parametrize(
    ("patch", "stride"),
    [(5, 1), (5, 3), (7, 7), (4, 2), (1, 1), (2, 1), (3, 2), (6, 5), (9, 4), (13, 1), (28, 1)],
)
def test_batched_map_equals_a_loop_of_single_passes(model, image, patch, stride):
    result = occlusion(model, image, 3, patch=patch, stride=stride)
    starts = naive_windows(patch, stride)
    expected = torch.empty(len(starts), len(starts))
    with torch.no_grad():
        for i, top in enumerate(starts):
            for j, left in enumerate(starts):
                occluded = image.clone()
                occluded[:, top : top + patch, left : left + patch] = 0.0
                expected[i, j] = torch.softmax(model.logits(occluded[None]), 1)[0, 3]
    assert result.probability.shape == (len(starts), len(starts))
    assert torch.allclose(result.probability, expected, atol=1e-5)
    assert result.starts.tolist() == starts


@pytest.mark.parametrize("score", ["probability", "log_probability", "logit"])
@pytest.mark.parametrize(("patch", "stride"), [(5, 1), (5, 3)])
def test_attribution_equals_a_slow_per_pixel_reference(model, image, score, patch, stride):
    result = occlusion(model, image, 7, patch=patch, stride=stride, value=0.25, score=score)
    transform = {
        "probability": lambda z: torch.softmax(z, 1),
        "log_probability": lambda z: torch.log_softmax(z, 1),
        "logit": lambda z: z,
    }[score]
    with torch.no_grad():
        base = transform(model.logits(image[None]))[0, 7]
        total, count = torch.zeros(28, 28), torch.zeros(28, 28)
        for top in naive_windows(patch, stride):
            for left in naive_windows(patch, stride):
                occluded = image.clone()
                occluded[:, top : top + patch, left : left + patch] = 0.25
                drop = base - transform(model.logits(occluded[None]))[0, 7]
                total[top : top + patch, left : left + patch] += drop
                count[top : top + patch, left : left + patch] += 1
    assert torch.allclose(result.attribution, total / count, atol=1e-6)


@pytest.mark.parametrize(("patch", "stride"), [(5, 1), (5, 2), (3, 3)])
@pytest.mark.parametrize(
    ("score", "captum_forward"),
    [("logit", lambda m: m.logits), ("log_probability", lambda m: m)],  # m: log-probs
)
def test_attribution_matches_captum(model, image, patch, stride, score, captum_forward):
    ours = occlusion(model, image, 2, patch=patch, stride=stride, score=score).attribution
    theirs = Occlusion(captum_forward(model)).attribute(
        image[None],
        sliding_window_shapes=(1, patch, patch),
        strides=(1, stride, stride),
        baselines=0.0,
        target=2,
        perturbations_per_eval=64,
    )
    assert torch.allclose(ours, theirs[0, 0], atol=1e-5)


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
    starts = window_starts(28, patch, stride)
    for digit in mnist.test_x[:2]:
        with torch.no_grad():
            expected = model.logits(occlude_every_window(digit, starts, patch))
            ours = occluded_logits(model, digit, starts, patch, 0.0, chunk=chunk)
        assert (ours - expected).abs().max() < 1e-4


def test_local_logits_are_exact_for_every_patch_and_stride(image):
    """All 406 valid (patch, stride) pairs on 28x28, small chunks: block geometry holds."""
    model = pretrained(batchnorm=True)
    for patch in range(1, 29):
        for stride in range(1, patch + 1):
            starts = window_starts(28, patch, stride)
            with torch.no_grad():
                expected = model.logits(occlude_every_window(image, starts, patch))
                ours = occluded_logits(model, image, starts, patch, 0.0, chunk=97)
            assert (ours - expected).abs().max() < 1e-4, (patch, stride)


def test_on_a_real_digit_the_background_does_not_matter(mnist):
    model = pretrained(batchnorm=False)
    digit, label = mnist.test_x[0], int(mnist.test_y[0])
    result = occlusion(model, digit, label)
    assert result.probability.shape == (24, 24)
    assert abs(result.probability[0, 0] - result.base_probability) < 1e-3  # blank corner
    assert result.probability.min() < result.base_probability
    assert result.probability.min() >= 0.0 and result.probability.max() <= 1.0


def test_invalid_arguments(model, image):
    with pytest.raises(ValueError, match="stride"):
        occlusion(model, image, 0, patch=3, stride=4)
    with pytest.raises(ValueError, match="patch"):
        occlusion(model, image, 0, patch=29)
    with pytest.raises(ValueError, match="class index"):
        occlusion(model, image, 10)
    with pytest.raises(ValueError, match="shape"):
        occlusion(model, image[None], 0)
    with pytest.raises(ValueError, match="score"):
        occlusion(model, image, 0, score="margin")
    assert window_starts(28, 28, 5).tolist() == [0]
