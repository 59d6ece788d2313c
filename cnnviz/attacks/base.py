"""What every attack shares: the calling contract, and :class:`AttackSpec`, its capabilities.

Every attack has the same shape, as torchattacks' and Foolbox's do::

    result = attack(model, images, labels, *, eps=..., steps=..., step_size=...,
                    targets=None, bounds=None, seed=0, callback=None, ...)

* ``model`` is any classifier (:mod:`cnnviz.core.classifier`): ``(N, C, H, W)`` images to
  ``(N, K)`` scores. It runs in eval mode (its mode is restored afterwards); its
  weights are never changed and no parameter gradient is accumulated.
* ``images`` are in the model's input range ``bounds`` (default: the model's own,
  ``(-1, 1)`` for the report's CNN, else ``(0, 1)``), and every adversarial image is
  clipped to it (only :data:`~cnnviz.report.presets.REPORT_NOISE_ATTACK`, which
  re-creates the report's unclipped noise, is not).
* ``labels`` are the true classes; ``targets`` (where an attack takes them) the classes
  to reach. Target-only attacks (:func:`~cnnviz.attacks.targeted.targeted_attack`,
  :func:`~cnnviz.attacks.transfer.noise_attack`) take ``targets`` in that place.
* Budgets and steps are in **pixel units** of ``[0, 1]`` images, whatever the bounds:
  ``eps=0.3`` is the usual MNIST budget, ``8 / 255`` the usual CIFAR one. A plain
  gradient step ``step_size * gradient`` is taken with respect to pixel intensities,
  and closeness terms weigh mean squared changes in pixel units.
* An attack on given images returns an :class:`~cnnviz.attacks.result.AttackResult`.
  The two transfer analyses built on attacks return their own type:
  :func:`~cnnviz.attacks.transfer.noise_attack` a
  :class:`~cnnviz.attacks.transfer.NoiseTransfer` that holds the attack's
  :class:`~cnnviz.attacks.result.AttackResult`, and
  :func:`~cnnviz.attacks.universal.universal_perturbation` a
  :class:`~cnnviz.attacks.universal.UniversalPerturbation` (one perturbation for many
  images, not one per image). The long attacks take a ``callback(step, images,
  probabilities)`` that can show progress and stop them.
* Random starts come from a seeded CPU generator moved to the images' device, so results
  are the same on every device.

What each attack can do is declared as data, an :class:`AttackSpec`, and
:data:`~cnnviz.attacks.registry.ATTACKS` lists them all; code that drives attacks
(:func:`~cnnviz.attacks.evaluation.accuracy_under_attack`) reads the declaration instead of
the function's signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from cnnviz.attacks.result import AttackResult

Norm = Literal["linf", "l2"]


@dataclass(frozen=True)
class AttackSpec:
    """One attack's declared capabilities, and the attack itself (calling it calls it).

    The defaults describe a one-step attack on the given images, untargeted or targeted,
    taking the true labels, with no random start, no budget and no callback. ``result`` is
    the type it returns: :class:`~cnnviz.attacks.result.AttackResult` for an attack on the
    given images, else the transfer analysis's own type.

    Attributes
    ----------
    name
        The registry's name (``"pgd"``).
    function
        The attack: ``function(model, images, labels_or_targets, **options)``.
    untargeted, targeted
        Whether it can push away from the true labels, and towards target classes.
    takes_labels
        Whether its third argument is the true labels (``False``: the targets).
    start_noise
        Whether it starts from a random point it takes as ``noise`` (drawn from ``seed``
        when not given), so restarts differ.
    steps
        Its default number of steps (1: a one-step attack).
    budget
        Its default budget ``eps`` in pixel units, or ``None`` when it has none (it
        stops at a probability threshold and keeps close by a penalty instead).
    norms
        The norms its budget can be measured in, the default first (empty without one).
    callback
        Whether it takes a ``callback(step, images, probabilities)``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from cnnviz.attacks.registry import ATTACKS
    >>> spec = ATTACKS["pgd"]
    >>> spec.budget, spec.norms, spec.steps, spec.start_noise, spec.on_images
    (0.3, ('linf',), 40, True, True)
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> spec(net, torch.rand(2, 1, 2, 2), [0, 1], eps=0.1, steps=3).steps.tolist()
    [3, 3]
    """

    name: str
    function: Callable[..., object]
    result: type = AttackResult
    untargeted: bool = True
    targeted: bool = True
    takes_labels: bool = True
    start_noise: bool = False
    steps: int = 1
    budget: float | None = None
    norms: tuple[Norm, ...] = ()
    callback: bool = False

    @property
    def on_images(self) -> bool:
        """Whether it attacks the given images one by one (returns an ``AttackResult``)."""
        return self.result is AttackResult

    def __call__(self, *args: Any, **options: Any) -> Any:
        """Run the attack: ``self.function(*args, **options)``."""
        return self.function(*args, **options)
