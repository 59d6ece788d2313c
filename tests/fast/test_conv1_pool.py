"""The fused first layer equals conv -> ReLU -> max pooling through autograd, ties included."""

from __future__ import annotations

import os
import subprocess
import sys

import numba
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from cnnviz.fast import conv1_pool
from cnnviz.fast.cnn_gradient import cnn_loss_gradient
from cnnviz.fast.conv1_pool import compile_kernels, conv1_relu_pool, conv1_relu_pool_input_gradient
from cnnviz.models.checkpoint import pretrained


def autograd_layer(conv: torch.nn.Module, images: torch.Tensor, upstream: torch.Tensor):
    """The layer's output, the pooling winners (flat indices) and the images' gradient."""
    x = images.clone().requires_grad_(True)
    pooled, winners = F.max_pool2d(F.relu(conv(x)), 2, return_indices=True)
    (gradient,) = torch.autograd.grad((pooled * upstream).sum(), x)
    return pooled.detach(), winners, gradient


def flat_winner(winner: torch.Tensor, width: int) -> torch.Tensor:
    """Our window positions (0-3) as torch's flat indices into the unpooled map."""
    rows, cols = winner.shape[1:3]
    i = torch.arange(rows).view(1, rows, 1, 1)
    j = torch.arange(cols).view(1, 1, cols, 1)
    position = winner.long()
    flat = (2 * i + position // 2) * width + 2 * j + position % 2
    return flat.permute(0, 3, 1, 2)


def test_equals_autograd_on_real_digits(mnist):
    conv = pretrained(batchnorm=False).conv1
    images = mnist.test_x[:64]
    upstream = torch.randn(64, 32, 14, 14, generator=torch.Generator().manual_seed(0))
    hidden, winner = conv1_relu_pool(conv.weight, conv.bias, images)
    expected, winners, expected_gradient = autograd_layer(conv, images, upstream)
    assert hidden.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(hidden, expected, atol=1e-5)
    # where the window's maximum is positive, the winner is torch's
    live = expected > 0
    assert live.float().mean() > 0.2
    assert torch.equal(flat_winner(winner, 28)[live], winners[live])
    gradient = conv1_relu_pool_input_gradient(conv.weight, upstream, hidden, winner)
    assert gradient.shape == images.shape
    assert torch.allclose(gradient, expected_gradient, atol=1e-5)


def test_a_blank_window_is_a_four_way_tie_won_by_the_top_left_pixel():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 8, 3, padding=1)
    with torch.no_grad():
        conv.bias.fill_(1.0)  # every window positive: the winner decides the gradient
    images = -torch.ones(2, 1, 8, 8)
    images[1, 0, 2:6, 3] = 1.0
    upstream = torch.randn(2, 8, 4, 4)
    hidden, winner = conv1_relu_pool(conv.weight, conv.bias, images)
    _, winners, expected_gradient = autograd_layer(conv, images, upstream)
    assert torch.equal(flat_winner(winner, 8), winners)
    assert (winner[0, 1:3, 1:3] == 0).all()  # inner windows of the blank image tie
    gradient = conv1_relu_pool_input_gradient(conv.weight, upstream, hidden, winner)
    assert torch.allclose(gradient, expected_gradient, atol=1e-6)


@pytest.mark.parametrize(("channels", "height", "width"), [(1, 2, 2), (5, 6, 10)])
def test_any_channel_count_and_even_image_size(channels, height, width):
    torch.manual_seed(channels)
    conv = torch.nn.Conv2d(1, channels, 3, padding=1)
    images = torch.rand(3, 1, height, width) * 2 - 1
    upstream = torch.randn(3, channels, height // 2, width // 2)
    hidden, winner = conv1_relu_pool(conv.weight, conv.bias, images)
    expected, _, expected_gradient = autograd_layer(conv, images, upstream)
    assert torch.allclose(hidden, expected, atol=1e-6)
    gradient = conv1_relu_pool_input_gradient(conv.weight, upstream, hidden, winner)
    assert torch.allclose(gradient, expected_gradient, atol=1e-6)


THREADS = """
import threading, torch
from cnnviz.fast.conv1_pool import conv1_relu_pool
conv = torch.nn.Conv2d(1, 32, 3, padding=1)
batches = [torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(i)) for i in range(4)]
expected = [conv1_relu_pool(conv.weight, conv.bias, batch)[0] for batch in batches]
same = []
def work(i):
    for _ in range(5):
        hidden = conv1_relu_pool(conv.weight, conv.bias, batches[i])[0]
        same.append(torch.equal(hidden, expected[i]))
threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(timeout=60)
print(len(same), all(same))
"""


def test_threads_may_call_it_at_once():
    """The app attacks from several threads. numba's simplest thread pool (workqueue, the
    one left where no OpenMP or TBB is installed) aborts the process on a second launch
    while one runs, unless the launches take turns."""
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    done = subprocess.run(
        [sys.executable, "-c", THREADS], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["20", "True"]


def test_compile_kernels_compiles_what_the_attack_step_calls(mnist):
    compile_kernels()
    kernels = (conv1_pool._forward_kernel, conv1_pool._backward_kernel)
    compiled = [list(kernel.signatures) for kernel in kernels]
    assert all(len(signatures) == 1 for signatures in compiled)
    model = pretrained(batchnorm=True).eval()
    cnn_loss_gradient(model, mnist.test_x[:8], mnist.test_y[:8])
    assert [list(kernel.signatures) for kernel in kernels] == compiled


def test_a_nan_pixel_gives_nan_where_autograd_does():
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(1, 4, 3, padding=1)
    images = torch.rand(2, 1, 8, 8)
    images[1, 0, 3, 4] = float("nan")
    hidden, _ = conv1_relu_pool(conv.weight, conv.bias, images)
    expected = F.max_pool2d(F.relu(conv(images)), 2).detach()
    assert hidden.isnan().any()
    assert torch.equal(hidden.isnan(), expected.isnan())
    assert torch.allclose(hidden, expected, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (torch.zeros(2, 1, 7, 8), "even height and width"),
        (torch.zeros(2, 3, 8, 8), "images must be"),
        (torch.zeros(2, 1, 8, 8, dtype=torch.float64), "images must be"),
        (torch.zeros(1, 8, 8), "images must be"),
    ],
)
def test_bad_images_are_refused_before_the_kernel_runs(images, message):
    conv = torch.nn.Conv2d(1, 4, 3, padding=1)
    with pytest.raises(ValueError, match=message):
        conv1_relu_pool(conv.weight, conv.bias, images)


def test_a_gradient_that_does_not_match_is_refused():
    conv = torch.nn.Conv2d(1, 4, 3, padding=1)
    hidden, winner = conv1_relu_pool(conv.weight, conv.bias, torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="gradient must be"):
        conv1_relu_pool_input_gradient(conv.weight, torch.zeros(2, 4, 3, 3), hidden, winner)
    with pytest.raises(ValueError, match="weight must be"):
        conv1_relu_pool_input_gradient(conv.weight[:3], torch.zeros(hidden.shape), hidden, winner)
    with pytest.raises(ValueError, match="winner must be"):
        conv1_relu_pool_input_gradient(
            conv.weight, torch.zeros(hidden.shape), hidden, winner.long()
        )


def test_without_a_cache_folder_a_kernel_compiles_in_memory():
    namespace: dict = {}
    exec("def double(values):\n    return values * 2", namespace)  # no file to cache beside
    with pytest.raises(RuntimeError, match="no locator available"):
        numba.njit(cache=True)(namespace["double"])
    double = conv1_pool._compiled()(namespace["double"])
    assert type(double._cache).__name__ == "NullCache"
    assert double(np.arange(3.0)).tolist() == [0.0, 2.0, 4.0]
    # the library's own kernels are cached on disk here
    assert type(conv1_pool._forward_kernel._cache).__name__ != "NullCache"


def test_compile_kernels_leaves_the_random_generator_alone():
    state = torch.get_rng_state()
    compile_kernels()
    assert torch.equal(torch.get_rng_state(), state)
