"""The attacks by name, for the command line, the app and :func:`accuracy_under_attack`."""

from __future__ import annotations

from collections.abc import Callable

from cnnviz.attacks.fgsm import fgsm
from cnnviz.attacks.pgd import pgd
from cnnviz.attacks.result import AttackResult
from cnnviz.attacks.targeted import targeted_attack

#: The attacks on given images, by name. Each is called as
#: ``ATTACKS[name](model, images, labels_or_targets, **options)`` and returns an
#: :class:`AttackResult`. ``"fgsm"`` and ``"pgd"`` take a budget ``eps`` (pixel units).
ATTACKS: dict[str, Callable[..., AttackResult]] = {
    "fgsm": fgsm,
    "pgd": pgd,
    "targeted": targeted_attack,
}


def get_attack(name: str) -> Callable[..., AttackResult]:
    """The attack called ``name`` (``"fgsm"``, ``"pgd"``, ``"targeted"``) in ``ATTACKS``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> get_attack("pgd")(net, torch.rand(2, 1, 2, 2), [0, 1], eps=0.1, steps=3).steps.tolist()
    [3, 3]
    """
    if name not in ATTACKS:
        raise ValueError(f"attack must be one of {sorted(ATTACKS)}, not {name!r}")
    return ATTACKS[name]
