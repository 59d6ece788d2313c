"""Input images drawn as they are seen: one image, a mosaic, and grids of labelled images.

Every function takes images in the model's input space and its ``bounds`` (the values of
black and white: a model's ``input_bounds``, see :func:`cnnviz.core.classifier.input_bounds`),
of any size: ``(1, H, W)`` or ``(H, W)`` drawn in grey, ``(3, H, W)`` in colour.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from cnnviz.core.classifier import Bounds, to_pixels
from cnnviz.plots.colours import network_colour

#: Gap between the tiles of :func:`~cnnviz.plots.image_mosaic`, in pixels.
GAP = 2


def image_pixels(image: torch.Tensor | np.ndarray, bounds: Bounds) -> np.ndarray:
    """One image as displayable pixels in [0, 1]: ``(H, W)`` grey or ``(H, W, 3)`` colour.

    ``image``: ``(H, W)``, ``(1, H, W)`` or ``(3, H, W)`` in the model's input space
    ``bounds`` (black, white); values beyond them are clipped.

    Examples
    --------
    >>> image_pixels(torch.zeros(1, 2, 3), (-1.0, 1.0)).tolist()
    [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
    >>> image_pixels(torch.ones(3, 4, 5), (0.0, 1.0)).shape
    (4, 5, 3)
    """
    pixels = to_pixels(torch.as_tensor(image).detach().cpu(), bounds).clamp(0, 1)
    if pixels.ndim == 3 and pixels.shape[0] == 3:
        return pixels.permute(1, 2, 0).numpy()
    if pixels.ndim == 3 and pixels.shape[0] == 1:
        return pixels[0].numpy()
    if pixels.ndim != 2:
        raise ValueError(f"an image is (H, W), (1, H, W) or (3, H, W), not {tuple(pixels.shape)}")
    return pixels.numpy()


def show_digit(
    ax,
    image: torch.Tensor | np.ndarray,
    title: str | None = None,
    *,
    bounds: Bounds,
) -> None:
    """Draw one image given in the model's input space ``bounds`` (black, white).

    ``image``: ``(H, W)`` or ``(1, H, W)`` in grey, or ``(3, H, W)`` in colour, of any size (see
    :func:`~cnnviz.plots.images.image_pixels`). ``title`` heads the panel; ticks are removed.

    Examples
    --------
    A mid-grey digit (0 in [-1, 1]) is drawn as grey 0.5; a colour picture in colour:

    >>> ax = Figure().subplots()
    >>> show_digit(ax, torch.zeros(1, 28, 28), "blank", bounds=(-1.0, 1.0))
    >>> ax.get_title(), ax.images[0].get_array().shape, float(ax.images[0].get_array()[0, 0])
    ('blank', (28, 28), 0.5)
    >>> show_digit(ax, torch.rand(3, 32, 32), bounds=(0.0, 1.0))
    >>> ax.images[1].get_array().shape
    (32, 32, 3)
    """
    pixels = image_pixels(image, bounds)
    if pixels.ndim == 3:
        ax.imshow(pixels)
    else:
        ax.imshow(pixels, cmap="gray", vmin=0.0, vmax=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def image_mosaic(images: torch.Tensor, rows: int, cols: int, bounds: Bounds) -> np.ndarray:
    """``rows * cols`` images ``(C, H, W)`` tiled row-major into one [0, 1] picture.

    Tiles are :data:`~cnnviz.plots.images.GAP` pixels apart (white gaps): tile ``(r, c)`` starts at
    pixel ``(r * (H + GAP), c * (W + GAP))``. Grey images give ``(rows * (H + GAP) - GAP, cols * (W
    + GAP) - GAP)``, colour images the same with a last axis of 3.

    Examples
    --------
    >>> image_mosaic(-torch.ones(6, 1, 28, 28), 2, 3, (-1.0, 1.0)).shape
    (58, 88)
    >>> image_mosaic(torch.zeros(2, 3, 8, 8), 1, 2, (0.0, 1.0)).shape
    (8, 18, 3)
    """
    tiles = [
        image_pixels(image, bounds)
        for image in images.detach().reshape(rows * cols, -1, *images.shape[-2:])
    ]
    height, width = tiles[0].shape[:2]
    mosaic = np.ones(
        (rows * (height + GAP) - GAP, cols * (width + GAP) - GAP, *tiles[0].shape[2:]),
        dtype=np.float32,
    )
    for index, tile in enumerate(tiles):
        row, col = divmod(index, cols)
        top, left = row * (height + GAP), col * (width + GAP)
        mosaic[top : top + height, left : left + width] = tile
    return mosaic


def plot_predictions(
    images: torch.Tensor,
    labels: torch.Tensor,
    probabilities: torch.Tensor,
    title: str = "Test digits: true and predicted labels",
    captions: list[str] | None = None,
    *,
    bounds: Bounds,
) -> Figure:
    """Images with their true and predicted labels and confidence (Fig 3).

    ``images`` ``(N, C, H, W)`` in ``bounds``, ``labels`` ``(N,)``, ``probabilities``
    ``(N, K)``. Wrong predictions are titled in red. ``title`` names the figure (say
    where the images come from); ``captions``, one per image, head their panels.

    Examples
    --------
    A confident 3 and a confident 5, whose true label is 4:

    >>> probabilities = torch.eye(10)[[3, 5]]
    >>> fig = plot_predictions(
    ...     torch.zeros(2, 1, 28, 28), torch.tensor([3, 4]), probabilities, bounds=(-1.0, 1.0)
    ... )
    >>> [(ax.get_title().splitlines()[1], ax.title.get_color()) for ax in fig.axes]
    [('predicted 3 (100.0%)', 'black'), ('predicted 5 (100.0%)', 'red')]
    """
    n = len(images)
    cols = min(n, 5)
    rows = -(-n // cols)
    height = 2.3 if captions is None else 2.6
    captions = [f"{caption}\n" for caption in captions] if captions else [""] * n
    fig = Figure(figsize=(max(1.8 * cols, 4.0), height * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    for ax in axes[n:]:
        ax.axis("off")
    predicted = probabilities.argmax(1)
    for ax, image, label, guess, probs, caption in zip(
        axes, images, labels, predicted, probabilities, captions, strict=False
    ):
        show_digit(ax, image, bounds=bounds)
        ax.set_title(
            f"{caption}true {int(label)}\npredicted {int(guess)} ({probs[guess]:.1%})",
            fontsize=9,
            color="black" if guess == label else "red",
        )
    fig.suptitle(title)
    return fig


def plot_image_rows(
    rows: dict[str, torch.Tensor],
    captions: dict[str, list[str]] | None = None,
    columns: list[str] | None = None,
    *,
    bounds: Bounds,
) -> Figure:
    """Rows of images side by side, each row named (e.g. plain vs regularised ascent).

    Parameters
    ----------
    rows
        Row name -> ``(K, C, H, W)`` images in ``bounds``, every row the same ``K``. A
        name that names a network (``"robust"``, ``"standard, plain"``) is written in
        its colour (:func:`cnnviz.plots.network_colour`).
    captions
        Row name -> ``K`` captions (e.g. probabilities); default none.
    columns
        ``K`` column labels (e.g. the class or channel each column shows), above the
        first row; default none.
    bounds
        The model's input range ``(black, white)``.

    Returns
    -------
    Figure

    Examples
    --------
    >>> rows = {"a": torch.zeros(3, 1, 28, 28), "b": torch.ones(3, 1, 28, 28)}
    >>> fig = plot_image_rows(rows, columns=["class 0", "class 1", "class 2"], bounds=(-1, 1))
    >>> len(fig.axes), fig.axes[1].get_title()
    (6, 'class 1')
    """
    count = len(next(iter(rows.values())))
    if columns is not None and len(columns) != count:
        raise ValueError(
            f"columns needs {count} labels, one per image of a row, not {len(columns)}"
        )
    top = 0.25 if columns else 0.0
    fig = Figure(figsize=(0.9 * count + 0.9, 1.15 * len(rows) + top), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(rows), count))
    for row, (name, images) in enumerate(rows.items()):
        caption = (captions or {}).get(name)
        for column in range(count):
            ax = axes[row, column]
            words = [columns[column]] if columns and row == 0 else []
            words += [caption[column]] if caption else []
            show_digit(ax, images[column], "\n".join(words) or None, bounds=bounds)
            if column == 0:  # a row of a network has the network's colour
                ax.set_ylabel(name, fontsize=9, color=network_colour(name, other="black"))
    return fig
