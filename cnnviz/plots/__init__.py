"""One function per report figure, each returning a :class:`matplotlib.figure.Figure`.

Figures are built without pyplot's global state, so they are safe to make from several
threads and never pop up windows; save them with ``fig.savefig(path)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from cnnviz.attacks.result import AttackResult
from cnnviz.attacks.transfer import NoiseTransfer
from cnnviz.core.classifier import Bounds, to_pixels
from cnnviz.inspect.layers import Filters
from cnnviz.inspect.occlusion import OcclusionResult
from cnnviz.training.history import History

METRICS = {
    "accuracy": ("train_acc", "val_acc", "accuracy (%)"),
    "loss": ("train_loss", "val_loss", "NLL loss"),
}
VARIANT_NAMES = {
    "bn": "with batch norm",
    "nobn": "without batch norm",
    "robust": "robust (adversarially trained)",
}
#: One colour per network, the same on every page, plot and app view (Okabe-Ito: told
#: apart with every common colour-vision deficiency, tested). ``"yours"``: any other.
NETWORK_COLOURS: dict[str, str] = {
    "standard": "#0072B2",
    "batch norm": "#D55E00",
    "robust": "#009E73",
    "yours": "#CC79A7",
}
#: Names by which pages, histories and the app call the networks of
#: :data:`NETWORK_COLOURS` (lower case, as :func:`network_colour` compares them).
NETWORK_ALIASES: dict[str, str] = {
    "nobn": "standard",
    "no batch norm": "standard",
    "without batch norm": "standard",
    "bn": "batch norm",
    "with batch norm": "batch norm",
    "robust (adversarially trained)": "robust",
}
DIVERGING = "RdBu_r"
REPORT_BOUNDS: Bounds = (-1.0, 1.0)  # the report CNN's input space, the plots' default


#: The report's numbered figures (Fig 1 to 17).
REPORT_FIGURES = range(1, 18)
#: Attribute of a :class:`~matplotlib.figure.Figure` that holds its description.
DESCRIPTION_ATTRIBUTE = "cnnviz_description"


class FigureDescriptionError(ValueError):
    """A figure description without words, or naming a figure the report does not have.

    Examples
    --------
    >>> describe(Figure(), alt="a", caption="b", report_figure=18)
    Traceback (most recent call last):
    ...
    cnnviz.plots.FigureDescriptionError: the report has Fig 1 to 17, not 18
    """


@dataclass(frozen=True)
class FigureDescription:
    """What a figure shows (``alt``), what to notice in it (``caption``), and which of
    the report's figures (Fig 1 to 17) it re-creates: ``report_figures``, empty for a
    figure beyond the report.

    Examples
    --------
    >>> FigureDescription("Two curves.", "They meet.", ()).full_caption
    'Beyond the report. They meet.'
    """

    alt: str
    caption: str
    report_figures: tuple[int, ...]

    @property
    def source(self) -> str:
        """``"Report Fig 8"``, ``"Report Fig 14 and 15"`` or ``"Beyond the report"``.

        Examples
        --------
        >>> FigureDescription("a", "b", (14, 15)).source
        'Report Fig 14 and 15'
        """
        if not self.report_figures:
            return "Beyond the report"
        numbers = [str(number) for number in self.report_figures]
        if len(numbers) == 1:
            return f"Report Fig {numbers[0]}"
        return f"Report Fig {', '.join(numbers[:-1])} and {numbers[-1]}"

    @property
    def full_caption(self) -> str:
        """The caption as shown under the image: its source, then the caption.

        Examples
        --------
        >>> FigureDescription("a", "Blue is negative.", (8,)).full_caption
        'Report Fig 8. Blue is negative.'
        """
        return f"{self.source}. {self.caption}"


def describe(
    fig: Figure, *, alt: str, caption: str, report_figure: int | tuple[int, ...] | None
) -> None:
    """Attach alt text, a caption and the report figure it re-creates to ``fig``.

    The documentation shows ``alt`` as the image's alternative text (what the figure
    shows, for a reader who cannot see it) and ``caption`` under the image, after the
    report figure it re-creates; the docs build fails for a gallery figure without them.

    Parameters
    ----------
    fig
        The figure to describe; :func:`description` returns what it was given.
    alt
        What the figure shows: its panels, axes and colours, in one or two sentences.
    caption
        What to notice in it; true on every run (the printed numbers say the rest).
    report_figure
        The report's figure number (1 to 17), several for a figure that re-creates
        several (``(14, 15)``), or ``None`` for a figure beyond the report.

    Raises
    ------
    FigureDescriptionError
        If ``alt`` or ``caption`` is blank, or a number is not one of Fig 1 to 17.

    Examples
    --------
    >>> fig = Figure()
    >>> describe(fig, alt="An empty canvas.", caption="Nothing.", report_figure=3)
    >>> description(fig).full_caption
    'Report Fig 3. Nothing.'
    """
    if not alt.strip() or not caption.strip():
        raise FigureDescriptionError("a figure needs both alt text and a caption")
    numbers = () if report_figure is None else tuple(np.atleast_1d(report_figure).tolist())
    if any(number not in REPORT_FIGURES for number in numbers):
        raise FigureDescriptionError(f"the report has Fig 1 to 17, not {report_figure}")
    setattr(fig, DESCRIPTION_ATTRIBUTE, FigureDescription(alt.strip(), caption.strip(), numbers))


def description(fig: Figure) -> FigureDescription | None:
    """The description :func:`describe` attached to ``fig``, or ``None``.

    Examples
    --------
    >>> description(Figure()) is None
    True
    """
    return getattr(fig, DESCRIPTION_ATTRIBUTE, None)


def network_colour(name: str, other: str = NETWORK_COLOURS["yours"]) -> str:
    """The colour of the network a line or panel label names (:data:`NETWORK_COLOURS`).

    ``name`` is a network's name, alias (:data:`NETWORK_ALIASES`) or a history's
    ``variant``, optionally followed by a comma and more words (``"batch norm, FGSM"``);
    case is ignored. Any other name gets ``other``: by default the colour of a student's
    own network, ``"yours"`` (pass e.g. ``"black"`` for labels that may name no network).

    Examples
    --------
    >>> network_colour("no batch norm, PGD-40") == NETWORK_COLOURS["standard"]
    True
    >>> [network_colour(n) for n in ("bn", "Robust", "my net")] == [
    ...     NETWORK_COLOURS[k] for k in ("batch norm", "robust", "yours")
    ... ]
    True
    >>> network_colour("plain ascent", other="black")
    'black'
    """
    key = name.split(",")[0].strip().lower()
    return NETWORK_COLOURS.get(NETWORK_ALIASES.get(key, key), other)


def _network(history: History) -> str:
    """The network a run trained: its variant, or ``"robust"`` for the robust recipe."""
    return "robust" if history.recipe.get("name") == "robust" else history.variant


def _smooth(values: list[float], window: int) -> np.ndarray:
    """Trailing moving average (the first ``window - 1`` points average what exists)."""
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) == 0:
        return values
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumulative[1:] - cumulative[np.arange(1, len(values) + 1) - counts]) / counts


def show_digit(
    ax,
    image: torch.Tensor | np.ndarray,
    title: str | None = None,
    bounds: Bounds = REPORT_BOUNDS,
) -> None:
    """Draw one image given in the model's input space ``bounds`` (black, white).

    ``image``: any shape with 784 values (a 28x28 digit), ``(H, W)`` or ``(1, H, W)``
    in grey, or ``(3, H, W)`` in colour. ``title`` heads the panel; ticks are removed.

    Examples
    --------
    A mid-grey digit (0 in [-1, 1]) is drawn as grey 0.5:

    >>> ax = Figure().subplots()
    >>> show_digit(ax, torch.zeros(1, 28, 28), "blank")
    >>> ax.get_title(), ax.images[0].get_array().shape, float(ax.images[0].get_array()[0, 0])
    ('blank', (28, 28), 0.5)
    """
    image = torch.as_tensor(image).detach().cpu()
    if image.numel() == 28 * 28:
        image = image.reshape(28, 28)
    pixels = to_pixels(image, bounds).clamp(0, 1)
    if pixels.ndim == 3 and pixels.shape[0] == 3:
        ax.imshow(pixels.permute(1, 2, 0).numpy())
    else:
        ax.imshow(pixels.reshape(pixels.shape[-2:]).numpy(), cmap="gray", vmin=0.0, vmax=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def plot_training_curves(history: History, metric: str = "accuracy", window: int = 50) -> Figure:
    """Training (per step, smoothed) and validation curves of one run (Fig 1, 2, 4, 5).

    ``metric``: ``"accuracy"`` or ``"loss"``; ``window``: training steps averaged by the
    smoothed training curve. The training curves have the network's colour
    (``network_colour``); validation is dotted black through dots of that colour.

    Examples
    --------
    >>> from cnnviz.models.checkpoint import pretrained_history
    >>> fig = plot_training_curves(pretrained_history(batchnorm=False), "loss")
    >>> fig.axes[0].get_title().splitlines()[0], fig.axes[0].get_yscale()
    ('Training and validation loss, without batch norm', 'log')
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['training (moving average of 50 steps)', 'validation']
    """
    train_key, val_key, label = METRICS[metric]
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    colour = network_colour(_network(history))
    ax.plot(history.step, getattr(history, train_key), color=colour, alpha=0.2, lw=0.8)
    ax.plot(
        history.step,
        _smooth(getattr(history, train_key), window),
        color=colour,
        label=f"training (moving average of {window} steps)",
    )
    ax.plot(
        history.val_step,
        getattr(history, val_key),
        "o:",
        color="black",
        markerfacecolor=colour,
        ms=4,
        label="validation",
    )
    for end in history.epoch_steps[:-1]:
        ax.axvline(end, color="0.85", lw=0.8, zorder=0)
    if metric == "accuracy":
        ax.set_ylim(max(0.0, min(getattr(history, val_key)) - 2), 100.5)
    else:
        ax.set_yscale("log")
    ax.set_xlabel("training step (grey lines: epochs)")
    ax.set_ylabel(label)
    test = f"; test {history.test_acc:.2f} %" if history.test_acc is not None else ""
    ax.set_title(
        f"Training and validation {metric}, {VARIANT_NAMES[_network(history)]}\n"
        f"({history.recipe['name']} recipe{test})"
    )
    ax.legend(loc="lower right" if metric == "accuracy" else "upper right")
    ax.grid(alpha=0.3)
    return fig


def plot_bn_comparison(histories: list[History], metric: str = "accuracy") -> Figure:
    """Validation curves of several runs on one plot: batch norm versus none (Fig 6, 7).

    ``histories``: runs of different networks, each drawn in its network's colour
    (``network_colour``); ``metric``: ``"accuracy"`` or ``"loss"``.

    Examples
    --------
    >>> from cnnviz.models.checkpoint import pretrained_history
    >>> runs = [pretrained_history(batchnorm=False), pretrained_history(batchnorm=True)]
    >>> fig = plot_bn_comparison(runs)
    >>> [text.get_text().split(",")[0] for text in fig.axes[0].get_legend().get_texts()]
    ['without batch norm', 'with batch norm']
    >>> fig.axes[0].get_title()
    'Validation accuracy with and without batch norm'
    """
    _, val_key, label = METRICS[metric]
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    for history in histories:
        test = f", test {history.test_acc:.2f} %" if history.test_acc is not None else ""
        ax.plot(
            history.val_step,
            getattr(history, val_key),
            "o-",
            ms=3,
            color=network_colour(_network(history)),
            label=f"{VARIANT_NAMES[_network(history)]}{test}",
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
    images: torch.Tensor,
    labels: torch.Tensor,
    probabilities: torch.Tensor,
    title: str = "Test digits: true and predicted labels",
    captions: list[str] | None = None,
) -> Figure:
    """Digits with their true and predicted labels and confidence (Fig 3).

    ``images`` ``(N, 1, 28, 28)`` in [-1, 1], ``labels`` ``(N,)``, ``probabilities``
    ``(N, 10)``. Wrong predictions are titled in red. ``title`` names the figure (say
    where the digits come from); ``captions``, one per digit, head their panels.

    Examples
    --------
    A confident 3 and a confident 5, whose true label is 4:

    >>> probabilities = torch.eye(10)[[3, 5]]
    >>> fig = plot_predictions(torch.zeros(2, 1, 28, 28), torch.tensor([3, 4]), probabilities)
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
        show_digit(ax, image)
        ax.set_title(
            f"{caption}true {int(label)}\npredicted {int(guess)} ({probs[guess]:.1%})",
            fontsize=9,
            color="black" if guess == label else "red",
        )
    fig.suptitle(title)
    return fig


def kernel_mosaic(kernels: np.ndarray) -> np.ndarray:
    """Tile ``(rows, cols, k, k)`` kernels into one ``float32`` image with 1-px NaN gaps.

    The result has shape ``(rows * (k + 1) - 1, cols * (k + 1) - 1)``; kernel
    ``(r, c)`` starts at pixel ``(r * (k + 1), c * (k + 1))``.

    Examples
    --------
    >>> mosaic = kernel_mosaic(np.ones((2, 3, 5, 5)))
    >>> mosaic.shape, int(np.isnan(mosaic).sum()), float(np.nansum(mosaic))
    ((11, 17), 37, 150.0)
    """
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

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.inspect.layers import conv_filters
    >>> fig = plot_filters(conv_filters(cnnviz.pretrained(), "conv1"))
    >>> fig.axes[0].get_title(), fig.axes[1].get_label()  # the grid and its colour bar
    ('Filters of conv1: 32x1 kernels of 3x3', '<colorbar>')
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


def activation_scale(maps: torch.Tensor) -> tuple[str, float, float]:
    """Colour map and limits shared by all ``maps``: ``(cmap, vmin, vmax)``.

    Maps with no negative value (after a ReLU) run from 0 (dark) to their largest
    value; otherwise the scale is symmetric around 0 (blue negative, red positive).
    All-zero maps get the scale ``(0, 1)``.

    Examples
    --------
    >>> activation_scale(torch.tensor([0.0, 2.0]))
    ('viridis', 0.0, 2.0)
    >>> activation_scale(torch.tensor([-3.0, 1.0]))
    ('RdBu_r', -3.0, 3.0)
    """
    high = float(maps.abs().max()) or 1.0
    if float(maps.min()) >= 0:
        return "viridis", 0.0, high
    return DIVERGING, -high, high


def plot_activations(
    maps: torch.Tensor,
    layer: str,
    image: torch.Tensor | None = None,
    bounds: Bounds = REPORT_BOUNDS,
) -> Figure:
    """Feature maps ``(C, H, W)`` of one input as a labelled grid (Fig 10, 11).

    All maps share one colour scale, given by the colour bar (see
    :func:`activation_scale`), so a weak channel looks weak and a silent one (all
    zero after a ReLU) looks dark; each title gives the channel and its maximum. The
    input digit is shown first when given. ``layer`` names the maps in the title.

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.inspect.layers import activations
    >>> digit = -torch.ones(1, 28, 28)  # a blank (black) digit
    >>> maps = activations(cnnviz.pretrained(), digit[None], ("relu1",))["relu1"][0]
    >>> fig = plot_activations(maps, "relu1", digit)
    >>> fig.get_suptitle(), sum(ax.get_title().startswith("ch ") for ax in fig.axes)
    ('Activations of relu1: 32 maps of 28x28', 32)
    """
    channels = len(maps)
    cols = 8
    rows = -(-channels // cols) + (1 if image is not None else 0)
    fig = Figure(figsize=(9.0, rows * 1.25 + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols)
    for ax in axes.flat:
        ax.axis("off")
    offset = 0
    if image is not None:
        show_digit(axes[0, 0], image, "input", bounds)
        axes[0, 0].axis("on")
        offset = cols
    cmap, low, high = activation_scale(maps)
    for channel in range(channels):
        ax = axes.flat[offset + channel]
        values = maps[channel].numpy()
        shown = ax.imshow(values, cmap=cmap, vmin=low, vmax=high)
        ax.set_title(f"ch {channel}: max {values.max():.1f}", fontsize=8)
    fig.colorbar(shown, ax=axes[offset // cols :, -1], label="activation (one scale for all)")
    size = "x".join(map(str, maps.shape[1:]))
    fig.suptitle(f"Activations of {layer}: {channels} maps of {size}")
    return fig


def plot_occlusion(
    image: torch.Tensor, result: OcclusionResult, bounds: Bounds = REPORT_BOUNDS
) -> Figure:
    """The digit, the probability map with a colour bar, and the attribution (Fig 12).

    The map's colours span its own range (dark: the lowest probability), so that small
    drops of a confident class stay visible; the colour bar gives the values.
    ``image`` ``(1, 28, 28)`` in ``bounds``; ``result`` from
    :func:`cnnviz.inspect.occlusion.occlusion` on it.

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.inspect.occlusion import occlusion
    >>> digit = torch.zeros(1, 28, 28)
    >>> fig = plot_occlusion(digit, occlusion(cnnviz.pretrained(), digit, 1, patch=7, stride=7))
    >>> len(fig.axes), fig.axes[1].get_title().splitlines()[0]  # 3 panels, 2 colour bars
    (5, 'p[1] with a 7x7 grey patch')
    """
    fig = Figure(figsize=(9.5, 3.4), layout="constrained")
    digit_ax, map_ax, attr_ax = fig.subplots(1, 3)
    probability = f"input (p[{result.target}] = {result.base_probability:.3f})"
    show_digit(digit_ax, image, probability, bounds)
    (patch_h, patch_w), (step_h, step_w) = result.patch, result.stride
    rows = result.starts[0].cpu().numpy() + (patch_h - 1) / 2  # window centres
    cols = result.starts[1].cpu().numpy() + (patch_w - 1) / 2
    extent = (
        cols[0] - step_w / 2,
        cols[-1] + step_w / 2,
        rows[-1] + step_h / 2,
        rows[0] - step_h / 2,
    )
    height, width = result.attribution.shape
    low, high = float(result.probability.min()), float(result.probability.max())
    if high - low < 1e-4:  # nothing changes: show it on the full scale
        low, high = 0.0, 1.0
    heat = map_ax.imshow(
        result.probability.cpu().numpy(), cmap="magma", vmin=low, vmax=high, extent=extent
    )
    map_ax.set_xlim(-0.5, width - 0.5)
    map_ax.set_ylim(height - 0.5, -0.5)
    map_ax.set_title(
        f"p[{result.target}] with a {patch_h}x{patch_w} grey patch\n"
        f"centred at each pixel (min {result.probability.min():.3f})",
        fontsize=9,
    )
    fig.colorbar(heat, ax=map_ax, label="probability of the class (this map's range)")
    limit = float(result.attribution.abs().max()) or 1.0
    show_digit(attr_ax, image, bounds=bounds)
    overlay = attr_ax.imshow(
        result.attribution.cpu().numpy(), cmap=DIVERGING, vmin=-limit, vmax=limit, alpha=0.75
    )
    attr_ax.set_title(f"occlusion attribution (Captum semantics,\n{result.score} drop)", fontsize=9)
    fig.colorbar(overlay, ax=attr_ax, label=f"{result.score} drop")
    fig.suptitle("Occlusion: where does covering the digit hurt?")
    return fig


def plot_saliency(
    images: torch.Tensor,
    maps: torch.Tensor,
    labels: torch.Tensor,
    title: str = "Gradient saliency: pixels the class score is most sensitive to",
    bounds: Bounds = REPORT_BOUNDS,
) -> Figure:
    """Each digit beside its saliency map and the map laid over the digit.

    ``images`` ``(N, 1, 28, 28)``, ``maps`` ``(N, 28, 28)`` or ``(N, C, 28, 28)``
    (absolute saliency; channels are shown by their maximum), ``labels`` ``(N,)``: the
    class whose logit was differentiated. ``title`` heads the figure (e.g. name the
    method).

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.inspect.saliency import saliency
    >>> images, labels = torch.zeros(2, 1, 28, 28), torch.tensor([1, 7])
    >>> fig = plot_saliency(images, saliency(cnnviz.pretrained(), images, labels), labels)
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['input, class 1', '|d logit / d pixel|', 'overlay']
    >>> len(fig.axes)  # one row of three panels per digit
    6
    """
    n = len(images)
    fig = Figure(figsize=(6.5, 2.2 * n), layout="constrained")
    axes = np.atleast_2d(fig.subplots(n, 3))
    for row, (image, saliency_map, label) in enumerate(zip(images, maps, labels, strict=True)):
        show_digit(axes[row, 0], image, f"input, class {int(label)}", bounds)
        values = saliency_map.reshape(-1, *saliency_map.shape[-2:]).amax(0).cpu().numpy()
        axes[row, 1].imshow(values, cmap="hot", vmin=0.0)
        axes[row, 1].set_title("|d logit / d pixel|", fontsize=9)
        show_digit(axes[row, 2], image, "overlay", bounds)
        axes[row, 2].imshow(values, cmap="hot", alpha=0.6, vmin=0.0)
        for ax in axes[row, 1:]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title)
    return fig


def _digit_mosaic(images: torch.Tensor, rows: int, cols: int) -> np.ndarray:
    """``(rows * cols, 1, 28, 28)`` model-space images as one [0, 1] mosaic, 2-px gaps."""
    pixels = to_pixels(images.detach().reshape(rows, cols, 28, 28), (-1.0, 1.0)).clamp(0, 1).numpy()
    mosaic = np.ones((rows * 30 - 2, cols * 30 - 2), dtype=np.float32)
    for row in range(rows):
        for col in range(cols):
            mosaic[row * 30 : row * 30 + 28, col * 30 : col * 30 + 28] = pixels[row, col]
    return mosaic


def plot_class_visualisations(result: AttackResult) -> Figure:
    """The images grown from noise for each class, with probability and steps (Fig 13).

    ``result`` comes from :func:`cnnviz.visualise.class_images.class_visualisation`; images that did
    not reach the threshold within the step cap are titled in red.

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.visualise.class_images import class_visualisation
    >>> result = class_visualisation(cnnviz.pretrained(), [1, 7], steps=3)
    >>> fig = plot_class_visualisations(result)
    >>> [ax.get_title().split(":")[0] for ax in fig.axes]
    ['class 1', 'class 7']
    """
    n = len(result.targets)
    cols = min(5, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(1.8 * cols, 2.1 * rows + 0.4), layout="constrained")
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


def plot_logit_history(result: AttackResult, classes: tuple[int, ...] = (1, 7)) -> Figure:
    """Target logit (the report's "cost") against iteration for chosen classes (Fig 14, 15).

    ``result`` comes from :func:`cnnviz.visualise.class_images.class_visualisation` and must include
    every class of ``classes``; each gets one panel, its probability on a twin axis.

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.visualise.class_images import class_visualisation
    >>> result = class_visualisation(cnnviz.pretrained(), [1, 7], steps=3)
    >>> fig = plot_logit_history(result, classes=(1, 7))
    >>> [ax.get_ylabel() for ax in fig.axes]  # two panels, then their twin axes
    ['logit of class 1', 'logit of class 7', 'probability', 'probability']
    """
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
        ax.set_title(f"Class {target}", fontsize=10)
        ax.grid(alpha=0.3)
    fig.suptitle("Cost (target logit) during gradient ascent")
    return fig


def plot_targeted_grid(
    result: AttackResult,
    num_classes: int = 10,
    title: str = "Targeted attack: every digit made to read as every class",
) -> Figure:
    """Adversarial image for every (source row, target column) pair, annotated (Fig 16).

    ``result`` comes from :func:`cnnviz.attacks.targeted.targeted_attack` on
    :func:`cnnviz.attacks.targeted.all_pairs` (source-major). Each cell says the probability of
    its target; failures are marked in red. ``title`` heads the figure (e.g. name the
    attack's settings).

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
    fig = Figure(figsize=(9.0, 0.9 * sources + 1.0), layout="constrained")
    ax = fig.subplots()
    ax.imshow(_digit_mosaic(result.images, sources, num_classes), cmap="gray", vmin=0, vmax=1)
    for index, (prob, ok) in enumerate(zip(result.probabilities, result.success, strict=True)):
        row, col = divmod(index, num_classes)
        ax.text(
            col * 30 + 27,
            row * 30 + 27,
            f"{prob:.2f}",
            ha="right",
            va="bottom",
            fontsize=7.5,
            color="yellow" if ok else "red",
        )
    ax.set_xticks(np.arange(num_classes) * 30 + 13.5, [str(t) for t in range(num_classes)])
    ax.set_yticks(np.arange(sources) * 30 + 13.5, [str(s) for s in range(sources)])
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
) -> Figure:
    """The same digits after an attack of each budget: one row per epsilon.

    ``images`` ``(E, N, 1, 28, 28)`` in [-1, 1], the attacked digits for each of the
    ``E`` ``epsilons`` (pixel units); ``labels`` ``(N,)`` true classes;
    ``predictions`` ``(E, N)`` what the model reads. Misread digits are titled in red.
    ``attack`` names the attack in the title.

    Examples
    --------
    >>> images = torch.zeros(2, 3, 1, 28, 28)  # 2 budgets, 3 digits
    >>> predictions = torch.tensor([[1, 2, 3], [1, 0, 0]])
    >>> fig = plot_perturbed_digits([0.0, 0.3], images, torch.tensor([1, 2, 3]), predictions)
    >>> [ax.title.get_color() for ax in fig.axes[3:]], fig.axes[3].get_ylabel()
    (['black', 'red', 'red'], 'eps = 0.30')
    """
    rows, cols = predictions.shape
    fig = Figure(figsize=(1.5 * cols + 0.6, 1.55 * rows + 0.5), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, cols))
    for row, eps in enumerate(epsilons):
        for col in range(cols):
            guess, label = int(predictions[row, col]), int(labels[col])
            show_digit(axes[row, col], images[row, col])
            axes[row, col].set_title(
                f"read as {guess}", fontsize=9, color="black" if guess == label else "red"
            )
        axes[row, 0].set_ylabel(f"eps = {eps:.2f}", fontsize=9)
    fig.suptitle(f"{attack}: the same digits at each budget (red: misread)")
    return fig


def plot_noise_attack(transfer: NoiseTransfer, columns: int = 5) -> Figure:
    """Each adversarial image above its learned noise, ``columns`` targets a row (Fig 17).

    The noises share one colour scale in pixel units of [0, 1] images (red adds ink,
    blue removes it); images are shown clipped to the pixel range. ``transfer`` comes
    from :func:`cnnviz.attacks.transfer.noise_attack`.

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
    noises = transfer.noises[:, 0].numpy() / 2  # pixel units
    limit = float(np.abs(noises).max()) or 1.0
    for index in range(rows * cols):
        row, col = divmod(index, cols)
        top, bottom = axes[2 * row, col], axes[2 * row + 1, col]
        if index >= n:
            top.axis("off")
            bottom.axis("off")
            continue
        show_digit(
            top,
            attack.images[index].clamp(-1, 1),
            f"-> {int(attack.targets[index])}: p = {attack.probabilities[index]:.2f}",
        )
        shown = bottom.imshow(noises[index], cmap=DIVERGING, vmin=-limit, vmax=limit)
        bottom.set_xticks([])
        bottom.set_yticks([])
    for row in range(rows):
        axes[2 * row, 0].set_ylabel("image + noise", fontsize=9)
        axes[2 * row + 1, 0].set_ylabel("noise", fontsize=9)
    fig.colorbar(shown, ax=axes, shrink=0.6, label="noise (pixels of [0, 1])")
    fig.suptitle("Noise attack: additive noise learned for each target class")
    return fig


def plot_transfer_table(transfer: NoiseTransfer, image_labels: torch.Tensor) -> Figure:
    """The report's table as an annotated heatmap: rows = noise targets, columns = images.

    Each cell is coloured by its outcome (:data:`TRANSFER_OUTCOMES`): blue, the
    prediction became the noise's target (fooled); grey, still the true label; orange,
    something else; white, the image already is of the target class (not counted in the
    fooling rate). The legend under the table says which colours no cell has.
    ``transfer`` comes from :func:`cnnviz.attacks.transfer.noise_attack`; ``image_labels``
    ``(M,)`` are the true labels of the images its noises were added to.

    Examples
    --------
    >>> import cnnviz
    >>> from cnnviz.attacks.transfer import noise_attack
    >>> digit, others = torch.zeros(1, 1, 28, 28), torch.zeros(3, 1, 28, 28)
    >>> labels = torch.tensor([1, 5, 7])
    >>> transfer = noise_attack(
    ...     cnnviz.pretrained(), digit, [1, 2], others=others, other_labels=labels, steps=3
    ... )
    >>> fig = plot_transfer_table(transfer, labels)
    >>> [label.get_text() for label in fig.axes[0].get_yticklabels()]
    ['noise -> 1 (0%)', 'noise -> 2 (0%)']
    >>> int(fig.axes[0].images[0].get_array()[0, 0])  # image 0 already is a 1: not counted
    3
    """
    fig = Figure(
        figsize=(0.6 * transfer.predictions.shape[1] + 2.8, 0.5 * len(transfer.predictions) + 1.8),
        layout="constrained",
    )
    ax = fig.subplots()
    _draw_transfer_table(
        ax, transfer.predictions, transfer.attack.targets, image_labels, transfer.fooling_rate
    )
    ax.set_title("Predictions after adding each learned noise")
    outcomes = _transfer_outcomes(transfer.predictions, transfer.attack.targets, image_labels)
    _add_outcome_legend(fig, [outcomes])
    return fig


def plot_robustness(epsilons: list[float], curves: dict[str, torch.Tensor]) -> Figure:
    """Accuracy against the L-infinity budget, one line per (model, attack).

    ``epsilons``: ``E`` budgets in pixel units of [0, 1] images; ``curves``: line label
    -> ``(E,)`` accuracies in percent, labelled ``"network, attack"``: each network has
    its colour (``network_colour``); labels containing ``"FGSM"`` are dashed.

    Examples
    --------
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


#: Outcome code -> (legend text, cell colour) of a transfer table cell. Okabe-Ito orange
#: and sky blue: told apart with protanopia and deuteranopia too (tested).
TRANSFER_OUTCOMES: dict[int, tuple[str, str]] = {
    0: ("still the true label", "#bdbdbd"),
    1: ("another wrong label", "#e69f00"),
    2: ("fooled: read as the noise's target", "#56b4e9"),
    3: ("already the target (not counted)", "#ffffff"),
}


def _transfer_outcomes(
    predictions: torch.Tensor, targets: torch.Tensor, image_labels: torch.Tensor
) -> np.ndarray:
    """``(K, M)`` outcome codes (keys of :data:`TRANSFER_OUTCOMES`) of a transfer table.

    ``predictions`` ``(K, M)``: class of image ``m`` plus noise ``k``; ``targets``
    ``(K,)``: each noise's target; ``image_labels`` ``(M,)``: the images' true labels.
    """
    predictions, targets, labels = (
        np.asarray(predictions),
        np.asarray(targets)[:, None],
        np.asarray(image_labels)[None, :],
    )
    outcome = np.where(predictions == targets, 2, np.where(predictions == labels, 0, 1))
    return np.where(labels == targets, 3, outcome)


def _draw_transfer_table(
    ax,
    predictions: torch.Tensor,
    targets: torch.Tensor,
    image_labels: torch.Tensor,
    rates: torch.Tensor,
) -> None:
    """One transfer table on ``ax``: coloured outcome cells annotated with predictions.

    Shapes as :func:`_transfer_outcomes`; ``rates`` ``(K,)`` fooling rate of each row,
    shown beside its target.
    """
    colours = matplotlib.colors.ListedColormap([c for _, c in TRANSFER_OUTCOMES.values()])
    outcome = _transfer_outcomes(predictions, targets, image_labels)
    ax.imshow(outcome, cmap=colours, vmin=-0.5, vmax=len(TRANSFER_OUTCOMES) - 0.5)
    for (row, col), value in np.ndenumerate(np.asarray(predictions)):
        ax.text(col, row, str(value), ha="center", va="center", fontsize=9)
    ax.set_xticks(range(outcome.shape[1]), [str(int(y)) for y in image_labels])
    ax.set_yticks(
        range(len(targets)),
        [f"noise -> {int(t)} ({float(r):.0%})" for t, r in zip(targets, rates, strict=True)],
    )
    ax.set_xticks(np.arange(outcome.shape[1] + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(outcome.shape[0] + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.6", lw=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("true label of the image the noise is added to")


def _add_outcome_legend(fig: Figure, outcomes: list[np.ndarray]) -> None:
    """A legend under ``fig``: each outcome colour, marked "(none)" if no cell has it."""
    seen = set(np.concatenate([o.ravel() for o in outcomes]).tolist())
    handles = [
        Patch(facecolor=colour, edgecolor="0.4", label=text if code in seen else f"{text} (none)")
        for code, (text, colour) in TRANSFER_OUTCOMES.items()
    ]
    columns = 2 if fig.get_figwidth() >= 5.5 else 1  # two columns need 5.5 inches
    fig.legend(handles=handles, loc="outside lower center", ncol=columns, fontsize=9, frameon=False)


def plot_transfer_comparison(
    tables: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]],
) -> Figure:
    """Transfer tables one above the other (e.g. the report's, then ours), one legend.

    ``tables``: title -> ``(predictions (K, M), targets (K,), image_labels (M,),
    rates (K,))``: the class read in image ``m`` plus noise ``k``, each noise's target,
    the images' true labels and each noise's fooling rate in [0, 1] (as in
    :class:`cnnviz.attacks.transfer.NoiseTransfer`). Cells are coloured as in
    :func:`plot_transfer_table`. Stacked, so the figure stays narrow enough to show at
    full size on a page.

    Examples
    --------
    >>> predictions, targets = torch.tensor([[1, 1], [2, 3]]), torch.tensor([1, 2])
    >>> table = (predictions, targets, torch.tensor([1, 3]), torch.tensor([1.0, 0.5]))
    >>> fig = plot_transfer_comparison({"report": table, "ours": table})
    >>> [ax.get_title() for ax in fig.axes], fig.axes[1].get_yticklabels()[1].get_text()
    (['report', 'ours'], 'noise -> 2 (50%)')
    """
    columns = max(table[0].shape[1] for table in tables.values())
    rows = max(len(table[1]) for table in tables.values())
    fig = Figure(
        figsize=(0.5 * columns + 2.6, len(tables) * (0.42 * rows + 1.0) + 0.8),
        layout="constrained",
    )
    axes = np.atleast_1d(fig.subplots(len(tables), 1))
    for ax, (title, table) in zip(axes, tables.items(), strict=True):
        _draw_transfer_table(ax, *table)
        ax.set_title(title, fontsize=10)
    _add_outcome_legend(fig, [_transfer_outcomes(*table[:3]) for table in tables.values()])
    return fig


def plot_universal_perturbation(
    perturbation: torch.Tensor,
    images: torch.Tensor,
    before: torch.Tensor,
    after: torch.Tensor,
    title: str,
) -> Figure:
    """A universal perturbation (left) and unseen digits with it added (right).

    Parameters
    ----------
    perturbation
        ``(1, 1, 28, 28)`` model units.
    images
        ``(N, 1, 28, 28)`` unseen digits in [-1, 1] (``N`` up to 10 is readable).
    before, after
        ``(N,)`` predicted classes without and with the perturbation.
    title
        Figure title (say what it fools and how often).

    Returns
    -------
    Figure
        Digits whose prediction changed are titled in sky blue (``before -> after``).

    Examples
    --------
    >>> perturbation = torch.full((1, 1, 28, 28), 0.1)
    >>> before, after = torch.tensor([1, 1, 1]), torch.tensor([1, 8, 8])
    >>> fig = plot_universal_perturbation(
    ...     perturbation, -torch.ones(3, 1, 28, 28), before, after, "fools 2 of 3"
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
    limit = float(perturbation.abs().max()) / 2 or 1.0  # pixel units
    shown = ax.imshow(
        perturbation.reshape(28, 28).numpy() / 2, cmap=DIVERGING, vmin=-limit, vmax=limit
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("the perturbation", fontsize=9)
    left.colorbar(shown, ax=ax, orientation="horizontal", label="pixels of [0, 1]")
    axes = np.atleast_1d(right.subplots(rows, cols)).reshape(-1)
    for axis in axes[n:]:
        axis.axis("off")
    adversarial = (images + perturbation).clamp(-1, 1)
    for axis, image, was, now in zip(axes, adversarial, before, after, strict=False):
        show_digit(axis, image, f"{int(was)} -> {int(now)}")
        if int(was) != int(now):
            axis.title.set_color(TRANSFER_OUTCOMES[2][1])
    fig.suptitle(title)
    return fig
