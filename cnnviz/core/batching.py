"""Batches of indices over in-memory tensors, in order or seeded-shuffled."""

from __future__ import annotations

from collections.abc import Iterator

import torch


def batch_indices(
    n: int, batch_size: int, *, generator: torch.Generator | None = None
) -> Iterator[torch.Tensor]:
    """Index batches over ``range(n)``; shuffled when a ``generator`` is given.

    The last batch may be smaller. Use as ``x[idx], y[idx]``. Indices are on the CPU
    (the generator's device), so a seed gives the same batches on every device.

    Examples
    --------
    >>> [batch.tolist() for batch in batch_indices(5, 2)]
    [[0, 1], [2, 3], [4]]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    yield from order.split(batch_size)
