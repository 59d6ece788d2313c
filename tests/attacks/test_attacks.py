"""Adversarial lab: goals reached, failures honest, models untouched, budgets respected."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from cnnviz.attacks.evaluation import accuracy_under_attack, robustness_curves
from cnnviz.attacks.fgsm import fgsm
from cnnviz.attacks.pgd import pgd
from cnnviz.attacks.registry import ATTACKS, get_attack
from cnnviz.attacks.result import AttackResult
from cnnviz.attacks.targeted import all_pairs, targeted_attack
from cnnviz.attacks.transfer import NoiseTransfer, fooling_rates, noise_attack
from cnnviz.attacks.universal import universal_fooling_rate, universal_perturbation
from cnnviz.data.mnist import first_per_class
from cnnviz.models.checkpoint import pretrained
from cnnviz.models.cnn import CNN
from cnnviz.report.presets import REPORT_CLASS_VISUALISATION, REPORT_NOISE_ATTACK
from cnnviz.visualise.class_images import CLASS_VISUALISATION_MAX_STEPS, class_visualisation
from tests.foreign_models import ColourNet, NestedNet, colour_images, grey_images


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
        pretrained(batchnorm=True), **REPORT_CLASS_VISUALISATION, steps=200
    )
    assert set(torch.nonzero(~result.success)[:, 0].tolist()) == {1, 7}
    assert (result.steps[~result.success] == 200).all()


def test_a_tiny_step_cap_is_reported_as_failure(model):
    result = class_visualisation(model, steps=2)
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
    free = targeted_attack(model, images, targets, beta=0.0, steps=300)
    tight = targeted_attack(model, images, targets, beta=2000.0, steps=300, threshold=0.6)
    mse_free = (free.images - images).pow(2).flatten(1).mean(1)
    mse_tight = (tight.images - images).pow(2).flatten(1).mean(1)
    assert (mse_tight < mse_free).all()
    assert (mse_tight < 0.02).all()  # stays close to the source (range is [-1, 1])
    assert free.success.all()


def test_noise_attack_and_transfer_table(model, examples, mnist):
    targets = (torch.arange(10) + 1) % 10
    others, labels = mnist.test_x[100:110], mnist.test_y[100:110]
    transfer = noise_attack(model, examples, targets, others=others, other_labels=labels)
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
    stop = noise_attack(model, examples, targets, others=examples, **options)
    report = noise_attack(model, examples, targets, others=examples, **REPORT_NOISE_ATTACK)
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


def test_transfer_table_shows_the_fooled_colour_exactly_where_a_cell_is_fooled(model, examples):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgb

    from cnnviz.plots import TRANSFER_OUTCOMES, plot_transfer_table

    fooled = np.array(to_rgb(TRANSFER_OUTCOMES[2][1]))
    labels = torch.tensor([3, 5, 8])
    targets = torch.tensor([8, 1])
    predictions = torch.tensor([[8, 5, 8], [3, 5, 8]])  # one fooled cell: (0, 0)
    attack = class_visualisation(model, targets=targets, steps=0)
    rates = fooling_rates(predictions, targets, labels)
    transfer = NoiseTransfer(attack, torch.zeros(2, 1, 28, 28), predictions, rates)

    def fooled_pixels(table: NoiseTransfer) -> tuple[int, np.ndarray]:
        fig = plot_transfer_table(table, labels)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba())[..., :3] / 255
        cells = fig.axes[0].images[0]
        colours = cells.cmap(cells.norm(cells.get_array()))[..., :3]
        fooled_cells = np.all(np.isclose(colours, fooled, atol=0.01), axis=-1)
        return int(np.all(np.isclose(pixels, fooled, atol=0.02), axis=-1).sum()), fooled_cells

    drawn, cells = fooled_pixels(transfer)
    assert cells.tolist() == [[True, False, False], [False, False, False]]
    assert drawn > 300  # a whole cell plus the legend patch is the fooled colour on screen
    legend = [t.get_text() for t in transfer_legend(plot_transfer_table(transfer, labels))]
    assert "fooled: read as the noise's target" in legend
    untouched = NoiseTransfer(attack, transfer.noises, torch.tensor([[3, 5, 8], [3, 5, 8]]), rates)
    drawn_none, cells_none = fooled_pixels(untouched)
    assert not cells_none.any() and drawn_none < drawn
    legend = [t.get_text() for t in transfer_legend(plot_transfer_table(untouched, labels))]
    assert "fooled: read as the noise's target (none)" in legend


def transfer_legend(fig):
    """The texts of the figure legend under a transfer table."""
    return fig.legends[0].get_texts()


@pytest.mark.parametrize(
    "attack",
    [
        lambda m, x, y: class_visualisation(m, steps=5),
        lambda m, x, y: targeted_attack(m, x, (y + 1) % 10, steps=5),
        lambda m, x, y: noise_attack(m, x[:1], [3], others=x, steps=5),
        lambda m, x, y: universal_perturbation(m, x, y, steps=2, batch_size=2),
        lambda m, x, y: pgd(m, x, y, eps=0.1, steps=3),
        lambda m, x, y: fgsm(m, x, targets=y, eps=0.1),
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
    for result in (fgsm(model, x, y, eps=0.1), pgd(model, x, y, eps=0.1, steps=5)):
        adversarial = result.images
        assert (adversarial - x).abs().max() <= 2 * 0.1 + 1e-6  # 0.1 pixels = 0.2 model units
        assert adversarial.min() >= -1 and adversarial.max() <= 1
        linf, l2 = result.perturbation_size()  # pixel units
        assert torch.allclose(linf, (adversarial - x).flatten(1).abs().amax(1) / 2)
        assert (linf <= 0.1 + 1e-6).all() and (l2 > 0).any()
        with torch.no_grad():
            read = model.logits(adversarial).argmax(1)
        assert torch.equal(result.predictions, read)
        assert torch.equal(result.success, read != y)
    assert torch.equal(fgsm(model, x, y, eps=0.0).images, x)
    assert torch.equal(
        pgd(model, x, y, eps=0.1, steps=5, seed=3).images,
        pgd(model, x, y, eps=0.1, steps=5, seed=3).images,
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
    result = pgd(model, x, targets=target, eps=0.2)
    after = (model.predict_proba(result.images).argmax(1) == 3).sum()
    assert after > before + 100
    assert result.labels is None and int(result.success.sum()) == int(after)


def test_invalid_arguments(model):
    x = torch.zeros(1, 1, 28, 28)
    with pytest.raises(ValueError, match="steps"):
        class_visualisation(model, steps=-1)
    with pytest.raises(ValueError, match="threshold"):
        class_visualisation(model, threshold=1.0)
    with pytest.raises(ValueError, match="eps"):
        pgd(model, x, torch.tensor([0]), eps=-0.1)
    with pytest.raises(ValueError, match="labels"):
        pgd(model, x, eps=0.1)
    with pytest.raises(ValueError, match="attack"):
        accuracy_under_attack(model, x, torch.tensor([0]), [0.1], attack="cw")
    with pytest.raises(ValueError, match="budget"):
        accuracy_under_attack(model, x, torch.tensor([0]), [0.1], attack="targeted")
    with pytest.raises(ValueError, match="shape"):
        class_visualisation(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)))


# --- any classifier: the foreign models of the model contract ---------------------------

FOREIGN = {
    # name: (model factory, images, bounds passed (None: the model's own), eps in pixels)
    "colour": (ColourNet, lambda: colour_images(8), (0.0, 1.0), 8 / 255),
    "nested": (NestedNet, lambda: grey_images(8), None, 0.1),
}


@pytest.fixture(params=sorted(FOREIGN))
def foreign(request):
    factory, images, bounds, eps = FOREIGN[request.param]
    net = factory()
    x = images()
    with torch.no_grad():
        labels = net.eval()(x).argmax(1)  # what it reads now: every success is a change
    return net, x, labels, bounds, eps


def within(images: torch.Tensor, bounds) -> bool:
    low, high = bounds if bounds is not None else (-1.0, 1.0)
    return bool(images.min() >= low and images.max() <= high)


def test_fgsm_and_pgd_on_foreign_models_respect_budget_bounds_and_beat_each_other(foreign):
    net, x, labels, bounds, eps = foreign
    scale = 1.0 if bounds is not None else 2.0  # model units per pixel
    one = fgsm(net, x, labels, eps=eps, bounds=bounds)
    many = pgd(net, x, labels, eps=eps, steps=10, bounds=bounds)
    for result in (one, many):
        assert result.images.shape == x.shape and within(result.images, bounds)
        assert (result.images - x).abs().max() <= scale * eps + 1e-6
        assert (result.perturbation_size()[0] <= eps + 1e-6).all()
        assert result.logit_history.shape == (int(result.steps[0]) + 1, len(x))
    assert one.steps.tolist() == [1] * len(x) and many.steps.tolist() == [10] * len(x)
    with torch.no_grad():  # PGD never weaker than FGSM: the loss it reaches is higher
        loss = {
            name: torch.nn.functional.cross_entropy(net(r.images), labels).item()
            for name, r in (("fgsm", one), ("pgd", many), ("clean", fgsm(net, x, labels, eps=0)))
        }
    assert loss["pgd"] >= loss["fgsm"] > loss["clean"]
    assert int(many.success.sum()) >= int(one.success.sum())


def test_the_done_when_call_on_a_colour_model():
    net, xs = ColourNet(), colour_images(4)
    labels = torch.tensor([0, 1, 2, 3])
    adversarial = pgd(net, xs, labels, eps=8 / 255, steps=10, bounds=(0, 1)).images
    assert adversarial.shape == (4, 3, 32, 32)
    assert (adversarial - xs).abs().max() <= 8 / 255 + 1e-6


def test_ascent_attacks_on_foreign_models(foreign):
    net, x, labels, bounds, _ = foreign
    targets = (labels + 1) % 7
    targeted = targeted_attack(net, x, targets, steps=30, bounds=bounds)
    assert targeted.images.shape == x.shape and within(targeted.images, bounds)
    assert torch.equal(targeted.targets, targets) and targeted.labels is None
    assert (targeted.probabilities > targeted.probability_history[0]).all()
    images = class_visualisation(net, [0, 3], shape=x.shape[1:], steps=20, bounds=bounds)
    assert images.images.shape == (2, *x.shape[1:]) and within(images.images, bounds)
    assert (images.logit_history[-1] > images.logit_history[0]).all()
    transfer = noise_attack(net, x[:1], [2, 4], others=x, other_labels=labels, bounds=bounds)
    assert transfer.noises.shape == (2, *x.shape[1:]) and transfer.predictions.shape == (2, 8)
    assert within(transfer.attack.images, bounds)
    universal = universal_perturbation(net, x, labels, eps=0.05, steps=3, bounds=bounds)
    assert universal.perturbation.shape == (1, *x.shape[1:])
    assert universal.sizes()["linf"] <= 0.05 + 1e-6


@pytest.mark.parametrize(
    "attack",
    [
        lambda m, x, y, b: pgd(m, x, y, eps=0.05, steps=3, bounds=b),
        lambda m, x, y, b: fgsm(m, x, targets=(y + 1) % 7, eps=0.05, bounds=b),
        lambda m, x, y, b: targeted_attack(m, x, (y + 1) % 7, steps=3, bounds=b),
        lambda m, x, y, b: class_visualisation(m, [1], shape=x.shape[1:], steps=3, bounds=b),
        lambda m, x, y, b: noise_attack(m, x[:1], [1], others=x, steps=3, bounds=b),
        lambda m, x, y, b: universal_perturbation(m, x, y, steps=2, bounds=b),
        lambda m, x, y, b: accuracy_under_attack(m, x, y, [0.05], attack="pgd", steps=2, bounds=b),
    ],
    ids=["pgd", "fgsm", "targeted", "class", "noise", "universal", "accuracy"],
)
def test_attacks_leave_foreign_weights_mode_and_gradients_alone(attack, foreign):
    net, x, labels, bounds, _ = foreign
    net.train()
    before = snapshot(net)
    attack(net, x, labels, bounds)
    assert net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.grad is None and p.requires_grad for p in net.parameters())


def test_a_callback_sees_progress_and_can_stop_every_long_attack(model, examples):
    seen = []

    def stop_at_3(step, images, probabilities):
        seen.append((step, tuple(images.shape), tuple(probabilities.shape)))
        return step < 3

    result = pgd(model, examples, torch.arange(10), eps=0.3, steps=40, callback=stop_at_3)
    assert [s for s, _, _ in seen] == [0, 1, 2, 3] and seen[0][1:] == ((10, 1, 28, 28), (10,))
    assert result.steps.tolist() == [3] * 10 and len(result.probability_history) == 4
    with torch.no_grad():
        assert torch.equal(result.predictions, model.logits(result.images).argmax(1))
    seen.clear()
    grown = class_visualisation(model, [1, 7], callback=stop_at_3)
    assert [s for s, _, _ in seen] == [0, 1, 2, 3] and (grown.steps <= 3).all()
    assert len(grown.logit_history) == 4
    progress = []
    full = class_visualisation(model, [1, 7], callback=lambda s, i, p: progress.append(p))
    assert len(progress) == len(full.probability_history)  # None never stops it
    assert torch.equal(progress[-1], full.probabilities) and full.success.all()
    seen.clear()
    pairs = targeted_attack(model, examples[:2], [5, 6], callback=stop_at_3)
    assert (pairs.steps <= 3).all() and seen[-1][0] == 3


def test_the_registry_names_every_attack_and_calling_an_entry_calls_it(model, mnist):
    assert get_attack("pgd").function is pgd and get_attack("fgsm").function is fgsm
    assert {name: spec.function for name, spec in ATTACKS.items()} == {
        "fgsm": fgsm,
        "pgd": pgd,
        "targeted": targeted_attack,
        "noise": noise_attack,
        "universal": universal_perturbation,
    }
    assert all(name == spec.name for name, spec in ATTACKS.items())
    with pytest.raises(ValueError, match="one of"):
        get_attack("deepfool")
    with pytest.raises(TypeError):
        ATTACKS["deepfool"] = ATTACKS["pgd"]  # read-only
    x, y = mnist.test_x[:40], mnist.test_y[:40]
    by_name = get_attack("fgsm")(model, x, y, eps=0.1)
    assert torch.equal(by_name.images, fgsm(model, x, y, eps=0.1).images)
    accuracy = accuracy_under_attack(model, x, y, [0.1], attack="fgsm")
    assert float(accuracy[0]) == pytest.approx(100 * float((~by_name.success).float().mean()))


@pytest.mark.parametrize("name", ["fgsm", "pgd", "targeted", "noise", "universal"])
def test_each_declared_capability_matches_the_function(name):
    """The declarations are data; the signatures are checked against them here, once."""
    spec = ATTACKS[name]
    parameters = inspect.signature(spec.function).parameters
    third = list(parameters)[2]
    assert third == ("labels" if spec.takes_labels else "targets")
    assert spec.targeted == ("targets" in parameters or "target" in parameters)
    assert spec.untargeted == spec.takes_labels
    assert spec.start_noise == ("noise" in parameters)
    assert spec.callback == ("callback" in parameters)
    assert spec.steps == (parameters["steps"].default if "steps" in parameters else 1)
    assert spec.budget == (parameters["eps"].default if "eps" in parameters else None)
    assert bool(spec.norms) == (spec.budget is not None)
    if "norm" in parameters:
        assert spec.norms[0] == parameters["norm"].default
    assert spec.result is inspect.signature(spec.function, eval_str=True).return_annotation
    assert spec.on_images == (spec.result is AttackResult)


@pytest.mark.parametrize("name", ["targeted", "noise", "universal"])
def test_accuracy_under_attack_takes_only_untargeted_attacks_on_images_with_a_budget(name):
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    with pytest.raises(ValueError, match="untargeted attack with a budget"):
        accuracy_under_attack(net, torch.rand(2, 1, 2, 2), [0, 1], [0.1], attack=name)


def test_robustness_curves_name_each_attack_and_pgd_is_stronger(model, mnist):
    x, y = mnist.test_x[:60], mnist.test_y[:60]
    curves = robustness_curves({"m": model}, x, y, [0.0, 0.2])
    assert list(curves) == ["m, FGSM", "m, PGD-40"]
    assert list(robustness_curves({"m": model}, x[:2], y[:2], [0.0], attacks=["pgd"])) == [
        "m, PGD-40"
    ]
    assert curves["m, FGSM"][0] == curves["m, PGD-40"][0] > 90
    assert (curves["m, PGD-40"] <= curves["m, FGSM"]).all()
    assert curves["m, PGD-40"][1] < curves["m, PGD-40"][0]


def test_pixel_units_mean_the_same_change_on_any_bounds(model, examples):
    """The same network on [0, 1] inputs: identical attack, perturbation in pixels."""

    class ZeroOne(torch.nn.Module):
        input_bounds = (0.0, 1.0)

        def forward(self, pixels):
            return model.logits(pixels * 2 - 1)

    pixels = (examples + 1) / 2
    labels = torch.arange(10)
    ours = fgsm(model, examples, labels, eps=0.1)
    theirs = fgsm(ZeroOne(), pixels, labels, eps=0.1)
    assert torch.allclose(ours.perturbation, theirs.perturbation, atol=1e-5)
    assert torch.equal(ours.predictions, theirs.predictions)


def test_attacks_keep_the_dtype_of_a_float64_model(examples):
    net = NestedNet().double()
    x = examples.double()
    result = pgd(net, x, torch.arange(10), eps=0.1, steps=2)
    assert result.images.dtype == torch.float64 and result.logit_history.dtype == torch.float64
    grown = class_visualisation(net, [0], shape=(1, 28, 28), steps=2)
    assert grown.images.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_attacks_give_the_same_result_on_cuda(model, examples):  # pragma: no cover
    gpu = pretrained(batchnorm=False).cuda()
    here = pgd(model, examples, torch.arange(10), eps=0.1, steps=5)
    there = pgd(gpu, examples.cuda(), torch.arange(10), eps=0.1, steps=5)
    assert torch.allclose(here.images, there.images.cpu(), atol=1e-4)
    grown = class_visualisation(gpu, steps=3)
    assert torch.allclose(grown.originals.cpu(), class_visualisation(model, steps=3).originals)


def test_pgd_in_chunks_equals_pgd_all_at_once(model, mnist):
    x, y = mnist.test_x[:50], mnist.test_y[:50]
    whole = pgd(model, x, y, eps=0.2, steps=6, batch_size=50)
    chunks = pgd(model, x, y, eps=0.2, steps=6, batch_size=16)
    assert torch.equal(whole.images, chunks.images)
    assert torch.allclose(whole.logit_history, chunks.logit_history, atol=1e-4)  # GEMM order
    assert torch.equal(whole.success, chunks.success) and chunks.steps.tolist() == [6] * 50


def test_restarts_only_ever_lower_accuracy_and_each_is_a_seeded_run(model, mnist):
    x, y = mnist.test_x[:200], mnist.test_y[:200]
    options = dict(attack="pgd", steps=5, step_size=0.05)
    runs = [accuracy_under_attack(model, x, y, [0.1], seed=s, **options) for s in (0, 1, 2)]
    three = accuracy_under_attack(model, x, y, [0.1], restarts=3, **options)
    assert float(three[0]) <= min(float(run[0]) for run in runs)
    survivors = torch.ones(len(y), dtype=torch.bool)
    for seed in (0, 1, 2):  # by hand: an image counts if every restart leaves it right
        survivors &= pgd(model, x, y, eps=0.1, steps=5, step_size=0.05, seed=seed).predictions == y
    assert float(three[0]) == pytest.approx(100 * survivors.float().mean().item())
    with pytest.raises(ValueError, match="restarts"):
        accuracy_under_attack(model, x, y, [0.1], restarts=0, **options)


@pytest.fixture(scope="module")
def robust() -> CNN:
    return pretrained(variant="robust")


def test_the_robust_network_resists_pgd_and_its_gradient_is_not_masked(robust, model, mnist):
    x, y = mnist.test_x[:200], mnist.test_y[:200]
    epsilons = [0.0, 0.1, 0.3, 0.5]
    fgsm_curve = accuracy_under_attack(robust, x, y, epsilons)
    pgd_curve = accuracy_under_attack(robust, x, y, epsilons, attack="pgd", steps=20)
    standard = accuracy_under_attack(model, x, y, [0.3], attack="pgd", steps=20)
    assert pgd_curve[2] >= 80 and float(standard[0]) < 5  # eps 0.3: robust vs standard
    assert (pgd_curve <= fgsm_curve).all()  # PGD never weaker than FGSM
    assert (pgd_curve[1:] <= pgd_curve[:-1]).all() and pgd_curve[-1] < 20  # falls with eps
