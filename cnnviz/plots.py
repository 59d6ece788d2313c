"""One function per report figure, each returning a :class:`matplotlib.figure.Figure`.

Figures are built without pyplot's global state, so they are safe to make from several
threads and never pop up windows; save them with ``fig.savefig(path)``.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

from cnnviz.activations import Filters
from cnnviz.data import to_pixel_space
from cnnviz.occlusion import OcclusionResult
from cnnviz.train import History

METRICS = {
    "accuracy": ("train_acc", "val_acc", "accuracy (%)"),
    "loss": ("train_loss", "val_loss", "NLL loss"),
}
VARIANT_NAMES = {"bn": "with batch norm", "nobn": "without batch norm"}
DIVERGING = "RdBu_r"


def smooth(values: list[float], window: int) -> np.ndarray:
    """Trailing moving average (the first ``window - 1`` points average what exists)."""
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) == 0:
        return values
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumulative[1:] - cumulative[np.arange(1, len(values) + 1) - counts]) / counts


def show_digit(ax, image: torch.Tensor | np.ndarray, title: str | None = None) -> None:
    """Draw one digit (model space [-1, 1], any shape with 784 values) in grey."""
    pixels = to_pixel_space(torch.as_tensor(image).reshape(28, 28)).numpy()
    ax.imshow(pixels, cmap="gray", vmin=0.0, vmax=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def plot_training_curves(history: History, metric: str = "accuracy", window: int = 50) -> Figure:
    """Training (per step, smoothed) and validation curves of one run (Fig 1, 2, 4, 5)."""
    train_key, val_key, label = METRICS[metric]
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(history.step, getattr(history, train_key), color="C0", alpha=0.2, lw=0.8)
    ax.plot(
        history.step,
        smooth(getattr(history, train_key), window),
        color="C0",
        label=f"training (moving average of {window} steps)",
    )
    ax.plot(history.val_step, getattr(history, val_key), "o-", color="C1", ms=3, label="validation")
    for end in history.epoch_steps[:-1]:
        ax.axvline(end, color="0.85", lw=0.8, zorder=0)
    if metric == "accuracy":
        ax.set_ylim(max(0.0, min(getattr(history, val_key)) - 2), 100.5)
    else:
        ax.set_yscale("log")
    ax.set_xlabel("training step (grey lines: epochs)")
    ax.set_ylabel(label)
    test = f"test {history.test_acc:.2f} %" if history.test_acc is not None else ""
    ax.set_title(
        f"Training and validation {metric}, {VARIANT_NAMES[history.variant]} "
        f"({history.recipe['name']} recipe; {test})"
    )
    ax.legend(loc="lower right" if metric == "accuracy" else "upper right")
    ax.grid(alpha=0.3)
    return fig


def plot_bn_comparison(histories: list[History], metric: str = "accuracy") -> Figure:
    """Validation curves of several runs on one plot: batch norm versus none (Fig 6, 7)."""
    _, val_key, label = METRICS[metric]
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    for color, history in zip(("C3", "C2", "C4", "C5"), histories, strict=False):
        test = f", test {history.test_acc:.2f} %" if history.test_acc is not None else ""
        ax.plot(
            history.val_step,
            getattr(history, val_key),
            "o-",
            ms=3,
            color=color,
            label=f"{VARIANT_NAMES[history.variant]}{test}",
        )
    if metric == "accuracy":
        ax.set_ylim(max(0.0, min(min(h.val_acc) for h in histories) - 1), 100.2)
    else:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"validation {label}")
    ax.set_title(f"Validation {metric} with and without batch norm")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def plot_predictions(
    images: torch.Tensor, labels: torch.Tensor, probabilities: torch.Tensor
) -> Figure:
    """Digits with their true and predicted labels and confidence (Fig 3).

    ``images`` ``(N, 1, 28, 28)`` in [-1, 1], ``labels`` ``(N,)``, ``probabilities``
    ``(N, 10)``. Wrong predictions are titled in red.
    """
    n = len(images)
    fig = Figure(figsize=(1.8 * n, 2.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    predicted = probabilities.argmax(1)
    for ax, image, label, guess, probs in zip(
        axes, images, labels, predicted, probabilities, strict=True
    ):
        show_digit(ax, image)
        ax.set_title(
            f"true {int(label)}\npredicted {int(guess)} ({probs[guess]:.1%})",
            fontsize=9,
            color="black" if guess == label else "red",
        )
    fig.suptitle("Test digits: true and predicted labels")
    return fig


def kernel_mosaic(kernels: np.ndarray) -> np.ndarray:
    """Tile ``(rows, cols, k, k)`` kernels into one image with 1-px NaN gaps."""
    rows, cols, k, _ = kernels.shape
    mosaic = np.full((rows * (k + 1) - 1, cols * (k + 1) - 1), np.nan, dtype=np.float32)
    for row in range(rows):
        for col in range(cols):
            mosaic[row * (k + 1) : row * (k + 1) + k, col * (k + 1) : col * (k + 1) + k] = kernels[
                row, col
            ]
    return mosaic


def plot_filters(filters: Filters) -> Figure:
    """Kernels of one layer on a shared symmetric colour scale (Fig 8, 9).

    conv1: a 4x8 grid of the 32 kernels. conv2: one 32x32 mosaic, row = output channel,
    column = input channel. Blue is negative, red positive, white zero.
    """
    weights = filters.weights
    out_channels, in_channels, k, _ = weights.shape
    if in_channels == 1:
        grid = weights[:, 0].reshape(4, out_channels // 4, k, k)
        fig = Figure(figsize=(8, 4.4), layout="constrained")
    else:
        grid = weights
        fig = Figure(figsize=(9.5, 8.6), layout="constrained")
    ax = fig.subplots()
    colours = matplotlib.colormaps[DIVERGING].with_extremes(bad="0.25")
    image = ax.imshow(kernel_mosaic(grid), cmap=colours, vmin=-filters.limit, vmax=filters.limit)
    rows, cols = grid.shape[:2]
    step = 1 if in_channels == 1 else 4
    ax.set_xticks(np.arange(0, cols, step) * (k + 1) + (k - 1) / 2, np.arange(0, cols, step))
    ax.set_yticks(np.arange(0, rows, step) * (k + 1) + (k - 1) / 2, np.arange(0, rows, step))
    if in_channels == 1:
        ax.set_xlabel("kernel index (row r, column c: kernel 8r + c)")
        ax.set_yticks(np.arange(rows) * (k + 1) + (k - 1) / 2, [f"{8 * r}+" for r in range(rows)])
    else:
        ax.set_xlabel("input channel")
        ax.set_ylabel("output channel")
    fig.colorbar(image, ax=ax, shrink=0.8, label=f"weight (shared scale +-{filters.limit:.2f})")
    shape = "x".join(map(str, weights.shape[2:]))
    ax.set_title(f"Filters of {filters.layer}: {out_channels}x{in_channels} kernels of {shape}")
    return fig


def plot_activations(maps: torch.Tensor, layer: str, image: torch.Tensor | None = None) -> Figure:
    """Feature maps ``(32, H, W)`` of one input as a labelled grid (Fig 10, 11).

    Each map has its own colour scale (the text gives its maximum), since the point is
    where each channel fires; the input digit is shown first when given.
    """
    channels = len(maps)
    cols = 8
    rows = -(-channels // cols) + (1 if image is not None else 0)
    fig = Figure(figsize=(cols * 1.2, rows * 1.35 + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols)
    for ax in axes.flat:
        ax.axis("off")
    offset = 0
    if image is not None:
        show_digit(axes[0, 0], image, "input")
        axes[0, 0].axis("on")
        offset = cols
    for channel in range(channels):
        ax = axes.flat[offset + channel]
        values = maps[channel].numpy()
        ax.imshow(values, cmap="viridis")
        ax.set_title(f"ch {channel} (max {values.max():.1f})", fontsize=7)
    size = "x".join(map(str, maps.shape[1:]))
    fig.suptitle(f"Activations of {layer}: {channels} maps of {size}")
    return fig


def plot_occlusion(image: torch.Tensor, result: OcclusionResult) -> Figure:
    """The digit, the probability map with a colour bar, and the attribution (Fig 12)."""
    fig = Figure(figsize=(11, 3.6), layout="constrained")
    digit_ax, map_ax, attr_ax = fig.subplots(1, 3)
    show_digit(digit_ax, image, f"input (p[{result.target}] = {result.base_probability:.3f})")
    starts = result.starts.numpy()
    centre = starts + (result.patch - 1) / 2
    step = result.stride
    extent = (
        centre[0] - step / 2,
        centre[-1] + step / 2,
        centre[-1] + step / 2,
        centre[0] - step / 2,
    )
    heat = map_ax.imshow(
        result.probability.numpy(), cmap="magma", vmin=0.0, vmax=1.0, extent=extent
    )
    map_ax.set_xlim(-0.5, 27.5)
    map_ax.set_ylim(27.5, -0.5)
    map_ax.set_title(
        f"p[{result.target}] with a {result.patch}x{result.patch} grey patch\n"
        f"centred at each pixel (min {result.probability.min():.3f})",
        fontsize=9,
    )
    fig.colorbar(heat, ax=map_ax, label="probability of the class")
    limit = float(result.attribution.abs().max()) or 1.0
    show_digit(attr_ax, image)
    overlay = attr_ax.imshow(
        result.attribution.numpy(), cmap=DIVERGING, vmin=-limit, vmax=limit, alpha=0.75
    )
    attr_ax.set_title(f"occlusion attribution (Captum semantics,\n{result.score} drop)", fontsize=9)
    fig.colorbar(overlay, ax=attr_ax, label=f"{result.score} drop")
    fig.suptitle("Occlusion: where does covering the digit hurt?")
    return fig


def plot_saliency(images: torch.Tensor, maps: torch.Tensor, labels: torch.Tensor) -> Figure:
    """Each digit beside its saliency map and the map laid over the digit.

    ``images`` ``(N, 1, 28, 28)``, ``maps`` ``(N, 28, 28)`` (absolute saliency),
    ``labels`` ``(N,)``: the class whose logit was differentiated.
    """
    n = len(images)
    fig = Figure(figsize=(6.5, 2.2 * n), layout="constrained")
    axes = np.atleast_2d(fig.subplots(n, 3))
    for row, (image, saliency_map, label) in enumerate(zip(images, maps, labels, strict=True)):
        show_digit(axes[row, 0], image, f"input, class {int(label)}")
        values = saliency_map.numpy()
        axes[row, 1].imshow(values, cmap="hot", vmin=0.0)
        axes[row, 1].set_title("|d logit / d pixel|", fontsize=9)
        show_digit(axes[row, 2], image, "overlay")
        axes[row, 2].imshow(values, cmap="hot", alpha=0.6, vmin=0.0)
        for ax in axes[row, 1:]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Gradient saliency: pixels the class score is most sensitive to")
    return fig
