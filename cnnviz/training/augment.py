"""Making a training batch: random shifts, Gaussian noise and salt, each seeded.

:func:`make_batch` is the step of :func:`cnnviz.training.loop.train` that turns the images
of one batch into what the model trains on (and, for mixed adversarial training, the clean
copy); :func:`random_shift`, :func:`add_noise` and :func:`add_salt` are its three
augmentations, in the order they draw from the generator.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from cnnviz.core.classifier import Bounds, pixel_scale
from cnnviz.training.recipe import Recipe


def random_shift(
    x: torch.Tensor, max_shift: int, generator: torch.Generator, background: float = -1.0
) -> torch.Tensor:
    """Translate each image of ``(N, C, H, W)`` by its own random offset in [-s, s] px.

    Uncovered pixels become ``background`` (the model's black: the low bound of its
    input range, -1 for the report's CNN). One gather for the whole batch; the offsets
    are drawn on the CPU from ``generator``, so a seed shifts alike on every device.

    Examples
    --------
    >>> image = torch.zeros(1, 3, 4, 4)
    >>> shifted = random_shift(image, 1, torch.Generator().manual_seed(0), background=-1.0)
    >>> tuple(shifted.shape), bool((shifted == -1.0).any())
    ((1, 3, 4, 4), True)
    """
    if max_shift == 0:
        return x
    n, channels, height, width = x.shape
    padded = F.pad(x, [max_shift] * 4, value=background).flatten(0, 1)  # one image per channel
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1), generator=generator).to(x.device)
    if channels > 1:  # every channel of an image moves alike
        dy, dx = dy.repeat_interleave(channels, 0), dx.repeat_interleave(channels, 0)
    rows = (dy + torch.arange(height, device=x.device)).unsqueeze(2)
    cols = (dx + torch.arange(width, device=x.device)).unsqueeze(1)
    planes = torch.arange(n * channels, device=x.device).view(-1, 1, 1)
    return padded[planes, rows, cols].view(n, channels, height, width)


def add_noise(
    x: torch.Tensor, *, mean: float, std: float, generator: torch.Generator, bounds: Bounds
) -> torch.Tensor:
    """``x`` plus seeded N(``mean``, ``std``) noise in pixel units, clipped to ``bounds``.

    Pixel units: a pixel's range ``bounds`` counts as [0, 1], so ``std=0.1`` is a tenth of
    the way from black to white whatever the model's input range.

    Examples
    --------
    >>> x = torch.full((2, 1, 3, 3), 0.5)
    >>> noisy = add_noise(x, mean=0.0, std=0.1, generator=torch.Generator().manual_seed(0),
    ...                   bounds=(0.0, 1.0))
    >>> noisy.shape == x.shape, bool((noisy != x).all()), bool(noisy.max() <= 1.0)
    (True, True, True)
    """
    low, high = bounds
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return (x + pixel_scale(bounds) * (mean + std * noise)).clamp(low, high)


def add_salt(
    x: torch.Tensor, *, share: float, generator: torch.Generator, bounds: Bounds
) -> torch.Tensor:
    """``x`` with a seeded random ``share`` of its pixels set to the top of ``bounds``.

    Examples
    --------
    >>> x = torch.zeros(4, 1, 10, 10)
    >>> salted = add_salt(x, share=0.2, generator=torch.Generator().manual_seed(0),
    ...                   bounds=(0.0, 1.0))
    >>> set(salted.unique().tolist()), 0.1 < salted.mean().item() < 0.3
    ({0.0, 1.0}, True)
    >>> add_salt(x, share=0.0, generator=torch.Generator(), bounds=(0.0, 1.0)) is x
    True
    """
    if share <= 0:
        return x
    salted = torch.rand(x.shape, generator=generator, dtype=x.dtype) < share
    return x.masked_fill(salted, bounds[1])


def make_batch(
    x: torch.Tensor,
    *,
    recipe: Recipe,
    generator: torch.Generator,
    bounds: Bounds,
    clean_copy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch to train on, made from the images ``x``, and its clean copy.

    Each image is shifted by up to ``recipe.max_shift`` pixels (the uncovered pixels get
    the low end of ``bounds``); with ``clean_copy`` the shifted batch, salted with
    ``recipe.clean_salt``, is kept as the clean copy of mixed adversarial training; then
    ``recipe.noise_std`` adds noise to the batch (not to the copy). Every draw comes from
    ``generator`` in that order, so a seed makes the same batches.

    Parameters
    ----------
    x
        ``(N, C, H, W)`` images in the range ``bounds``, on the CPU.
    recipe
        Its augmentation fields (``max_shift``, ``noise_std``, ``noise_mean``,
        ``clean_salt``) are used.
    generator
        The run's seeded augmentation generator.
    bounds
        The model's input range (:func:`cnnviz.core.classifier.input_bounds`).
    clean_copy
        Whether to make the clean copy; without it the second tensor is the shifted
        batch itself.

    Returns
    -------
    batch, clean
        Both ``(N, C, H, W)``, in ``bounds``.

    Examples
    --------
    >>> recipe = Recipe("t", epochs=1, batch_size=4, lr=0.1, momentum=0.0, noise_std=0.1)
    >>> x = torch.full((4, 1, 6, 6), 0.5)
    >>> batch, clean = make_batch(x, recipe=recipe, generator=torch.Generator().manual_seed(0),
    ...                           bounds=(0.0, 1.0))
    >>> bool((batch != x).any()), clean is x
    (True, True)
    """
    x = random_shift(x, recipe.max_shift, generator, bounds[0])
    clean = (
        add_salt(x, share=recipe.clean_salt, generator=generator, bounds=bounds)
        if clean_copy
        else x
    )
    if recipe.noise_std > 0:
        x = add_noise(
            x, mean=recipe.noise_mean, std=recipe.noise_std, generator=generator, bounds=bounds
        )
    return x, clean
