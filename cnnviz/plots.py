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
from cnnviz.attacks import AscentResult, NoiseTransfer
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
    """The digit, the probability map with a colour bar, and the attribution (Fig 12).

    The map's colours span its own range (dark: the lowest probability), so that small
    drops of a confident class stay visible; the colour bar gives the values.
    """
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
    low, high = float(result.probability.min()), float(result.probability.max())
    if high - low < 1e-4:  # nothing changes: show it on the full scale
        low, high = 0.0, 1.0
    heat = map_ax.imshow(
        result.probability.numpy(), cmap="magma", vmin=low, vmax=high, extent=extent
    )
    map_ax.set_xlim(-0.5, 27.5)
    map_ax.set_ylim(27.5, -0.5)
    map_ax.set_title(
        f"p[{result.target}] with a {result.patch}x{result.patch} grey patch\n"
        f"centred at each pixel (min {result.probability.min():.3f})",
        fontsize=9,
    )
    fig.colorbar(heat, ax=map_ax, label="probability of the class (this map's range)")
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


def digit_mosaic(images: torch.Tensor, rows: int, cols: int) -> np.ndarray:
    """``(rows * cols, 1, 28, 28)`` model-space images as one [0, 1] mosaic, 2-px gaps."""
    pixels = to_pixel_space(images.detach().reshape(rows, cols, 28, 28)).clamp(0, 1).numpy()
    mosaic = np.ones((rows * 30 - 2, cols * 30 - 2), dtype=np.float32)
    for row in range(rows):
        for col in range(cols):
            mosaic[row * 30 : row * 30 + 28, col * 30 : col * 30 + 28] = pixels[row, col]
    return mosaic


def plot_class_visualisations(result: AscentResult) -> Figure:
    """The images grown from noise for each class, with probability and steps (Fig 13)."""
    n = len(result.targets)
    cols = min(5, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(2.1 * cols, 2.4 * rows + 0.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    for ax in axes[n:]:
        ax.axis("off")
    for ax, image, target, prob, steps, ok in zip(
        axes,
        result.images,
        result.targets,
        result.probabilities,
        result.steps,
        result.success,
        strict=False,
    ):
        show_digit(ax, image)
        verdict = "" if ok else " (cap)"
        ax.set_title(
            f"class {int(target)}: p = {prob:.3f}\n{int(steps)} steps{verdict}",
            fontsize=9,
            color="black" if ok else "red",
        )
    fig.suptitle("Class-model visualisation: noise the network calls each digit")
    return fig


def plot_logit_history(result: AscentResult, classes: tuple[int, ...] = (1, 7)) -> Figure:
    """Target logit (the report's "cost") against iteration for chosen classes (Fig 14, 15)."""
    fig = Figure(figsize=(4.2 * len(classes), 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(classes)))
    for ax, target in zip(axes, classes, strict=True):
        column = int((result.targets == target).nonzero()[0, 0])
        steps = int(result.steps[column])
        logits = result.logit_history[: steps + 1, column].numpy()
        ax.plot(np.arange(steps + 1), logits, "o-", ms=2, color="C0", label="logit")
        twin = ax.twinx()
        twin.plot(
            np.arange(steps + 1),
            result.probability_history[: steps + 1, column].numpy(),
            color="C1",
            lw=1,
            label="probability",
        )
        twin.set_ylim(0, 1.02)
        twin.set_ylabel("probability", color="C1")
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"logit of class {target}", color="C0")
        ax.set_title(f"Class {target}: logit rises about linearly", fontsize=10)
        ax.grid(alpha=0.3)
    fig.suptitle("Cost (target logit) during gradient ascent")
    return fig


def plot_targeted_grid(result: AscentResult, num_classes: int = 10) -> Figure:
    """Adversarial image for every (source row, target column) pair, annotated (Fig 16).

    ``result`` comes from :func:`cnnviz.attacks.targeted_attack` on
    :func:`cnnviz.attacks.all_pairs` (source-major). Each cell says the probability of
    its target; failures are marked in red.
    """
    sources = len(result.targets) // num_classes
    fig = Figure(figsize=(10, 1.05 * sources + 0.9), layout="constrained")
    ax = fig.subplots()
    ax.imshow(digit_mosaic(result.images, sources, num_classes), cmap="gray", vmin=0, vmax=1)
    for index, (prob, ok) in enumerate(zip(result.probabilities, result.success, strict=True)):
        row, col = divmod(index, num_classes)
        ax.text(
            col * 30 + 27,
            row * 30 + 27,
            f"{prob:.2f}",
            ha="right",
            va="bottom",
            fontsize=6,
            color="yellow" if ok else "red",
        )
    ax.set_xticks(np.arange(num_classes) * 30 + 13.5, [str(t) for t in range(num_classes)])
    ax.set_yticks(np.arange(sources) * 30 + 13.5, [str(s) for s in range(sources)])
    ax.set_xlabel("target class (number: its probability)")
    ax.set_ylabel("source digit")
    ax.set_title("Targeted attack: every digit made to read as every class")
    return fig


def plot_noise_attack(transfer: NoiseTransfer) -> Figure:
    """Adversarial images (top) and the learned noises (bottom), per target (Fig 17)."""
    attack = transfer.attack
    n = len(attack.targets)
    fig = Figure(figsize=(1.6 * n, 3.9), layout="constrained")
    axes = fig.subplots(2, n)
    limit = float(transfer.noises.abs().max()) or 1.0
    for col in range(n):
        show_digit(
            axes[0, col],
            attack.images[col],
            f"-> {int(attack.targets[col])}: p = {attack.probabilities[col]:.2f}",
        )
        noise = axes[1, col].imshow(
            transfer.noises[col, 0].numpy(), cmap=DIVERGING, vmin=-limit, vmax=limit
        )
        axes[1, col].set_xticks([])
        axes[1, col].set_yticks([])
    axes[0, 0].set_ylabel("image + noise")
    axes[1, 0].set_ylabel("noise")
    fig.colorbar(noise, ax=axes[1, :], shrink=0.8, label="noise (model units)")
    fig.suptitle("Noise attack: additive noise learned for each target class")
    return fig


def plot_transfer_table(transfer: NoiseTransfer, image_labels: torch.Tensor) -> Figure:
    """The report's table as an annotated heatmap: rows = noise targets, columns = images.

    Green: the prediction became the noise's target (fooled); grey: still the true
    label; orange: something else; white: the image already is of the target class
    (not counted in the fooling rate).
    """
    targets = transfer.attack.targets
    predictions = transfer.predictions
    outcome = np.where(
        predictions == targets[:, None], 2, np.where(predictions == image_labels[None, :], 0, 1)
    )
    outcome = np.where(image_labels[None, :] == targets[:, None], 3, outcome)
    colours = matplotlib.colors.ListedColormap(["0.85", "#f4a259", "#5b8e7d", "white"])
    fig = Figure(
        figsize=(0.6 * predictions.shape[1] + 2.6, 0.5 * len(targets) + 1.3), layout="constrained"
    )
    ax = fig.subplots()
    ax.imshow(outcome, cmap=colours, vmin=0, vmax=3)
    for (row, col), value in np.ndenumerate(predictions.numpy()):
        ax.text(col, row, str(value), ha="center", va="center", fontsize=9)
    ax.set_xticks(range(predictions.shape[1]), [str(int(y)) for y in image_labels])
    ax.set_yticks(
        range(len(targets)),
        [
            f"noise -> {int(t)} ({rate:.0%})"
            for t, rate in zip(targets, transfer.fooling_rate, strict=True)
        ],
    )
    ax.set_xlabel("true label of the image the noise is added to")
    ax.set_title("Predictions after adding each learned noise (green: fooled)")
    return fig


def plot_robustness(epsilons: list[float], curves: dict[str, torch.Tensor]) -> Figure:
    """Accuracy against the L-infinity budget, one line per (model, attack)."""
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    for index, (name, accuracies) in enumerate(curves.items()):
        style = "--" if "FGSM" in name else "-"
        ax.plot(
            epsilons,
            accuracies.numpy(),
            style,
            marker="o",
            ms=3,
            color=f"C{index // 2 if len(curves) > 2 else index}",
            label=name,
        )
    ax.set_xlabel("epsilon (L-infinity, pixel units of [0, 1] images)")
    ax.set_ylabel("test accuracy under attack (%)")
    ax.set_ylim(-2, 102)
    ax.set_title("Robustness to FGSM and PGD")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig
