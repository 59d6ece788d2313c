"""Occlusion: the map equals single passes, the attribution equals Captum on any classifier
(the report's CNN on both of its paths; the fast path alone: tests/fast/test_occlusion.py)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from captum.attr import Occlusion
from torch import nn

from cnnviz.inspect.occlusion import _window_starts, occlusion
from cnnviz.models.checkpoint import pretrained
from cnnviz.models.cnn import CNN
from tests.foreign_models import ColourNet, NestedNet, colour_images, grey_images

DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


class LogitsOnly(nn.Module):
    """The CNN's logits as a plain classifier: same function, the generic path."""

    input_bounds = (-1.0, 1.0)

    def __init__(self, cnn: CNN) -> None:
        super().__init__()
        self.cnn = cnn
        self.train(cnn.training)  # eval_mode restores a wrapper's mode on all it holds

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.cnn.logits(images)


@pytest.fixture(scope="module")
def model() -> CNN:
    torch.manual_seed(0)
    return CNN(batchnorm=True).eval()


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1


def naive_windows(patch, stride, size=28):
    count = math.ceil((size - patch) / stride) + 1
    return [i * stride for i in range(count)]


def captum_attribution(forward, image, patch, stride, value, target):
    """Captum's ``Occlusion`` of ``image`` ``(C, H, W)`` with windows over all channels."""
    channels = image.shape[0]
    return Occlusion(forward).attribute(
        image[None],
        sliding_window_shapes=(channels, *patch),
        strides=(channels, *stride),
        baselines=value,
        target=target,
        perturbations_per_eval=64,
    )[0]


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
    assert [s.tolist() for s in result.starts] == [starts, starts]
    assert result.patch == (patch, patch) and result.stride == (stride, stride)


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


@pytest.mark.parametrize("generic", [False, True])
@pytest.mark.parametrize(("patch", "stride"), [(5, 1), (5, 2), (3, 3)])
@pytest.mark.parametrize(
    ("score", "captum_forward"),
    [("logit", lambda m: m.logits), ("log_probability", lambda m: m)],  # m: log-probs
)
def test_cnn_attribution_matches_captum(
    model, image, generic, patch, stride, score, captum_forward
):
    """Both paths on the report's CNN (random weights) give Captum's numbers."""
    classifier = LogitsOnly(model) if generic else model
    ours = occlusion(classifier, image, 2, patch=patch, stride=stride, score=score).attribution
    theirs = captum_attribution(captum_forward(model), image, (patch,) * 2, (stride,) * 2, 0.0, 2)
    assert torch.allclose(ours, theirs[0], atol=1e-5)


@pytest.mark.parametrize(
    ("patch", "stride"),
    [(4, 2), ((3, 5), (2, 3)), ((32, 6), (9, 4))],  # square; rows hang over; rows span
)
@pytest.mark.parametrize("score", ["logit", "probability"])
def test_colournet_attribution_matches_captum_on_every_channel(patch, stride, score):
    net, image = ColourNet(), colour_images(1)[0]
    result = occlusion(net, image, 4, patch=patch, stride=stride, score=score)
    forward = net if score == "logit" else lambda x: torch.softmax(net(x), 1)
    theirs = captum_attribution(forward, image, result.patch, result.stride, 0.5, 4)
    assert result.attribution.shape == (32, 32)
    for channel in theirs:
        assert torch.allclose(result.attribution, channel, atol=1e-5)
    rows, cols = (naive_windows(p, s, 32) for p, s in zip(result.patch, result.stride, strict=True))
    assert [s.tolist() for s in result.starts] == [rows, cols]
    assert result.probability.shape == (len(rows), len(cols))


@pytest.mark.parametrize(("patch", "stride"), [(5, 3), ((7, 4), (7, 1))])
def test_nestednet_attribution_matches_captum(patch, stride):
    """Default value: mid-grey of the model's declared [-1, 1], i.e. 0.0."""
    net, image = NestedNet(), grey_images(1)[0]
    result = occlusion(net, image, 6, patch=patch, stride=stride, score="logit")
    theirs = captum_attribution(net, image, result.patch, result.stride, 0.0, 6)
    assert torch.allclose(result.attribution, theirs[0], atol=1e-5)


def test_on_a_real_digit_the_background_does_not_matter(mnist):
    model = pretrained(batchnorm=False)
    digit, label = mnist.test_x[0], int(mnist.test_y[0])
    result = occlusion(model, digit, label)
    assert result.probability.shape == (24, 24)
    assert abs(result.probability[0, 0] - result.base_probability) < 1e-3  # blank corner
    assert result.probability.min() < result.base_probability
    assert result.probability.min() >= 0.0 and result.probability.max() <= 1.0


def test_default_value_is_the_middle_of_the_bounds():
    net, image = ColourNet(), colour_images(1)[0]
    default = occlusion(net, image, 1, patch=6, stride=3).attribution
    assert torch.equal(default, occlusion(net, image, 1, patch=6, stride=3, value=0.5).attribution)
    assert not torch.allclose(
        default, occlusion(net, image, 1, patch=6, stride=3, value=0.0).attribution
    )
    shifted = occlusion(net, image, 1, patch=6, stride=3, bounds=(0, 2)).attribution
    assert torch.equal(shifted, occlusion(net, image, 1, patch=6, stride=3, value=1.0).attribution)


def test_batch_size_bounds_each_forward_pass_not_the_result():
    net, image = ColourNet(), colour_images(1)[0]
    sizes = []
    handle = net.register_forward_pre_hook(lambda _module, inputs: sizes.append(len(inputs[0])))
    try:
        small = occlusion(net, image, 2, patch=4, stride=2, batch_size=7)
    finally:
        handle.remove()
    assert max(sizes) == 7 and sum(sizes) == 1 + 15 * 15  # the image, then the windows
    large = occlusion(net, image, 2, patch=4, stride=2, batch_size=1000)
    assert torch.allclose(small.attribution, large.attribution, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_results_live_on_the_images_device_and_dtype(device):
    net = ColourNet().to(device, torch.float64)
    image = colour_images(1)[0].to(device, torch.float64)
    result = occlusion(net, image, 0, patch=(4, 3), stride=2)
    for tensor in (result.attribution, result.probability):
        assert tensor.device.type == device and tensor.dtype == torch.float64
    assert all(s.device.type == device and s.dtype == torch.int64 for s in result.starts)
    cnn = copy.deepcopy(pretrained()).to(device, torch.float64)
    digit = grey_images(1)[0]
    ours = occlusion(cnn, digit.to(device, torch.float64), 5, stride=2)
    single = occlusion(pretrained(), digit, 5, stride=2)
    assert ours.attribution.device.type == device and ours.attribution.dtype == torch.float64
    assert torch.allclose(ours.attribution.float().cpu(), single.attribution, atol=1e-5)


@pytest.mark.parametrize(
    ("classifier", "image"),
    [(CNN(batchnorm=True), grey_images(1)[0]), (NestedNet(), grey_images(1)[0])],
    ids=["cnn-incremental", "nested-generic"],
)
def test_model_mode_and_weights_are_unchanged(classifier, image):
    classifier.train()
    before = copy.deepcopy(classifier.state_dict())
    occlusion(classifier, image, 1, patch=4, stride=2)
    assert classifier.training and all(module.training for module in classifier.modules())
    after = classifier.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)  # running stats too
    assert all(p.grad is None and p.requires_grad for p in classifier.parameters())


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (colour_images(1)[0], {"patch": 33}, "patch"),
        (colour_images(1)[0], {"patch": (4, 33)}, "patch"),
        (colour_images(1)[0], {"patch": (4, 4, 4)}, "patch"),
        (colour_images(1)[0], {"stride": 0}, "stride"),
        (colour_images(1)[0], {"patch": 4, "stride": (2, 5)}, "stride"),
        (colour_images(1)[0], {"target": 7}, r"class index in \[0, 7\)"),
        (colour_images(1)[0], {"target": -1}, "class index"),
        (colour_images(2), {}, "shape"),
        (colour_images(1)[0, 0], {}, "shape"),
        (colour_images(1)[0], {"score": "margin"}, "score"),
        (colour_images(1)[0], {"batch_size": 0}, "batch_size"),
    ],
)
def test_invalid_arguments(image, kwargs, message):
    arguments = {"target": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        occlusion(ColourNet(), image, **arguments)


def test_a_patch_spanning_an_axis_allows_any_stride():
    assert _window_starts(28, 28, 5, torch.device("cpu")).tolist() == [0]
    result = occlusion(ColourNet(), colour_images(1)[0], 0, patch=(32, 4), stride=(40, 4))
    assert result.probability.shape == (1, 8)
