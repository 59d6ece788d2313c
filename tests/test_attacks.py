"""Adversarial lab: goals reached, failures honest, models untouched, budgets respected."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz.attacks import (
    CLASS_VISUALISATION_MAX_STEPS,
    REPORT_CLASS_VISUALISATION,
    REPORT_NOISE_ATTACK,
    NoiseTransfer,
    accuracy_under_attack,
    all_pairs,
    class_visualisation,
    fgsm,
    fooling_rates,
    noise_attack,
    pgd,
    targeted_attack,
    universal_fooling_rate,
    universal_perturbation,
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


@pytest.mark.parametrize("batchnorm", [False, True], ids=["nobn", "bn"])
def test_class_visualisation_reaches_099_for_every_class_with_defaults(batchnorm):
    shipped = pretrained(batchnorm=batchnorm)
    result = class_visualisation(shipped)
    assert result.success.all() and (result.probabilities >= 0.99).all()
    assert (result.steps <= CLASS_VISUALISATION_MAX_STEPS).all()
    assert result.images.min() >= -1 and result.images.max() <= 1
    with torch.no_grad():
        logits = shipped.eval().logits(result.images)
    recomputed = torch.softmax(logits, 1)[torch.arange(10), result.targets]
    assert torch.allclose(recomputed, result.probabilities, atol=1e-5)
    steps = int(result.steps.max())
    assert result.logit_history.shape == (steps + 1, 10)
    for column in range(10):  # the report's "cost" rises (the BN model reads noise as 8)
        own = result.logit_history[: int(result.steps[column]) + 1, column]
        assert own[-1] > own[0] or (result.steps[column] == 0 and column == 8)
    for target in range(10):  # the app also grows one class at a time (other start noise)
        alone = class_visualisation(shipped, [target])
        assert alone.success.all() and alone.steps.max() <= CLASS_VISUALISATION_MAX_STEPS


def test_the_reports_plain_logit_steps_stall_on_the_batch_norm_model():
    """Why the app's class images failed: 0.1 * gradient of the logit, classes 1 and 7."""
    result = class_visualisation(
        pretrained(batchnorm=True), **REPORT_CLASS_VISUALISATION, max_steps=200
    )
    assert set(torch.nonzero(~result.success)[:, 0].tolist()) == {1, 7}
    assert (result.steps[~result.success] == 200).all()


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


def test_the_reports_noise_procedure_is_unclipped_and_takes_one_more_step(model, examples):
    targets = (torch.arange(10) + 1) % 10
    options = {**REPORT_NOISE_ATTACK, "steps_past_threshold": 0}
    stop = noise_attack(model, examples, targets, examples, **options)
    report = noise_attack(model, examples, targets, examples, **REPORT_NOISE_ATTACK)
    assert report.attack.success.all() and stop.attack.success.all()
    assert torch.equal(report.attack.steps, stop.attack.steps + 1)
    assert report.attack.images.abs().max() > 1  # x + n was never clipped
    sums = examples[None] + report.noises[:, None]
    with torch.no_grad():
        expected = model.logits(sums.reshape(-1, 1, 28, 28)).argmax(1).reshape(10, 10)
    assert torch.equal(report.predictions, expected)


@pytest.fixture(scope="module")
def universal_split(mnist):
    """1,000 training digits to learn on, 500 test digits never learned on."""
    picks = torch.randperm(len(mnist.train_x), generator=torch.Generator().manual_seed(5))[:1000]
    return (mnist.train_x[picks], mnist.train_y[picks]), (mnist.test_x[:500], mnist.test_y[:500])


@pytest.mark.parametrize("batchnorm", [False, True], ids=["nobn", "bn"])
def test_universal_perturbation_fools_most_unseen_digits(batchnorm, universal_split):
    (x, y), (unseen_x, unseen_y) = universal_split
    shipped = pretrained(batchnorm=batchnorm)
    universal = universal_perturbation(shipped, x, y, target=8, eps=0.3, steps=100)
    assert universal.perturbation.shape == (1, 1, 28, 28)
    assert universal.perturbation.abs().max() <= 2 * 0.3 + 1e-6  # 0.3 pixels, model units
    assert len(universal.loss_history) == 100  # bounded: exactly `steps` steps
    assert universal.loss_history[-10:].mean() < universal.loss_history[:10].mean()
    rate = universal_fooling_rate(shipped, universal, unseen_x, unseen_y)
    assert rate >= 0.5
    with torch.no_grad():  # recount by hand: not-8 test digits now read as 8
        now = shipped.eval().logits((unseen_x + universal.perturbation).clamp(-1, 1)).argmax(1)
    counted = unseen_y != 8
    assert rate == pytest.approx(float((now[counted] == 8).float().mean()))


def test_universal_perturbation_is_seeded_and_respects_an_l2_budget(model, universal_split):
    (x, y), _ = universal_split
    first = universal_perturbation(model, x, y, eps=2.0, norm="l2", steps=5, seed=1)
    again = universal_perturbation(model, x, y, eps=2.0, norm="l2", steps=5, seed=1)
    assert torch.equal(first.perturbation, again.perturbation)
    assert first.sizes()["l2"] <= 2.0 + 1e-4
    assert first.target is None
    with pytest.raises(ValueError, match="norm"):
        universal_perturbation(model, x, y, norm="l1")


def test_transfer_table_shows_green_exactly_where_a_cell_is_fooled(model, examples):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgb

    from cnnviz.plots import TRANSFER_OUTCOMES, plot_transfer_table

    green = np.array(to_rgb(TRANSFER_OUTCOMES[2][1]))
    labels = torch.tensor([3, 5, 8])
    targets = torch.tensor([8, 1])
    predictions = torch.tensor([[8, 5, 8], [3, 5, 8]])  # one fooled cell: (0, 0)
    attack = class_visualisation(model, targets=targets, max_steps=0)
    rates = fooling_rates(predictions, targets, labels)
    transfer = NoiseTransfer(attack, torch.zeros(2, 1, 28, 28), predictions, rates)

    def green_pixels(table: NoiseTransfer) -> tuple[int, np.ndarray]:
        fig = plot_transfer_table(table, labels)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba())[..., :3] / 255
        cells = fig.axes[0].images[0]
        colours = cells.cmap(cells.norm(cells.get_array()))[..., :3]
        fooled_cells = np.all(np.isclose(colours, green, atol=0.01), axis=-1)
        return int(np.all(np.isclose(pixels, green, atol=0.02), axis=-1).sum()), fooled_cells

    drawn, cells = green_pixels(transfer)
    assert cells.tolist() == [[True, False, False], [False, False, False]]
    assert drawn > 300  # a whole cell plus the legend patch is green on screen
    legend = [t.get_text() for t in transfer_legend(plot_transfer_table(transfer, labels))]
    assert "fooled: read as the noise's target" in legend
    untouched = NoiseTransfer(attack, transfer.noises, torch.tensor([[3, 5, 8], [3, 5, 8]]), rates)
    drawn_none, cells_none = green_pixels(untouched)
    assert not cells_none.any() and drawn_none < drawn
    legend = [t.get_text() for t in transfer_legend(plot_transfer_table(untouched, labels))]
    assert "fooled: read as the noise's target (none)" in legend


def transfer_legend(fig):
    """The texts of the figure legend under a transfer table."""
    return fig.legends[0].get_texts()


@pytest.mark.parametrize(
    "attack",
    [
        lambda m, x, y: class_visualisation(m, max_steps=5),
        lambda m, x, y: targeted_attack(m, x, (y + 1) % 10, max_steps=5),
        lambda m, x, y: noise_attack(m, x[:1], [3], x, max_steps=5),
        lambda m, x, y: universal_perturbation(m, x, y, steps=2, batch_size=2),
        lambda m, x, y: pgd(m, x, y, 0.1, steps=3),
        lambda m, x, y: fgsm(m, x, y, 0.1, targeted=True),
    ],
    ids=["class", "targeted", "noise", "universal", "pgd", "fgsm"],
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
