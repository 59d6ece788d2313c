"""How an ascent step moves the variables: plain gradient steps, steps of fixed L2 length, Adam.

A step rule is called as ``rule(variables, rows, gradient, images)``: it updates
``variables[rows]`` in place from the gradient of the climbed score with respect to
them (``gradient`` has one row per entry of ``rows``), ``images`` being what those rows
looked like before the step, untransformed. Sizes are in the variables' own units.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cnnviz.core.classifier import Bounds


def unit_steps(
    gradient: torch.Tensor, images: torch.Tensor | None = None, bounds: Bounds = (-1.0, 1.0)
) -> torch.Tensor:
    """``gradient`` ``(M, ...)`` scaled to unit L2 length per sample.

    Parameters
    ----------
    gradient
        ``(M, ...)`` one gradient per sample.
    images
        ``(M, ...)`` what the model saw; if given, components that would push a pixel
        already at a bound further out are dropped first, so the whole step counts.
    bounds
        The images' range.

    Returns
    -------
    torch.Tensor
        ``(M, ...)`` directions of L2 length 1 (0 where the gradient is 0).

    Examples
    --------
    >>> unit_steps(torch.tensor([[3.0, 4.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    >>> unit_steps(torch.tensor([[3.0, 4.0]]), torch.tensor([[1.0, 0.0]])).tolist()
    [[0.0, 1.0]]
    """
    if images is not None:
        low, high = bounds
        outward = ((images >= high) & (gradient > 0)) | ((images <= low) & (gradient < 0))
        gradient = gradient.masked_fill(outward, 0.0)
    norm = gradient.flatten(1).norm(dim=1).clamp_min(1e-12)
    return gradient / norm.reshape(-1, *([1] * (gradient.ndim - 1)))


@dataclass(frozen=True)
class PlainStep:
    """``x += size * gradient``: the report's steps.

    Examples
    --------
    >>> x = torch.zeros(2, 1)
    >>> PlainStep(0.5)(x, torch.tensor([1]), torch.tensor([[2.0]]), x[1:])
    >>> x.flatten().tolist()
    [0.0, 1.0]
    """

    size: float

    def __call__(
        self, variables: torch.Tensor, rows: torch.Tensor, gradient: torch.Tensor, images
    ) -> None:
        """Update ``variables[rows]`` in place."""
        variables[rows] = variables[rows] + self.size * gradient


@dataclass(frozen=True)
class UnitStep:
    """``x += size * gradient / |gradient|``: steps of L2 length ``size`` per sample.

    Unlike plain steps, these keep their length where the gradient is small (a sure
    network's log-probability), so a fixed number of steps travels a known distance.

    Attributes
    ----------
    size
        The L2 length of a step.
    bounds
        With ``bounds``, components that would push a pixel already at a bound further
        out are dropped before normalising (:func:`unit_steps`); ``None``: none are.

    Examples
    --------
    >>> x = torch.zeros(1, 2)
    >>> UnitStep(0.5)(x, torch.tensor([0]), torch.tensor([[3.0, 4.0]]), x)
    >>> [round(v, 2) for v in x.flatten().tolist()]
    [0.3, 0.4]
    """

    size: float
    bounds: Bounds | None = None

    def __call__(
        self, variables: torch.Tensor, rows: torch.Tensor, gradient: torch.Tensor, images
    ) -> None:
        """Update ``variables[rows]`` in place."""
        if self.bounds is None:
            direction = unit_steps(gradient)
        else:
            direction = unit_steps(gradient, images, self.bounds)
        variables[rows] = variables[rows] + self.size * direction


class AdamStep:
    """Adam on the ascent's variables (ascending: Adam descends the negated score).

    One rule per ascent: it keeps Adam's moments for the variables it first sees. Rows
    that stopped climbing keep their values.

    Parameters
    ----------
    learning_rate
        Adam's step size, in the variables' units.

    Examples
    --------
    >>> x, rule = torch.zeros(1, 2), AdamStep(0.1)
    >>> rule(x, torch.tensor([0]), torch.tensor([[1.0, -2.0]]), x)
    >>> [round(v, 3) for v in x.flatten().tolist()]
    [0.1, -0.1]
    """

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = learning_rate
        self._optimiser: torch.optim.Adam | None = None
        self._variables: torch.Tensor | None = None

    def __call__(
        self, variables: torch.Tensor, rows: torch.Tensor, gradient: torch.Tensor, images
    ) -> None:
        """Update ``variables[rows]`` in place."""
        if self._optimiser is None:
            self._optimiser = torch.optim.Adam([variables], lr=self.learning_rate)
            self._variables = variables
        elif variables is not self._variables:
            raise ValueError("an AdamStep serves one ascent; make a new one for another")
        kept = None if len(rows) == len(variables) else variables.clone()
        descent = torch.zeros_like(variables)
        descent[rows] = -gradient
        variables.grad = descent
        self._optimiser.step()
        variables.grad = None
        if kept is not None:
            with torch.no_grad():
                keep = torch.ones(len(variables), dtype=torch.bool, device=variables.device)
                keep[rows] = False
                variables[keep] = kept[keep]
