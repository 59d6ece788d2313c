"""The report's settings and published numbers, typed once, for ``cnnviz report`` and the docs.

Published numbers are read-only tables (``Final`` mappings and tuples); the report's
procedures are frozen dataclasses that are also mappings of keyword arguments, so
``noise_attack(model, ..., **REPORT_NOISE_ATTACK)`` runs the report's procedure and
``REPORT_NOISE_ATTACK.step_size`` reads one setting.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType
from typing import Final, Literal, TypedDict


class _Keywords(Mapping[str, object]):
    """A frozen dataclass read as the keyword arguments it holds (its fields not ``None``)."""

    def _names(self) -> list[str]:
        return [field.name for field in fields(self) if getattr(self, field.name) is not None]

    def __getitem__(self, name: str) -> object:
        if name not in self._names():
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


@dataclass(frozen=True)
class ClassVisualisationPreset(_Keywords):
    """Keyword arguments of :func:`~cnnviz.visualise.class_images.class_visualisation`.

    Attributes
    ----------
    objective, normalise, step_size
        As the function's (``step_size`` in pixel units).
    steps, steps_past_threshold
        As the function's; ``None`` leaves them out (the function's default, or the
        caller's own ``steps=...``).

    Examples
    --------
    >>> preset = ClassVisualisationPreset(objective="logit", normalise=False, step_size=0.1)
    >>> dict(preset), preset.step_size
    ({'objective': 'logit', 'normalise': False, 'step_size': 0.1}, 0.1)
    """

    objective: str
    normalise: bool
    step_size: float
    steps: int | None = None
    steps_past_threshold: int | None = None


@dataclass(frozen=True)
class NoiseAttackPreset(_Keywords):
    """A way to run :func:`~cnnviz.attacks.transfer.noise_attack`: its step size (pixel
    units), whether ``x + n`` is clipped, and the steps taken past the threshold, named as
    the function's keyword arguments.

    Examples
    --------
    >>> dict(NoiseAttackPreset(step_size=0.1, clip=True, steps_past_threshold=0))
    {'step_size': 0.1, 'clip': True, 'steps_past_threshold': 0}
    """

    step_size: float
    clip: bool
    steps_past_threshold: int


@dataclass(frozen=True)
class UniversalPreset(_Keywords):
    """How a universal perturbation is learned: the target, the budget ``eps`` (pixel units
    of [0, 1] images) and its norm, the steps and the mini-batch size, named as the keyword
    arguments of :func:`~cnnviz.attacks.universal.universal_perturbation`.

    Examples
    --------
    >>> preset = UniversalPreset(target=3, eps=0.1, norm="l2", steps=10, batch_size=5)
    >>> preset["eps"], list(preset)
    (0.1, ['target', 'eps', 'norm', 'steps', 'batch_size'])
    """

    target: int
    eps: float
    norm: Literal["linf", "l2"]
    steps: int
    batch_size: int


class PublishedScores(TypedDict):
    """R4: one model's test loss and accuracy (%), as the report published them.

    Examples
    --------
    >>> REPORT_TEST["bn"]["accuracy"]
    98.97
    """

    loss: float
    accuracy: float


#: The shipped models the report compares, by variant name, and whether each has batch norm.
VARIANTS: Final[Mapping[str, bool]] = MappingProxyType({"nobn": False, "bn": True})


#: R4, the report's test loss and accuracy (%).
REPORT_TEST: Final[Mapping[str, PublishedScores]] = MappingProxyType(
    {
        "nobn": {"loss": 0.0461, "accuracy": 98.45},
        "bn": {"loss": 0.0316, "accuracy": 98.97},
    }
)


#: The report's neuron counts (section 2.2.2). Its conv2 figure equals conv1's output size
#: (32 x 28 x 28); conv2 really outputs 32 x 14 x 14 = 6272 values. Kept for comparison.
REPORT_NEURONS: Final[Mapping[str, int]] = MappingProxyType(
    {"conv1": 25088, "conv2": 25088, "fc1": 500, "fc2": 10}
)

#: R7, the report's parameter counts per layer.
REPORT_PARAMETERS: Final[Mapping[str, int]] = MappingProxyType(
    {"conv1": 320, "conv2": 9248, "fc1": 784500, "fc2": 5010}
)


#: R14, the target of each row of the report's transfer table (the noise learned on digit
#: ``k`` pushes towards ``k + 1``, mod 10).
REPORT_TRANSFER_TARGETS: Final[tuple[int, ...]] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 0)


#: R14, the true labels of the ten test images (the columns of the report's table).
REPORT_TRANSFER_LABELS: Final[tuple[int, ...]] = (8, 5, 0, 9, 7, 1, 3, 1, 9, 3)


#: R14, the report's transfer table. Row ``k``, the noise learned on digit ``k`` towards
#: ``k + 1`` (mod 10), added to ten test images whose true labels are the columns
#: (``REPORT_TRANSFER_LABELS``); each cell, the class the network read.
REPORT_TRANSFER_TABLE: Final[tuple[tuple[int, ...], ...]] = (
    (1, 3, 1, 1, 2, 1, 3, 1, 1, 3),
    (2, 2, 0, 2, 2, 2, 2, 2, 8, 2),
    (8, 8, 0, 9, 7, 1, 3, 3, 9, 3),
    (8, 5, 0, 4, 7, 8, 9, 4, 9, 9),
    (8, 5, 0, 9, 9, 5, 3, 9, 9, 5),
    (8, 8, 0, 4, 7, 1, 3, 1, 9, 3),
    (8, 5, 0, 9, 7, 7, 3, 3, 9, 3),
    (8, 8, 0, 8, 8, 8, 3, 8, 8, 3),
    (8, 5, 0, 9, 7, 8, 3, 9, 9, 3),
    (8, 8, 0, 8, 7, 0, 3, 0, 9, 3),
)


#: The universal perturbation the report section measures, towards 8 (the class the
#: report's noises reached most often), within the usual MNIST L-infinity budget.
#: ``universal_perturbation(model, images, labels, **UNIVERSAL_SETTINGS)``.
UNIVERSAL_SETTINGS: Final = UniversalPreset(
    target=8, eps=0.3, norm="linf", steps=100, batch_size=100
)


#: The report's own class-visualisation procedure, plain steps on the logit, 0.1 times
#: the gradient in its [-1, 1] space (0.025 in pixel units).
#: ``class_visualisation(model, **REPORT_CLASS_VISUALISATION, steps=...)``.
REPORT_CLASS_VISUALISATION: Final = ClassVisualisationPreset(
    objective="logit", normalise=False, step_size=0.025
)


#: The same plain steps on the logit at ten times the report's step size, continued for
#: 1,000 steps after ``p >= 0.99`` (3,000 at most): the robust network's gradients are
#: small, and its class images take shape long after it is sure.
LONG_CLASS_VISUALISATION: Final = replace(
    REPORT_CLASS_VISUALISATION, step_size=0.25, steps=3000, steps_past_threshold=1000
)


#: The report's noise-attack procedure (its code sketch in section 2.4.4), plain steps of
#: 0.1 times the logit's gradient in [-1, 1] (0.025 in pixel units), ``x + n`` never
#: clipped (neither while learning nor when the noise is added to other digits), and one
#: update after the last check of ``p``. ``noise_attack(model, ..., **REPORT_NOISE_ATTACK)``.
REPORT_NOISE_ATTACK: Final = NoiseAttackPreset(step_size=0.025, clip=False, steps_past_threshold=1)
