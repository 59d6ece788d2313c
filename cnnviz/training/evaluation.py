"""Evaluation (R4): test loss and accuracy of any classifier over in-memory tensors."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.core.batching import batch_indices
from cnnviz.core.classifier import class_scores, model_placement
from cnnviz.core.hooks import eval_mode


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000
) -> tuple[float, float]:
    """Mean cross-entropy (negative log-likelihood) and accuracy (%) of ``model`` on ``(x, y)``.

    Runs in eval mode (batch norm uses its running statistics); the model's mode is
    restored afterwards. Batches are moved to the model's device; ``x`` and ``y`` may
    stay on the CPU.

    Parameters
    ----------
    model
        Any classifier (see :mod:`cnnviz.core.classifier`).
    x
        ``(N, C, H, W)`` inputs in the model's input range.
    y
        ``(N,)`` integer labels.
    batch_size
        Images per forward pass.

    Returns
    -------
    loss, accuracy
        Floats; accuracy in percent (0-100).

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    >>> _ = nn.init.zeros_(net[1].bias)
    >>> loss, accuracy = evaluate(net, torch.zeros(3, 1, 2, 2), torch.tensor([0, 1, 1]))
    >>> round(loss, 4), round(accuracy, 2)  # equal scores: chance; ties go to class 0
    (0.6931, 33.33)
    """
    if len(x) == 0:
        raise ValueError("cannot evaluate on an empty set")
    device, _ = model_placement(model)
    loss_sum, correct = 0.0, 0
    with eval_mode(model):
        for idx in batch_indices(len(x), batch_size):
            images, labels = x[idx].to(device), y[idx].to(device)
            scores = class_scores(model, images).float()
            loss_sum += F.cross_entropy(scores, labels, reduction="sum").item()
            correct += (scores.argmax(1) == labels).sum().item()
    return loss_sum / len(x), 100.0 * correct / len(x)
