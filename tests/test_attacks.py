"""Adversarial lab: goals reached, failures honest, models untouched, budgets respected."""

from __future__ import annotations

import pytest
import torch

from cnnviz.attacks import (
    accuracy_under_attack,
    all_pairs,
    class_visualisation,
    fgsm,
    noise_attack,
    pgd,
    targeted_attack,
)
from cnnviz.checkpoint import pretrained
from cnnviz.data import first_per_class
from cnnviz.model import CNN


@pytest.fixture(scope="module")
def model() -> CNN:
    return pretrained(batchnorm=False)


@pytest.fixture(scope="module")
def examples(mnist) -> torch.Tensor:
    """One real test digit of each class, (10, 1, 28, 28)."""
    return mnist.test_x[first_per_class(mnist.test_y)]


def snapshot(model: CNN) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_class_visualisation_reaches_099_for_every_class(model):
    result = class_visualisation(model)
    assert result.success.all() and (result.probabilities >= 0.99).all()
    assert result.images.min() >= -1 and result.images.max() <= 1
    with torch.no_grad():
        recomputed = torch.softmax(model.logits(result.images), 1)[torch.arange(10), result.targets]
    assert torch.allclose(recomputed, result.probabilities, atol=1e-5)
    steps = int(result.steps.max())
    assert result.logit_history.shape == (steps + 1, 10)
    for column in range(10):  # the report's "cost" rises
        own = result.logit_history[: int(result.steps[column]) + 1, column]
        assert own[-1] > own[0]


def test_a_tiny_step_cap_is_reported_as_failure(model):
    result = class_visualisation(model, max_steps=2)
    assert not result.success.all()
    assert (result.steps[~result.success] == 2).all()
    assert (result.probabilities[~result.success] < 0.99).all()
    assert result.logit_history.shape[0] <= 3


def test_history_freezes_finished_samples(model):
    result = class_visualisation(model, targets=[8, 1])
    fast, slow = (0, 1) if result.steps[0] < result.steps[1] else (1, 0)
    tail = result.logit_history[int(result.steps[fast]) :, fast]
    assert torch.all(tail == tail[0]) and len(result.logit_history) == result.steps[slow] + 1


def test_targeted_attack_on_all_pairs(model, examples):
    images, targets = all_pairs(examples)
    assert torch.equal(images[23], examples[2]) and int(targets[23]) == 3
    result = targeted_attack(model, images, targets)
    assert result.success.float().mean() >= 0.95
    assert (result.probabilities[result.success] >= 0.9).all()
    assert result.images.min() >= -1 and result.images.max() <= 1


def test_beta_keeps_the_image_close_and_zero_beta_is_free(model, examples):
    images, targets = examples[:3], torch.tensor([7, 7, 7])
    free = targeted_attack(model, images, targets, beta=0.0, max_steps=300)
    tight = targeted_attack(model, images, targets, beta=500.0, max_steps=300, threshold=0.6)
    mse_free = (free.images - images).pow(2).flatten(1).mean(1)
    mse_tight = (tight.images - images).pow(2).flatten(1).mean(1)
    assert (mse_tight < mse_free).all()
    assert (mse_tight < 0.02).all()  # stays close to the source (range is [-1, 1])
    assert free.success.all()


def test_noise_attack_and_transfer_table(model, examples, mnist):
    targets = (torch.arange(10) + 1) % 10
    others, labels = mnist.test_x[100:110], mnist.test_y[100:110]
    transfer = noise_attack(model, examples, targets, others, labels)
    assert transfer.attack.success.float().mean() >= 0.9
    assert transfer.predictions.shape == (10, 10) and transfer.noises.shape == (10, 1, 28, 28)
    counted = labels[None, :] != targets[:, None]
    expected = ((transfer.predictions == targets[:, None]) & counted).sum(1) / counted.sum(1)
    assert torch.allclose(transfer.fooling_rate, expected.float())
    adversarial = (examples + transfer.noises).clamp(-1, 1)
    assert torch.allclose(adversarial, transfer.attack.images, atol=1e-6)


@pytest.mark.parametrize(
    "attack",
    [
        lambda m, x, y: class_visualisation(m, max_steps=5),
        lambda m, x, y: targeted_attack(m, x, (y + 1) % 10, max_steps=5),
        lambda m, x, y: noise_attack(m, x[:1], [3], x, max_steps=5),
        lambda m, x, y: pgd(m, x, y, 0.1, steps=3),
        lambda m, x, y: fgsm(m, x, y, 0.1, targeted=True),
    ],
    ids=["class", "targeted", "noise", "pgd", "fgsm"],
)
@pytest.mark.parametrize("batchnorm", [False, True])
def test_attacks_leave_weights_and_mode_alone(attack, batchnorm):
    torch.manual_seed(0)
    model = CNN(batchnorm=batchnorm).train()
    before = snapshot(model)
    x, y = torch.rand(4, 1, 28, 28) * 2 - 1, torch.tensor([0, 1, 2, 3])
    attack(model, x, y)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_fgsm_and_pgd_stay_in_the_budget_and_the_range(model, mnist):
    x, y = mnist.test_x[:50], mnist.test_y[:50]
    for adversarial in (fgsm(model, x, y, 0.1), pgd(model, x, y, 0.1, steps=5)):
        assert (adversarial - x).abs().max() <= 2 * 0.1 + 1e-6  # 0.1 pixels = 0.2 model units
        assert adversarial.min() >= -1 and adversarial.max() <= 1
    assert torch.equal(fgsm(model, x, y, 0.0), x)
    assert torch.equal(
        pgd(model, x, y, 0.1, steps=5, seed=3), pgd(model, x, y, 0.1, steps=5, seed=3)
    )


def test_accuracy_falls_with_epsilon_and_pgd_is_stronger(model, mnist):
    x, y = mnist.test_x[:300], mnist.test_y[:300]
    epsilons = [0.0, 0.05, 0.1, 0.2, 0.3]
    clean = (model.predict_proba(x).argmax(1) == y).float().mean() * 100
    fgsm_curve = accuracy_under_attack(model, x, y, epsilons)
    pgd_curve = accuracy_under_attack(model, x, y, epsilons, attack="pgd", steps=20)
    assert fgsm_curve[0] == pytest.approx(float(clean)) and pgd_curve[0] == fgsm_curve[0]
    assert (fgsm_curve[1:] <= fgsm_curve[:-1]).all() and (pgd_curve[1:] <= pgd_curve[:-1]).all()
    assert (pgd_curve <= fgsm_curve).all()
    assert pgd_curve[-1] < 10


def test_pgd_accuracy_does_not_depend_on_the_batch_size(model, mnist):
    x, y = mnist.test_x[:60], mnist.test_y[:60]
    whole = accuracy_under_attack(model, x, y, [0.1, 0.15], attack="pgd", steps=5, batch_size=60)
    pieces = accuracy_under_attack(model, x, y, [0.1, 0.15], attack="pgd", steps=5, batch_size=7)
    assert torch.equal(whole, pieces)
    other_seed = accuracy_under_attack(model, x, y, [0.15], attack="pgd", steps=5, seed=1)
    assert other_seed.shape == (1,) and 0 <= float(other_seed[0]) <= 100


def test_targeted_pgd_moves_towards_the_target(model, mnist):
    x = mnist.test_x[:200]
    target = torch.full((200,), 3)
    before = (model.predict_proba(x).argmax(1) == 3).sum()
    after = (model.predict_proba(pgd(model, x, target, 0.2, targeted=True)).argmax(1) == 3).sum()
    assert after > before + 100


def test_invalid_arguments(model):
    x = torch.zeros(1, 1, 28, 28)
    with pytest.raises(ValueError, match="max_steps"):
        class_visualisation(model, max_steps=-1)
    with pytest.raises(ValueError, match="threshold"):
        class_visualisation(model, threshold=1.0)
    with pytest.raises(ValueError, match="eps"):
        pgd(model, x, torch.tensor([0]), -0.1)
    with pytest.raises(ValueError, match="attack"):
        accuracy_under_attack(model, x, torch.tensor([0]), [0.1], attack="cw")
