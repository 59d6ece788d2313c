"""The one ascent engine: its stop rules, its plug-ins, and the methods that specialise it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.core.classifier import class_scores
from cnnviz.core.hooks import eval_mode
from cnnviz.core.noise import seeded_noise
from cnnviz.core.scores import target_scores
from cnnviz.inspect.layers import activations
from cnnviz.models.checkpoint import pretrained
from cnnviz.visualise.ascent import ascend
from cnnviz.visualise.class_images import class_visualisation
from cnnviz.visualise.objectives import ChannelMean, ClassScore
from cnnviz.visualise.parameterisations import Fourier, Offset, Pixels
from cnnviz.visualise.steps import AdamStep, PlainStep, UnitStep


def linear_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 4))


class Counted:
    """An objective that remembers how many rows each evaluation saw."""

    def __init__(self, objective):
        self.objective, self.rows = objective, []

    def __call__(self, model, images, rows):
        self.rows.append(len(rows))
        return self.objective(model, images, rows)


def test_class_visualisation_is_the_engine_with_pixels_unit_steps_and_log_probability():
    model = pretrained(batchnorm=False)
    targets = torch.arange(10)
    noise = seeded_noise((10, 1, 28, 28), seed=0, like=torch.empty(0), kind="normal")
    start = (0.0 + 0.1 * noise).clamp(-1, 1)
    found = ascend(
        model,
        start,
        parameterisation=Pixels((-1.0, 1.0)),
        objective=ClassScore(targets, "log_probability"),
        step=UnitStep(0.5 * 2, (-1.0, 1.0)),
        steps=200,
        project=lambda x: x.clamp(-1, 1),
        classes=targets,
        threshold=0.99,
    )
    result = class_visualisation(model)
    assert torch.equal(found.images, result.images)
    assert torch.equal(found.steps, result.steps)
    assert torch.equal(found.probability_history, result.probability_history)
    assert bool(result.success.all()) and int(result.steps.max()) < 200


def test_finished_rows_stop_there_and_are_not_evaluated_again():
    model, targets = linear_net(), torch.tensor([0, 1, 2, 3])
    objective = Counted(ClassScore(targets))
    found = ascend(
        model,
        torch.zeros(4, 1, 4, 4),
        parameterisation=Pixels((-5.0, 5.0)),
        objective=objective,
        step=PlainStep(0.5),
        steps=100,
        classes=targets,
        threshold=0.6,
    )
    taken = found.steps
    assert len(set(taken.tolist())) > 1  # the rows finish at different steps
    assert objective.rows == sorted(objective.rows, reverse=True) and objective.rows[-1] < 4
    assert bool((found.probability_history[-1] >= 0.6).all())
    for row in range(4):  # before its last step a row is below the threshold, then it stays
        history = found.probability_history[:, row]
        assert bool((history[: int(taken[row])] < 0.6).all())
        assert bool((history[int(taken[row]) :] == history[-1]).all())
    with eval_mode(model), torch.no_grad():
        reread = target_scores(class_scores(model, found.images), targets, kind="probability")
    assert torch.allclose(reread, found.probability_history[-1])


def test_steps_past_threshold_and_a_callback_that_stops():
    model, targets = linear_net(), torch.tensor([1, 3])
    settings = dict(
        parameterisation=Pixels((-5.0, 5.0)),
        objective=ClassScore(targets),
        step=PlainStep(0.5),
        steps=100,
        classes=targets,
        threshold=0.6,
    )
    start = torch.zeros(2, 1, 4, 4)
    plain = ascend(model, start, **settings)
    longer = ascend(model, start, **settings, steps_past_threshold=3)
    assert torch.equal(longer.steps, plain.steps + 3)
    calls = []

    def stop_at_two(step, images, probabilities):
        calls.append((step, tuple(images.shape), tuple(probabilities.shape)))
        return step < 2

    stopped = ascend(model, start, **settings, callback=stop_at_two)
    assert calls == [(0, (2, 1, 4, 4), (2,)), (1, (2, 1, 4, 4), (2,)), (2, (2, 1, 4, 4), (2,))]
    assert stopped.steps.tolist() == [2, 2] and len(stopped.objective_history) == 3


def test_adam_moves_only_the_rows_still_climbing_and_matches_torch_adam():
    start = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    gradient = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    mine, rule = start.clone(), AdamStep(0.1)
    rule(mine, torch.arange(3), gradient, mine)
    reference = start.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([reference], lr=0.1)
    reference.grad = -gradient
    optimiser.step()
    assert torch.equal(mine, reference.detach())
    before = mine.clone()
    rule(mine, torch.tensor([0, 2]), gradient[[0, 2]], mine)
    assert torch.equal(mine[1], before[1]) and not torch.equal(mine[0], before[0])
    with pytest.raises(ValueError, match="one ascent"):
        rule(start.clone(), torch.arange(3), gradient, start)


def test_a_unit_objective_climbs_one_unit_of_a_channel(mnist):
    model = pretrained()
    images = mnist.test_x[:3]
    unit = ChannelMean("conv2", torch.tensor([5, 6, 7]), position=(4, 9))
    with eval_mode(model), torch.no_grad():
        values, logits = unit(model, images, torch.arange(3))
    maps = activations(model, images, "conv2")["conv2"]
    assert torch.allclose(values, maps[torch.arange(3), torch.tensor([5, 6, 7]), 4, 9])
    assert logits.shape == (3, 10)
    found = ascend(
        model,
        images,
        parameterisation=Pixels((-1.0, 1.0)),
        objective=ChannelMean("conv2", torch.tensor([5, 6, 7]), position=(4, 9)),
        step=UnitStep(1.0, (-1.0, 1.0)),
        steps=10,
    )
    assert bool((found.objective_history[-1] > found.objective_history[0]).all())
    assert found.probability_history is None and found.steps.tolist() == [10, 10, 10]


def test_parameterisations_give_what_the_model_sees():
    base = torch.full((2, 1, 3, 3), 0.8)
    offset = Offset(base, (0.0, 1.0))
    assert torch.equal(
        offset.image(torch.full((1, 1, 3, 3), 0.5), torch.tensor([1])), base[:1] * 0 + 1
    )
    assert torch.allclose(
        Offset(base, (0.0, 1.0), clip=False).image(base, torch.arange(2)), 2 * base
    )
    images = torch.rand(2, 1, 6, 5, generator=torch.Generator().manual_seed(0)) * 2 - 1
    fourier = Fourier.of(6, 5, bounds=(-1.0, 1.0), device=torch.device("cpu"))
    assert torch.allclose(fourier.image(fourier.spectrum(images), None), images, atol=1e-6)
    assert torch.equal(Pixels((-1.0, 1.0)).image(3 * images, None), (3 * images).clamp(-1, 1))


def test_scores_and_the_engine_reject_what_they_cannot_do():
    logits = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    targets = torch.tensor([1, 2])
    assert torch.equal(target_scores(logits, targets), torch.tensor([2.0, 3.0]))
    probability = target_scores(logits, targets, kind="probability")
    log_probability = target_scores(logits, targets, kind="log_probability")
    assert torch.allclose(probability.log(), log_probability)
    assert torch.equal(target_scores(logits, 2), logits[:, 2])
    with pytest.raises(ValueError, match="kind must be one of"):
        target_scores(logits, targets, kind="margin")
    with pytest.raises(ValueError, match="objective must be one of"):
        ClassScore(targets, "margin")
    model = linear_net()
    settings = dict(
        parameterisation=Pixels((0.0, 1.0)), objective=ClassScore(targets), step=PlainStep(0.1)
    )
    start = torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match="steps must be >= 0"):
        ascend(model, start, **settings, steps=-1)
    with pytest.raises(ValueError, match="threshold must be in"):
        ascend(model, start, **settings, steps=5, classes=targets, threshold=1.0)
    with pytest.raises(ValueError, match="needs the classes"):
        ascend(model, start, **settings, steps=5, threshold=0.5)
