"""One target's score per row of class scores: its logit, probability or log-probability.

Every method that climbs, attacks, occludes or records a class's score picks it from the
``(N, K)`` class scores the same way, with :func:`target_scores`.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

#: The kinds of score that ``target_scores`` can pick.
SCORES = ("logit", "probability", "log_probability")


def target_scores(
    logits: torch.Tensor, targets: int | torch.Tensor, *, kind: str = "logit"
) -> torch.Tensor:
    """The score of each row's target class in ``(N, K)`` class scores.

    Parameters
    ----------
    logits
        ``(N, K)`` class scores (logits) of ``N`` images.
    targets
        One class for every row, or ``(N,)`` int64 classes, one per row.
    kind
        ``"logit"`` (the raw score), ``"probability"`` (its softmax, in [0, 1]) or
        ``"log_probability"`` (its log-softmax, at most 0).

    Returns
    -------
    torch.Tensor
        ``(N,)`` the picked scores, differentiable with respect to ``logits``.

    Examples
    --------
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> target_scores(logits, torch.tensor([0, 0])).tolist()
    [2.0, 0.0]
    >>> [round(p, 3) for p in target_scores(logits, 1, kind="probability").tolist()]
    [0.119, 0.881]
    """
    if kind == "logit":
        scores = logits
    elif kind == "probability":
        scores = F.softmax(logits, dim=1)
    elif kind == "log_probability":
        scores = F.log_softmax(logits, dim=1)
    else:
        raise ValueError(f"kind must be one of {SCORES}, not {kind!r}")
    if isinstance(targets, int):
        return scores[:, targets]
    return scores.gather(1, targets[:, None])[:, 0]
