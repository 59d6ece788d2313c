"""Every attack by name, with its declared capabilities: one table, and :func:`get_attack`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from cnnviz.attacks.base import AttackSpec
from cnnviz.attacks.fgsm import fgsm
from cnnviz.attacks.pgd import pgd
from cnnviz.attacks.targeted import targeted_attack
from cnnviz.attacks.transfer import NoiseTransfer, noise_attack
from cnnviz.attacks.universal import UniversalPerturbation, universal_perturbation

_SPECS = (
    AttackSpec("fgsm", fgsm, budget=0.3, norms=("linf",)),
    AttackSpec("pgd", pgd, start_noise=True, steps=40, budget=0.3, norms=("linf",), callback=True),
    AttackSpec(
        "targeted", targeted_attack, untargeted=False, takes_labels=False, steps=500, callback=True
    ),
    AttackSpec(
        "noise",
        noise_attack,
        result=NoiseTransfer,
        untargeted=False,
        takes_labels=False,
        steps=500,
        callback=True,
    ),
    AttackSpec(
        "universal",
        universal_perturbation,
        result=UniversalPerturbation,
        steps=100,
        budget=0.3,
        norms=("linf", "l2"),
    ),
)

#: Every attack by name, as an :class:`~cnnviz.attacks.base.AttackSpec` (its capabilities;
#: calling it runs the attack, ``ATTACKS[name](model, images, labels_or_targets,
#: **options)``). ``"fgsm"``, ``"pgd"`` and ``"targeted"`` attack the given images and
#: return an :class:`~cnnviz.attacks.result.AttackResult`; ``"noise"`` and ``"universal"``
#: are the transfer analyses built on attacks (their
#: :attr:`~cnnviz.attacks.base.AttackSpec.on_images` is ``False``).
ATTACKS: Final[Mapping[str, AttackSpec]] = MappingProxyType({spec.name: spec for spec in _SPECS})


def get_attack(name: str) -> AttackSpec:
    """The attack called ``name`` in :data:`ATTACKS`: call it to run it, read it to know it.

    Parameters
    ----------
    name
        One of ``"fgsm"``, ``"pgd"``, ``"targeted"``, ``"noise"``, ``"universal"``.

    Returns
    -------
    AttackSpec
        Its declared capabilities; calling it calls the attack.

    Raises
    ------
    ValueError
        If no attack has that name.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> get_attack("pgd")(net, torch.rand(2, 1, 2, 2), [0, 1], eps=0.1, steps=3).steps.tolist()
    [3, 3]
    >>> get_attack("targeted").takes_labels, get_attack("targeted").budget
    (False, None)
    """
    if name not in ATTACKS:
        raise ValueError(f"attack must be one of {sorted(ATTACKS)}, not {name!r}")
    return ATTACKS[name]
