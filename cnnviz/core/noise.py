"""Seeded noise, drawn on the CPU so a seed gives the same numbers on every device."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def seeded_noise(
    shape: Sequence[int], *, seed: int, like: torch.Tensor, kind: str = "uniform"
) -> torch.Tensor:
    """Seeded noise of ``shape`` drawn on the CPU, then moved to ``like``'s device and dtype.

    Parameters
    ----------
    shape
        Shape of the noise.
    seed
        Seed of a fresh CPU generator: the same seed gives the same numbers on every device.
    like
        A tensor whose device and dtype the noise takes.
    kind
        ``"uniform"`` in ``[-1, 1]``, or ``"normal"``: N(0, 1).

    Examples
    --------
    >>> noise = seeded_noise((2, 3), seed=0, like=torch.zeros(1, dtype=torch.float64))
    >>> noise.dtype, bool(noise.abs().max() <= 1)
    (torch.float64, True)
    >>> torch.equal(noise, seeded_noise((2, 3), seed=0, like=noise))
    True
    """
    if kind not in ("uniform", "normal"):
        raise ValueError(f"kind must be 'uniform' or 'normal', not {kind!r}")
    generator = torch.Generator().manual_seed(seed)
    if kind == "uniform":
        noise = torch.rand(tuple(shape), generator=generator) * 2 - 1
    else:
        noise = torch.randn(tuple(shape), generator=generator)
    return noise.to(like.device, like.dtype)
