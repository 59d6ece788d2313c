"""The report's first layer (conv1, ReLU, 2x2 max pooling) fused, and its input gradient.

The first layer's 3x3 convolution has one input channel, so its output is 32 times the
size of its input: a batch of 128 digits makes a 12.8 MB map that the pooling reads, the
pooling's backward writes (mostly zeros) and the convolution's backward reads again.
These kernels never make that map. Each 4x4 window of the (padded) image gives the four
convolution values of one pooling window per channel; only their maximum (after ReLU)
and which of the four won are kept. The backward pass sends each pooled gradient to the
winning position's 3x3 neighbourhood directly.

Both are numba kernels over the batch (parallel, compiled once and cached on disk), in
fp32 with the same arithmetic for the four positions of a window: a tie (a blank
background makes every window one) goes to the first position in row-major order, as
torch's max pooling sends it, so the gradient equals autograd's.
"""

from __future__ import annotations

import threading

import numpy as np
import torch
from numba import njit, prange
from torch.nn import functional as F

# numba's default thread pool does not take two parallel launches at once; the app
# serves several users from threads.
_LAUNCH = threading.Lock()


def _compiled(**options):
    """numba's ``njit(parallel=True, **options)``, cached on disk where a folder allows.

    Without a writable cache folder (a read-only install and no writable home), numba
    refuses ``cache=True`` as it decorates; the kernels are then compiled in memory on
    first use in every process instead of making ``import cnnviz`` fail.
    """

    def decorate(function):
        try:
            return njit(parallel=True, cache=True, **options)(function)
        except RuntimeError:
            return njit(parallel=True, **options)(function)

    return decorate


@_compiled(boundscheck=False)
def _forward_kernel(padded, taps, bias, hidden, winner):  # pragma: no cover - compiled
    """``hidden[n, i, j, c] = max(0, max of conv at the window's 4 positions)``; ``winner`` 0-3."""
    for m in prange(padded.shape[0]):
        for i in range(hidden.shape[1]):
            for j in range(hidden.shape[2]):
                a = padded[m, 2 * i : 2 * i + 4, 2 * j : 2 * j + 4]
                p00, p01, p02, p03 = a[0, 0], a[0, 1], a[0, 2], a[0, 3]
                p10, p11, p12, p13 = a[1, 0], a[1, 1], a[1, 2], a[1, 3]
                p20, p21, p22, p23 = a[2, 0], a[2, 1], a[2, 2], a[2, 3]
                p30, p31, p32, p33 = a[3, 0], a[3, 1], a[3, 2], a[3, 3]
                for c in range(bias.shape[0]):
                    w0, w1, w2 = taps[0, c], taps[1, c], taps[2, c]
                    w3, w4, w5 = taps[3, c], taps[4, c], taps[5, c]
                    w6, w7, w8 = taps[6, c], taps[7, c], taps[8, c]
                    b = bias[c]
                    # the same sum, in the same order, at each of the four positions
                    top_left = (
                        b + p00 * w0 + p01 * w1 + p02 * w2 + p10 * w3 + p11 * w4
                        + p12 * w5 + p20 * w6 + p21 * w7 + p22 * w8
                    )  # fmt: skip
                    top_right = (
                        b + p01 * w0 + p02 * w1 + p03 * w2 + p11 * w3 + p12 * w4
                        + p13 * w5 + p21 * w6 + p22 * w7 + p23 * w8
                    )  # fmt: skip
                    bottom_left = (
                        b + p10 * w0 + p11 * w1 + p12 * w2 + p20 * w3 + p21 * w4
                        + p22 * w5 + p30 * w6 + p31 * w7 + p32 * w8
                    )  # fmt: skip
                    bottom_right = (
                        b + p11 * w0 + p12 * w1 + p13 * w2 + p21 * w3 + p22 * w4
                        + p23 * w5 + p31 * w6 + p32 * w7 + p33 * w8
                    )  # fmt: skip
                    # torch's rule: a larger value or a NaN takes the window
                    best, won = top_left, 0
                    if top_right > best or top_right != top_right:
                        best, won = top_right, 1
                    if bottom_left > best or bottom_left != bottom_left:
                        best, won = bottom_left, 2
                    if bottom_right > best or bottom_right != bottom_right:
                        best, won = bottom_right, 3
                    hidden[m, i, j, c] = np.float32(0) if best <= 0 else best  # NaN stays
                    winner[m, i, j, c] = won


@_compiled(boundscheck=False, fastmath={"reassoc", "contract", "nsz"})
def _backward_kernel(gradient, hidden, winner, taps, padded_gradient):  # pragma: no cover
    """Each live pooled gradient times conv1's weights, added around its winning pixel.

    Per pooling window, ``q_rs`` sums over channels the gradient reaching row ``r`` and
    column ``s`` of the window's 4x4 input patch: from the winning position ``k`` (0-3)
    through tap ``(r - k // 2, s - k % 2)`` of the 3x3 kernel. The channel sums may be
    reassociated (vectorised); nothing is compared after them.
    """
    zero = np.float32(0)
    for m in prange(gradient.shape[0]):
        padded_gradient[m] = zero
        for i in range(gradient.shape[1]):
            for j in range(gradient.shape[2]):
                q00 = q01 = q02 = q03 = q10 = q11 = q12 = q13 = zero
                q20 = q21 = q22 = q23 = q30 = q31 = q32 = q33 = zero
                for c in range(gradient.shape[3]):
                    g = gradient[m, i, j, c] if hidden[m, i, j, c] > 0 else zero
                    won = winner[m, i, j, c]
                    g0 = g if won == 0 else zero
                    g1 = g if won == 1 else zero
                    g2 = g if won == 2 else zero
                    g3 = g if won == 3 else zero
                    w0, w1, w2 = taps[0, c], taps[1, c], taps[2, c]
                    w3, w4, w5 = taps[3, c], taps[4, c], taps[5, c]
                    w6, w7, w8 = taps[6, c], taps[7, c], taps[8, c]
                    q00 += g0 * w0
                    q01 += g0 * w1 + g1 * w0
                    q02 += g0 * w2 + g1 * w1
                    q03 += g1 * w2
                    q10 += g0 * w3 + g2 * w0
                    q11 += g0 * w4 + g1 * w3 + g2 * w1 + g3 * w0
                    q12 += g0 * w5 + g1 * w4 + g2 * w2 + g3 * w1
                    q13 += g1 * w5 + g3 * w2
                    q20 += g0 * w6 + g2 * w3
                    q21 += g0 * w7 + g1 * w6 + g2 * w4 + g3 * w3
                    q22 += g0 * w8 + g1 * w7 + g2 * w5 + g3 * w4
                    q23 += g1 * w8 + g3 * w5
                    q30 += g2 * w6
                    q31 += g2 * w7 + g3 * w6
                    q32 += g2 * w8 + g3 * w7
                    q33 += g3 * w8
                patch = padded_gradient[m, 2 * i : 2 * i + 4, 2 * j : 2 * j + 4]
                patch[0, 0] += q00
                patch[0, 1] += q01
                patch[0, 2] += q02
                patch[0, 3] += q03
                patch[1, 0] += q10
                patch[1, 1] += q11
                patch[1, 2] += q12
                patch[1, 3] += q13
                patch[2, 0] += q20
                patch[2, 1] += q21
                patch[2, 2] += q22
                patch[2, 3] += q23
                patch[3, 0] += q30
                patch[3, 1] += q31
                patch[3, 2] += q32
                patch[3, 3] += q33


def _require(
    tensor: torch.Tensor, shape: tuple[int, ...], name: str, dtype: torch.dtype = torch.float32
) -> None:
    """Raise a ValueError unless ``tensor`` is a CPU tensor of ``shape`` and ``dtype``."""
    if tuple(tensor.shape) != shape or tensor.dtype != dtype or tensor.device.type != "cpu":
        raise ValueError(
            f"{name} must be a {dtype} CPU tensor of shape {shape}, "
            f"not {tensor.dtype} {tuple(tensor.shape)} on {tensor.device}"
        )


def _taps(weight: torch.Tensor) -> np.ndarray:
    """conv1's ``(C, 1, 3, 3)`` weight as a contiguous ``(9, C)`` float32 array."""
    return weight.detach().reshape(len(weight), 9).t().contiguous().numpy()


def conv1_relu_pool(
    weight: torch.Tensor, bias: torch.Tensor, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``max_pool2d(relu(conv2d(images, weight, bias, padding=1)), 2)``, and who won.

    Parameters
    ----------
    weight, bias
        conv1's ``(C, 1, 3, 3)`` and ``(C,)`` float32 CPU parameters.
    images
        ``(N, 1, H, W)`` float32 CPU images, ``H`` and ``W`` even.

    Returns
    -------
    hidden, winner
        ``hidden``: ``(N, C, H/2, W/2)`` float32, >= 0, channels-last in memory.
        ``winner``: ``(N, H/2, W/2, C)`` uint8, which of a window's four positions
        (0 top left, 1 top right, 2 bottom left, 3 bottom right) held its maximum before
        the ReLU; for :func:`conv1_relu_pool_input_gradient`.

    Examples
    --------
    >>> conv = torch.nn.Conv2d(1, 4, 3, padding=1)
    >>> images = torch.rand(2, 1, 6, 6)
    >>> hidden, winner = conv1_relu_pool(conv.weight, conv.bias, images)
    >>> expected = F.max_pool2d(F.relu(conv(images)), 2)
    >>> hidden.shape, torch.allclose(hidden, expected, atol=1e-6), winner.shape
    (torch.Size([2, 4, 3, 3]), True, torch.Size([2, 3, 3, 4]))

    Raises
    ------
    ValueError
        Shapes, dtypes or devices other than the above (the kernels do not check).
    """
    channels = len(weight)
    _require(weight, (channels, 1, 3, 3), "weight")
    _require(bias, (channels,), "bias")
    if images.ndim != 4:
        raise ValueError(f"images must be (N, 1, H, W), not {tuple(images.shape)}")
    n, _, height, width = images.shape
    _require(images, (n, 1, height, width), "images")
    if height % 2 or width % 2:
        raise ValueError(f"images need an even height and width, not {height} x {width}")
    padded = F.pad(images[:, 0].detach(), (1, 1, 1, 1)).contiguous()
    hidden = images.new_empty(n, height // 2, width // 2, channels)
    winner = torch.empty(hidden.shape, dtype=torch.uint8)
    with _LAUNCH:
        _forward_kernel(
            padded.numpy(),
            _taps(weight),
            bias.detach().contiguous().numpy(),
            hidden.numpy(),
            winner.numpy(),
        )
    return hidden.permute(0, 3, 1, 2), winner


def conv1_relu_pool_input_gradient(
    weight: torch.Tensor, gradient: torch.Tensor, hidden: torch.Tensor, winner: torch.Tensor
) -> torch.Tensor:
    """The gradient with respect to the images, from the gradient of ``hidden``.

    Parameters
    ----------
    weight
        conv1's ``(C, 1, 3, 3)`` float32 weight.
    gradient
        ``(N, C, H/2, W/2)`` float32: d(loss)/d``hidden``.
    hidden, winner
        As returned by :func:`conv1_relu_pool` for the images.

    Returns
    -------
    torch.Tensor
        ``(N, 1, H, W)`` float32: d(loss)/d(images), equal to autograd's to float rounding.

    Examples
    --------
    >>> conv = torch.nn.Conv2d(1, 4, 3, padding=1)
    >>> images = torch.rand(2, 1, 6, 6, requires_grad=True)
    >>> hidden, winner = conv1_relu_pool(conv.weight, conv.bias, images)
    >>> upstream = torch.randn(hidden.shape)
    >>> (F.max_pool2d(F.relu(conv(images)), 2) * upstream).sum().backward()
    >>> ours = conv1_relu_pool_input_gradient(conv.weight, upstream, hidden, winner)
    >>> torch.allclose(ours, images.grad, atol=1e-6)
    True

    Raises
    ------
    ValueError
        ``gradient``, ``hidden``, ``winner`` and ``weight`` that do not match.
    """
    n, channels, pooled_height, pooled_width = hidden.shape
    _require(weight, (channels, 1, 3, 3), "weight")
    _require(gradient, tuple(hidden.shape), "gradient")
    _require(hidden, tuple(hidden.shape), "hidden")
    _require(winner, (n, pooled_height, pooled_width, channels), "winner", torch.uint8)
    padded = gradient.new_empty(n, 2 * pooled_height + 2, 2 * pooled_width + 2)
    with _LAUNCH:
        _backward_kernel(
            gradient.detach().permute(0, 2, 3, 1).contiguous().numpy(),
            hidden.permute(0, 2, 3, 1).contiguous().numpy(),
            winner.contiguous().numpy(),
            _taps(weight),
            padded.numpy(),
        )
    return padded[:, 1:-1, 1:-1].unsqueeze(1)


def compile_kernels() -> None:
    """Compile both kernels now (or load them from numba's on-disk cache).

    Otherwise the first call pays for it: several seconds on a machine that has not run
    them before, a fraction of a second after. The app calls this in the background as
    it starts.

    Examples
    --------
    >>> compile_kernels()
    """
    weight = torch.zeros(1, 1, 3, 3)  # zeros: the global random generator stays untouched
    hidden, winner = conv1_relu_pool(weight, torch.zeros(1), torch.zeros(1, 1, 2, 2))
    conv1_relu_pool_input_gradient(weight, torch.zeros(hidden.shape), hidden, winner)
