"""Adversarial images and what they do: targeted grids, budgets, learned noise, robustness.

Images are drawn in the bounds their result carries (``AttackResult.bounds``) or the
``bounds`` given; perturbations in pixel units (a share of the range from black to
white), blue where they darken, red where they brighten (grey images), or as colour
around mid-grey (colour images).
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from cnnviz.attacks.result import AttackResult
from cnnviz.attacks.transfer import NoiseTransfer
from cnnviz.core.classifier import Bounds, pixel_scale
from cnnviz.plots.colours import DIVERGING, network_colour
from cnnviz.plots.images import GAP, image_mosaic, show_digit
from cnnviz.plots.transfer import TRANSFER_OUTCOMES


def _show_change(ax, change: torch.Tensor, limit: float):
    """Draw a perturbation ``(C, H, W)`` in pixel units on the scale ``+-limit``.

    Grey (one channel): a :data:`~cnnviz.plots.colours.DIVERGING` map, returned for a
    colour bar. Colour (three channels): each channel's change around mid-grey (0.5 is
    no change), returned as ``None`` (no colour bar fits three channels).
    """
    values = change.detach().cpu().numpy()
    ax.set_xticks([])
    ax.set_yticks([])
    if values.shape[0] == 3:
        ax.imshow(np.clip(0.5 + values.transpose(1, 2, 0) / (2 * limit), 0, 1))
        return None
    return ax.imshow(values.reshape(values.shape[-2:]), cmap=DIVERGING, vmin=-limit, vmax=limit)


def plot_targeted_grid(
    result: AttackResult,
    num_classes: int = 10,
    title: str = "Targeted attack: every digit made to read as every class",
) -> Figure:
    """Adversarial image for every (source row, target column) pair, annotated (Fig 16).

    ``result`` comes from :func:`cnnviz.attacks.targeted.targeted_attack` on
    :func:`cnnviz.attacks.targeted.all_pairs` (source-major); its images, of any shape,
    are drawn in ``result.bounds``. Each cell says the probability of its target;
    failures are marked in red. ``title`` heads the figure (e.g. name the attack's
    settings).

    Examples
    --------
    One source digit made to read as each of the ten classes:

    >>> import cnnviz
    >>> from cnnviz.attacks.targeted import all_pairs, targeted_attack
    >>> digits = torch.zeros(1, 1, 28, 28)
    >>> result = targeted_attack(cnnviz.pretrained(), *all_pairs(digits), steps=3)
    >>> fig = plot_targeted_grid(result)
    >>> fig.axes[0].images[0].get_array().shape, len(fig.axes[0].texts)  # 1x10 cells
    ((28, 298), 10)
    """
    sources = len(result.targets) // num_classes
    height, width = result.images.shape[-2:]
    fig = Figure(figsize=(9.0, 0.9 * sources + 1.0), layout="constrained")
    ax = fig.subplots()
    mosaic = image_mosaic(result.images, sources, num_classes, result.bounds)
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1)
    for index, (prob, ok) in enumerate(zip(result.probabilities, result.success, strict=True)):
        row, col = divmod(index, num_classes)
        ax.text(
            col * (width + GAP) + width - 1,
            row * (height + GAP) + height - 1,
            f"{prob:.2f}",
            ha="right",
            va="bottom",
            fontsize=7.5,
            color="yellow" if ok else "red",
        )
    ax.set_xticks(
        np.arange(num_classes) * (width + GAP) + (width - 1) / 2,
        [str(t) for t in range(num_classes)],
    )
    ax.set_yticks(
        np.arange(sources) * (height + GAP) + (height - 1) / 2, [str(s) for s in range(sources)]
    )
    ax.set_xlabel("target class (number: its probability)")
    ax.set_ylabel("source digit")
    ax.set_title(title)
    return fig


def plot_perturbed_digits(
    epsilons: list[float],
    images: torch.Tensor,
    labels: torch.Tensor,
    predictions: torch.Tensor,
    attack: str = "FGSM",
    *,
    bounds: Bounds,
) -> Figure:
    """The same images after an attack of each budget: one row per epsilon.

    ``images`` ``(E, N, C, H, W)`` in ``bounds``, the attacked images for each of the
    ``E`` ``epsilons`` (pixel units); ``labels`` ``(N,)`` true classes;
    ``predictions`` ``(E, N)`` what the model reads. Misread images are titled in red.
    ``attack`` names the attack in the title.

    Examples
    --------
    >>> images = torch.zeros(2, 3, 1, 28, 28)  # 2 budgets, 3 digits
    >>> predictions = torch.tensor([[1, 2, 3], [1, 0, 0]])
    >>> fig = plot_perturbed_digits(
    ...     [0.0, 0.3], images, torch.tensor([1, 2, 3]), predictions, bounds=(-1.0, 1.0)
    ... )
    >>> [ax.title.get_color() for ax in fig.axes[3:]], fig.axes[3].get_ylabel()
    (['black', 'red', 'red'], 'eps = 0.30')
    """
    rows, cols = predictions.shape
    fig = Figure(figsize=(1.5 * cols + 0.6, 1.55 * rows + 0.5), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, cols))
    for row, eps in enumerate(epsilons):
        for col in range(cols):
            guess, label = int(predictions[row, col]), int(labels[col])
            show_digit(axes[row, col], images[row, col], bounds=bounds)
            axes[row, col].set_title(
                f"read as {guess}", fontsize=9, color="black" if guess == label else "red"
            )
        axes[row, 0].set_ylabel(f"eps = {eps:.2f}", fontsize=9)
    fig.suptitle(f"{attack}: the same digits at each budget (red: misread)")
    return fig


def plot_noise_attack(transfer: NoiseTransfer, columns: int = 5) -> Figure:
    """Each adversarial image above its learned noise, ``columns`` targets a row (Fig 17).

    The noises share one scale in pixel units (a share of the range from black to
    white, from ``transfer.attack.bounds``): on grey images red adds ink, blue removes
    it. Images are shown clipped to the model's bounds. ``transfer`` comes from
    :func:`cnnviz.attacks.transfer.noise_attack`.

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.attacks.transfer import noise_attack
    >>> digit, others = torch.zeros(1, 1, 28, 28), torch.zeros(3, 1, 28, 28)
    >>> transfer = noise_attack(cnnviz.pretrained(), digit, [1, 2], others=others, steps=3)
    >>> fig = plot_noise_attack(transfer)
    >>> len(fig.axes), fig.axes[0].get_title().split(":")[0]  # 2 images, 2 noises, 1 bar
    (5, '-> 1')
    """
    attack = transfer.attack
    n = len(attack.targets)
    cols = min(columns, n)
    rows = -(-n // cols)
    width = max(1.5 * cols + 1.2, 5.2)  # at least the title's width
    fig = Figure(figsize=(width, 3.3 * rows + 0.4), layout="constrained")
    axes = np.asarray(fig.subplots(2 * rows, cols)).reshape(2 * rows, cols)
    noises = transfer.noises / pixel_scale(attack.bounds)  # pixel units, (K, C, H, W)
    limit = float(noises.abs().max()) or 1.0
    shown = None
    for index in range(rows * cols):
        row, col = divmod(index, cols)
        top, bottom = axes[2 * row, col], axes[2 * row + 1, col]
        if index >= n:
            top.axis("off")
            bottom.axis("off")
            continue
        show_digit(
            top,
            attack.images[index],
            f"-> {int(attack.targets[index])}: p = {attack.probabilities[index]:.2f}",
            bounds=attack.bounds,
        )
        shown = _show_change(bottom, noises[index], limit) or shown
    noise = "noise" if shown is not None else "noise (mid-grey: 0)"  # colour: no colour bar
    for row in range(rows):
        axes[2 * row, 0].set_ylabel("image + noise", fontsize=9)
        axes[2 * row + 1, 0].set_ylabel(noise, fontsize=9)
    if shown is not None:
        fig.colorbar(shown, ax=axes, shrink=0.6, label="noise (pixels of [0, 1])")
    fig.suptitle("Noise attack: additive noise learned for each target class")
    return fig


def plot_universal_perturbation(
    perturbation: torch.Tensor,
    images: torch.Tensor,
    before: torch.Tensor,
    after: torch.Tensor,
    title: str,
    *,
    bounds: Bounds,
) -> Figure:
    """A universal perturbation (left) and unseen images with it added (right).

    Parameters
    ----------
    perturbation
        ``(1, C, H, W)`` in model units.
    images
        ``(N, C, H, W)`` unseen images in ``bounds`` (``N`` up to 10 is readable).
    before, after
        ``(N,)`` predicted classes without and with the perturbation.
    title
        Figure title (say what it fools and how often).
    bounds
        The model's input range ``(black, white)``: the perturbation is shown in pixel
        units (shares of it), the images with it added clipped to it.

    Returns
    -------
    Figure
        Images whose prediction changed are titled in sky blue (``before -> after``).

    Examples
    --------
    >>> perturbation = torch.full((1, 1, 28, 28), 0.1)
    >>> before, after = torch.tensor([1, 1, 1]), torch.tensor([1, 8, 8])
    >>> fig = plot_universal_perturbation(
    ...     perturbation, -torch.ones(3, 1, 28, 28), before, after, "fools 2 of 3",
    ...     bounds=(-1.0, 1.0),
    ... )
    >>> fig.get_suptitle(), [ax.get_title() for ax in fig.axes if "->" in ax.get_title()]
    ('fools 2 of 3', ['1 -> 1', '1 -> 8', '1 -> 8'])
    """
    n = len(images)
    cols = min(5, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(2.3 + 1.3 * cols, 1.5 * rows + 0.9), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=(2.3, 1.3 * cols))
    ax = left.subplots()
    change = perturbation[0] / pixel_scale(bounds)  # pixel units
    limit = float(change.abs().max()) or 1.0
    shown = _show_change(ax, change, limit)
    ax.set_title("the perturbation", fontsize=9)
    if shown is not None:
        left.colorbar(shown, ax=ax, orientation="horizontal", label="pixels of [0, 1]")
    axes = np.atleast_1d(right.subplots(rows, cols)).reshape(-1)
    for axis in axes[n:]:
        axis.axis("off")
    for axis, image, was, now in zip(axes, images + perturbation, before, after, strict=False):
        show_digit(axis, image, f"{int(was)} -> {int(now)}", bounds=bounds)
        if int(was) != int(now):
            axis.title.set_color(TRANSFER_OUTCOMES[2][1])
    fig.suptitle(title)
    return fig


def plot_robustness(epsilons: list[float], curves: dict[str, torch.Tensor]) -> Figure:
    """Accuracy against the L-infinity budget, one line per (model, attack).

    ``epsilons``: ``E`` budgets in pixel units of [0, 1] images; ``curves``: line label
    -> ``(E,)`` accuracies in percent, labelled ``"network, attack"``: each network has
    its colour (:func:`~cnnviz.plots.network_colour`); labels containing
    ``"FGSM"`` are dashed.

    Examples
    --------
    >>> from cnnviz.plots.colours import NETWORK_COLOURS
    >>> curves = {"CNN, FGSM": torch.tensor([99.0, 50.0]), "CNN, PGD": torch.tensor([99.0, 10.0])}
    >>> fig = plot_robustness([0.0, 0.3], curves)
    >>> [line.get_linestyle() for line in fig.axes[0].get_lines()]
    ['--', '-']
    >>> {line.get_color() for line in fig.axes[0].get_lines()} == {NETWORK_COLOURS["yours"]}
    True
    """
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    for name, accuracies in curves.items():
        fgsm = "FGSM" in name
        ax.plot(
            epsilons,
            accuracies.numpy(),
            "--" if fgsm else "-",
            marker="s" if fgsm else "o",
            ms=3.5,
            color=network_colour(name),
            label=name,
        )
    ax.set_xlabel("epsilon (L-infinity, pixel units of [0, 1] images)")
    ax.set_ylabel("test accuracy under attack (%)")
    ax.set_ylim(-2, 102)
    ax.set_title("Robustness to FGSM and PGD")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig
