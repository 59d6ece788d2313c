"""The training loop trains exactly as its steps written out by hand, and finishes in phases.

Two code paths compared bit for bit on a small generated problem: :func:`train` (a loop over
named steps) and the whole algorithm written out in one function from the primitives
(shift, salt, noise, PGD, SGD, weight average, validation, robust check, best epoch).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.attacks.evaluation import accuracy_under_attack
from cnnviz.attacks.pgd import pgd
from cnnviz.core.batching import batch_indices
from cnnviz.data.mnist import Splits
from cnnviz.training.augment import add_noise, add_salt, random_shift
from cnnviz.training.averaging import WeightAverage
from cnnviz.training.evaluation import evaluate
from cnnviz.training.loop import train
from cnnviz.training.recipe import Recipe

#: Every step switched on: shifts, noise, an adversarial batch (PGD-2, warmed up) mixed with
#: its salted clean copy, Nesterov SGD with weight decay, weight averaging, validation every
#: 2 steps and the per-epoch robust check that keeps the best epoch.
SWITCHED_ON = {
    "nesterov": True,
    "weight_decay": 1e-3,
    "max_shift": 1,
    "val_every": 2,
    "adversarial_eps": 0.1,
    "adversarial_steps": 2,
    "eps_warmup_epochs": 1,
    "noise_std": 0.1,
    "noise_mean": -0.05,
    "clean_weight": 0.3,
    "clean_salt": 0.1,
    "weight_average": 0.7,
    "robust_val_size": 10,
    "robust_val_steps": 2,
}
EVERYTHING = Recipe("everything", 3, 12, 0.2, 0.9, **SWITCHED_ON)


def problem() -> Splits:
    """Two classes of 6x6 images in [0, 1]: brighter left half or brighter right half."""
    generator = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 2
    x = torch.rand(60, 1, 6, 6, generator=generator) * 0.5
    x[y == 0, :, :, :3] += 0.5
    x[y == 1, :, :, 3:] += 0.5
    return Splits(x[:36], y[:36], x[36:48], y[36:48], x[48:], y[48:], num_classes=2)


def linear_net() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 2))


def by_hand(data: Splits, recipe: Recipe, seed: int) -> tuple[nn.Module, list, list, list]:
    """The training algorithm in one function, for a linear net in [0, 1]."""
    torch.manual_seed(seed)
    model, bounds = linear_net(), (0.0, 1.0)
    shuffle = torch.Generator().manual_seed(seed)
    augment = torch.Generator().manual_seed(seed + 1)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=recipe.lr, momentum=recipe.momentum, nesterov=True,
        weight_decay=recipe.weight_decay,
    )  # fmt: skip
    average = WeightAverage(model, recipe.weight_average)
    steps_per_epoch = -(-len(data.train_x) // recipe.batch_size)
    warmup = recipe.eps_warmup_epochs * steps_per_epoch
    losses, val_acc, robust, best, kept, step = [], [], [], -1.0, None, 0
    for _ in range(recipe.epochs):
        model.train()
        for idx in batch_indices(len(data.train_x), recipe.batch_size, generator=shuffle):
            x, y = random_shift(data.train_x[idx], 1, augment, 0.0), data.train_y[idx]
            clean = add_salt(x, share=recipe.clean_salt, generator=augment, bounds=bounds)
            x = add_noise(x, mean=-0.05, std=0.1, generator=augment, bounds=bounds)
            eps = recipe.adversarial_eps * min(1.0, (step + 1) / warmup)
            x = pgd(model, x, y, eps=eps, steps=2, step_size=2.5 * eps / 2, seed=step).images
            attacked, unattacked = model(torch.cat([x, clean])).chunk(2)
            loss = (1 - recipe.clean_weight) * F.cross_entropy(attacked, y)
            loss = loss + recipe.clean_weight * F.cross_entropy(unattacked, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            average.update(model)
            step += 1
            losses.append(loss.item())
            if step % recipe.val_every == 0 or step % steps_per_epoch == 0:
                val_acc.append(evaluate(average.model, data.val_x, data.val_y)[1])
        robust.append(
            accuracy_under_attack(
                average.model, data.val_x[:10], data.val_y[:10], [recipe.adversarial_eps],
                attack="pgd", steps=2,
            )[0].item()
        )  # fmt: skip
        if robust[-1] >= best:
            best, kept = robust[-1], {k: v.clone() for k, v in average.model.state_dict().items()}
    model.load_state_dict(kept)
    return model, losses, val_acc, robust


def test_train_is_bit_identical_to_the_algorithm_written_out_by_hand():
    data = problem()
    model, history = train(linear_net, data, EVERYTHING, seed=4, progress=False, device="cpu")
    expected, losses, val_acc, robust = by_hand(data, EVERYTHING, seed=4)
    assert history.train_loss == losses and len(losses) == 9
    assert history.val_acc == val_acc and history.robust_val_acc == robust
    for trained, by_hand_weights in zip(model.parameters(), expected.parameters(), strict=True):
        assert torch.equal(trained, by_hand_weights)


def test_a_finishing_recipe_trains_as_a_second_call_would():
    data = problem()
    finish = dataclasses.replace(EVERYTHING, name="everything-finish", epochs=1, lr=0.05)
    chained, history = train(
        linear_net, data, dataclasses.replace(EVERYTHING, finish=finish), seed=2,
        progress=False, device="cpu",
    )  # fmt: skip
    first, before = train(linear_net, data, EVERYTHING, seed=2, progress=False, device="cpu")
    second, after = train(first, data, finish, seed=2, progress=False, device="cpu")
    for a, b in zip(chained.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    both = before.followed_by(after)
    timings = ("train_seconds", "samples_per_second", "val_seconds", "recipe")
    untimed = {key: value for key, value in dataclasses.asdict(both).items() if key not in timings}
    assert {key: getattr(history, key) for key in untimed} == untimed
    assert history.step == list(range(1, 13)) and history.kept_step in history.epoch_steps
