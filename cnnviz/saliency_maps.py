"""Gradient saliency: which pixels would change the class score most if nudged."""

from __future__ import annotations

import torch

from cnnviz.model import CNN, eval_mode


def as_targets(target: int | torch.Tensor, n: int) -> torch.Tensor:
    """A class index per sample: ``(n,)`` int64 from an int or a tensor of length ``n``."""
    targets = torch.as_tensor(target, dtype=torch.int64).reshape(-1)
    if targets.numel() == 1:
        targets = targets.expand(n)
    if targets.shape != (n,):
        raise ValueError(f"need one target or {n} targets, got {targets.numel()}")
    return targets


def input_gradient(model: CNN, x: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor:
    """``d logit[target] / d x`` for a batch, in eval mode, leaving parameter grads alone.

    Parameters
    ----------
    x
        ``(N, 1, 28, 28)`` inputs in [-1, 1].
    target
        One class for all, or ``(N,)`` classes.

    Returns
    -------
    torch.Tensor
        ``(N, 1, 28, 28)`` signed gradient (the samples do not interact: batch norm runs
        on running statistics).
    """
    targets = as_targets(target, len(x))
    x = x.detach().clone().requires_grad_(True)
    with eval_mode(model), torch.enable_grad():
        score = model.logits(x).gather(1, targets[:, None]).sum()
        (gradient,) = torch.autograd.grad(score, x)
    return gradient


def saliency(
    model: CNN,
    x: torch.Tensor,
    target: int | torch.Tensor,
    *,
    absolute: bool = True,
    smooth_samples: int = 0,
    noise: float = 0.15,
    seed: int = 0,
) -> torch.Tensor:
    """Saliency maps (Simonyan et al. 2014), optionally SmoothGrad (Smilkov et al. 2017).

    Parameters
    ----------
    model
        The CNN.
    x
        ``(N, 1, 28, 28)`` inputs in [-1, 1].
    target
        Class whose logit is differentiated: one for all or ``(N,)``.
    absolute
        Return ``|gradient|`` (the classic saliency map) instead of the signed gradient.
    smooth_samples
        If positive, average the gradient (or its absolute value) over this many
        noisy copies of each input (SmoothGrad), in one batch per sample set.
    noise
        Standard deviation of SmoothGrad's Gaussian noise, in model units (the input
        range [-1, 1] spans 2).
    seed
        Seeds SmoothGrad's noise.

    Returns
    -------
    torch.Tensor
        ``(N, 28, 28)`` map; signed, or >= 0 when ``absolute``.
    """
    if smooth_samples < 0:
        raise ValueError(f"smooth_samples must be >= 0, not {smooth_samples}")
    targets = as_targets(target, len(x))
    if smooth_samples == 0:
        gradient = input_gradient(model, x, targets)
        return (gradient.abs() if absolute else gradient)[:, 0]
    generator = torch.Generator().manual_seed(seed)
    n = len(x)
    noisy = x.repeat(smooth_samples, 1, 1, 1)
    noisy = noisy + noise * torch.randn(noisy.shape, generator=generator)
    gradient = input_gradient(model, noisy, targets.repeat(smooth_samples))
    gradient = gradient.abs() if absolute else gradient
    return gradient.reshape(smooth_samples, n, 28, 28).mean(0)
