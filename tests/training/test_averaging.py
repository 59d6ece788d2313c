"""The exponential moving average of weights, and its use in training."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from cnnviz.data.mnist import Splits
from cnnviz.training.averaging import WeightAverage
from cnnviz.training.evaluation import evaluate
from cnnviz.training.loop import train
from cnnviz.training.recipe import Recipe


def test_the_average_follows_the_decay_schedule_and_copies_integer_buffers():
    net = nn.BatchNorm1d(2)
    average = WeightAverage(net, decay=0.5)
    expected = net.weight.detach().clone()
    for t, value in enumerate([3.0, -1.0, 2.0, 5.0]):
        with torch.no_grad():
            net.weight.fill_(value)
        net.num_batches_tracked.fill_(t + 7)
        average.update(net)
        decay = min(0.5, (1 + t) / (10 + t))
        expected = decay * expected + (1 - decay) * value
        assert torch.allclose(average.model.weight, expected)
        assert average.model.num_batches_tracked.item() == t + 7
    assert average.updates == 4
    assert not average.model.weight.requires_grad and not average.model.training
    assert torch.equal(net.weight.detach(), torch.full((2,), 5.0))  # the model is untouched


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1])
def test_a_decay_outside_0_1_is_refused(decay):
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(nn.Linear(1, 1), decay)


def test_training_returns_and_validates_the_averaged_weights():
    x = torch.rand(60, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    y = (x.flatten(1).mean(1) > 0.5).long()
    data = Splits(x[:40], y[:40], x[40:50], y[40:50], x[50:], y[50:], num_classes=2)
    recipe = Recipe("avg", epochs=2, batch_size=10, lr=0.5, momentum=0.0, val_every=4)
    steps = []

    def record(net: nn.Module):
        def callback(progress) -> bool:
            steps.append([p.detach().clone() for p in net.parameters()])
            return False

        return callback

    net = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    start = [p.detach().clone() for p in net.parameters()]
    averaged = dataclasses.replace(recipe, weight_average=0.8)
    model, history = train(net, data, averaged, progress=False, callbacks=[record(net)])
    expected = start
    for t, weights in enumerate(steps):
        decay = min(0.8, (1 + t) / (10 + t))
        expected = [decay * e + (1 - decay) * w for e, w in zip(expected, weights, strict=True)]
    returned = list(model.parameters())
    assert all(torch.allclose(r, e, atol=1e-6) for r, e in zip(returned, expected, strict=True))
    assert not torch.allclose(returned[0], steps[-1][0])  # not the last step's weights
    assert history.val_step[-1] == len(steps)  # validated after the last step: on the average
    assert history.val_loss[-1] == pytest.approx(evaluate(model, data.val_x, data.val_y)[0])
    raw = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    raw.load_state_dict(dict(zip(raw.state_dict(), steps[-1], strict=True)))
    assert history.val_loss[-1] != pytest.approx(evaluate(raw, data.val_x, data.val_y)[0])
