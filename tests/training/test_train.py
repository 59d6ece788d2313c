"""Training: learning on real MNIST, any model, any device, determinism, augmentation, logging."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import pytest
import torch
from tensorboard.backend.event_processing import event_accumulator
from torch import nn

from cnnviz.attacks.evaluation import accuracy_under_attack
from cnnviz.data.mnist import Splits
from cnnviz.models.cnn import CNN
from cnnviz.training.adversarial import mixed_loss
from cnnviz.training.augment import random_shift
from cnnviz.training.device import resolve_device, resolve_precision
from cnnviz.training.evaluation import evaluate
from cnnviz.training.history import History
from cnnviz.training.loop import train
from cnnviz.training.recipe import RECIPES, Recipe, get_recipe
from cnnviz.training.validation import collapsed, robust_check
from tests.foreign_models import ColourNet, NestedNet

BN = functools.partial(CNN, batchnorm=True)

TINY = Recipe("tiny", epochs=1, batch_size=50, lr=0.05, momentum=0.9, val_every=20, max_shift=1)
#: The fast recipe's machinery (bf16 autocast where available, channels-last) on a tiny run.
TINY_FAST = dataclasses.replace(TINY, precision="auto", channels_last=True, schedule="onecycle")


def subset(data: Splits, n_train: int, n_eval: int) -> Splits:
    return dataclasses.replace(
        data,
        train_x=data.train_x[:n_train],
        train_y=data.train_y[:n_train],
        val_x=data.val_x[:n_eval],
        val_y=data.val_y[:n_eval],
        test_x=data.test_x[:n_eval],
        test_y=data.test_y[:n_eval],
    )


@pytest.fixture(scope="module")
def small(mnist) -> Splits:
    return subset(mnist, 3000, 1000)


@pytest.mark.parametrize("recipe", [TINY, TINY_FAST], ids=["fp32", "fast-path"])
def test_a_short_run_learns_real_mnist(small, recipe):
    model, history = train(BN, small, recipe, progress=False)
    assert history.test_acc > 85.0  # chance is 10 %
    assert history.test_acc == pytest.approx(evaluate(model, small.test_x, small.test_y)[1])
    assert len(history.step) == 60 and history.epoch_steps == [60]
    assert history.val_step == [20, 40, 60]
    assert sum(history.train_loss[-10:]) < sum(history.train_loss[:10])
    assert not model.training
    assert model.conv1.weight.is_contiguous()  # back to the standard layout


@pytest.mark.parametrize("recipe", [TINY, TINY_FAST], ids=["fp32", "fast-path"])
def test_same_seed_same_history_other_seed_other_history(small, recipe):
    data = subset(small, 500, 200)
    first = train(BN, data, recipe, seed=7, progress=False)[1]
    again = train(BN, data, recipe, seed=7, progress=False)[1]
    other = train(BN, data, recipe, seed=8, progress=False)[1]
    assert first.train_loss == again.train_loss and first.val_acc == again.val_acc
    assert first.train_loss != other.train_loss


def test_a_callback_can_stop_training_at_a_validation(small):
    def reached(progress) -> bool:
        return progress.measured and progress.val_acc > 0

    _, history = train(BN, small, TINY, progress=False, callbacks=[reached])
    assert history.step[-1] == 20 and history.test_acc is not None


def test_history_round_trips_through_json(tmp_path, small):
    _, history = train(BN, subset(small, 100, 50), TINY, progress=False)
    history.to_json(tmp_path / "h.json")
    assert History.from_json(tmp_path / "h.json") == history


def test_tensorboard_gets_the_report_tags(tmp_path, small):
    train(BN, subset(small, 200, 50), TINY, progress=False, tensorboard_dir=tmp_path)
    events = event_accumulator.EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert tags == {"Loss/train", "Accuracy/train", "Loss/valid", "Accuracy/valid"}
    assert len(events.Scalars("Loss/train")) == 4


def test_random_shift_moves_content_and_fills_background():
    image = torch.full((1, 1, 5, 5), -1.0)
    image[0, 0, 2, 2] = 1.0
    shifted = random_shift(image.repeat(200, 1, 1, 1), 1, torch.Generator().manual_seed(0))
    assert shifted.shape == (200, 1, 5, 5)
    positions = {tuple((s[0] == 1.0).nonzero()[0].tolist()) for s in shifted}
    assert positions == {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)}
    assert ((shifted == -1.0).sum(dim=(1, 2, 3)) == 24).all()
    assert random_shift(image, 0, torch.Generator()) is image


def test_random_shift_moves_every_channel_alike_and_fills_the_given_background():
    image = torch.rand(50, 3, 6, 7) + 1.0  # never equal to the background
    shifted = random_shift(image, 2, torch.Generator().manual_seed(1), background=0.0)
    padded = torch.nn.functional.pad(image, [2] * 4, value=0.0)
    crops = {(dy, dx): padded[:, :, dy : dy + 6, dx : dx + 7] for dy in range(5) for dx in range(5)}
    offsets = [
        [offset for offset, crop in crops.items() if torch.equal(crop[i], shifted[i])]
        for i in range(50)
    ]
    assert all(len(found) == 1 for found in offsets)  # each image: one translation, all channels
    assert len({found[0] for found in offsets}) > 10  # offsets differ between images


#: Measured with the code before issue 11 (``train(data, batchnorm=..., recipe=...)``), on
#: the first 1,024 training and 200 validation/test digits, seed 3, one epoch, validation
#: every 4 steps, fp32: the generic training loop must give the report's CNN the same run.
PRE_CHANGE = {
    "report-bn": {
        "train_loss": [2.3895456790924072, 2.2923266887664795, 0.8137784004211426],
        "val_acc": [23.5, 21.0, 21.5, 37.5],
        "test_loss": 1.8106617736816406,
    },
    "fast-nobn": {
        "train_loss": [2.3052308559417725, 2.302849769592285, 2.265028715133667],
        "val_acc": [20.0, 14.5],
        "test_loss": 2.2671220397949217,
    },
}


@pytest.mark.parametrize("name", sorted(PRE_CHANGE))
def test_the_report_cnn_trains_exactly_as_before_the_generic_loop(mnist, name):
    recipe_name, variant = name.split("-")
    data = dataclasses.replace(
        subset(mnist, 1024, 200), val_x=mnist.val_x[:200], val_y=mnist.val_y[:200]
    )
    recipe = dataclasses.replace(get_recipe(recipe_name, 1), val_every=4, precision="fp32")
    build = functools.partial(CNN, batchnorm=variant == "bn")
    _, history = train(build, data, recipe, seed=3, progress=False, device="cpu")
    expected = PRE_CHANGE[name]
    losses = history.train_loss[:2] + history.train_loss[-1:]
    assert losses == pytest.approx(expected["train_loss"], abs=1e-6)
    assert history.val_acc == expected["val_acc"]
    assert history.test_loss == pytest.approx(expected["test_loss"], abs=1e-6)


def test_a_model_instance_is_trained_in_place_with_its_own_initial_weights(small):
    model = CNN()
    before = model.conv1.weight.detach().clone()
    trained, history = train(model, subset(small, 200, 50), TINY, progress=False)
    assert trained is model and not torch.equal(model.conv1.weight, before)
    assert history.variant == "nobn"


def test_a_foreign_model_with_nested_batch_norm_learns_real_mnist(small):
    untrained_loss, _ = evaluate(NestedNet(), small.test_x, small.test_y)
    model, history = train(NestedNet, small, TINY, progress=False, device="cpu")
    assert isinstance(model, NestedNet) and not model.training
    assert history.variant == "NestedNet"
    assert history.test_acc > 20.0  # chance is 10 %; a 6-channel net after 60 steps
    assert history.test_loss < untrained_loss - 0.3
    assert model.blocks[0].norm.num_batches_tracked.item() == 60


def test_a_colour_model_in_0_1_trains_on_its_own_shapes_and_classes():
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(140) % 7
    images = torch.rand(140, 3, 32, 32, generator=generator) * 0.2
    images[torch.arange(140), labels % 3] += 0.8 * (labels >= 3)[:, None, None]  # bright channel
    data = Splits(
        *(images[:100], labels[:100]),
        *(images[100:120], labels[100:120]),
        *(images[120:], labels[120:]),
        num_classes=7,
    )
    recipe = dataclasses.replace(TINY, batch_size=20, epochs=2, max_shift=2)
    model, history = train(ColourNet, data, recipe, progress=False)
    assert history.variant == "ColourNet" and history.step == list(range(1, 11))
    assert all(loss == loss for loss in history.train_loss)  # finite: shapes and classes fit
    assert next(model.parameters()).device == resolve_device()


def test_the_device_is_cuda_when_available_else_the_cpu():
    assert resolve_device() == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_cuda_gives_a_model_on_cuda_and_the_cpu_batches(small):
    model, history = train(BN, subset(small, 200, 50), TINY, progress=False, device="cuda")
    assert next(model.parameters()).is_cuda
    assert history.test_acc == pytest.approx(
        evaluate(model, small.test_x[:50], small.test_y[:50])[1]
    )


def test_recipes_and_their_errors():
    assert get_recipe("report").batch_size == 64 and get_recipe("report").epochs == 10
    assert get_recipe("fast", epochs=2).epochs == 2
    with pytest.raises(ValueError, match="unknown recipe"):
        get_recipe("slow")
    with pytest.raises(ValueError, match="epochs must be positive"):
        get_recipe("fast", epochs=0)
    assert resolve_precision("auto") in ("fp32", "bf16")
    wrong = (
        ("clean_weight", 1.0),
        ("clean_weight", -0.1),
        ("clean_salt", 1.0),
        ("weight_average", 1.0),
    )
    for field, value in wrong:
        with pytest.raises(ValueError, match=f"{field} must be in"):
            dataclasses.replace(TINY, **{field: value})
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp8")


def test_adversarial_training_keeps_its_most_robust_epoch_and_resists_pgd(small):
    recipe = dataclasses.replace(
        RECIPES["robust"],
        epochs=3,
        eps_warmup_epochs=1,
        robust_val_size=200,
        robust_val_steps=5,
        finish=None,
    )
    data = subset(small, 2000, 200)
    standard, _ = train(CNN, data, dataclasses.replace(TINY, epochs=3), progress=False)
    robust, history = train(CNN, data, recipe, progress=False)
    assert len(history.robust_val_acc) == 3 and history.robust_val_step == history.epoch_steps
    best = max(history.robust_val_acc)
    tied = zip(history.robust_val_step, history.robust_val_acc, strict=True)
    kept = [step for step, accuracy in tied if accuracy == best][-1]
    assert history.kept_step == kept  # the most robust epoch, the last one on a tie
    x, y = data.test_x, data.test_y
    attacked = [
        accuracy_under_attack(net, x, y, [0.2], attack="pgd", steps=10)[0].item()
        for net in (standard, robust)
    ]
    assert attacked[1] > attacked[0] + 20, attacked


def recording_net(seen: list[torch.Tensor]) -> Callable[[], nn.Module]:
    """A builder of a linear net on 6x6 inputs in [0, 1] that appends every input it
    gets in training mode (not the attacks' or validation's) to ``seen``."""

    def build() -> nn.Module:
        net = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
        net.register_forward_pre_hook(
            lambda module, args: seen.append(args[0].clone()) if module.training else None
        )
        return net

    return build


def test_noise_augmentation_is_seeded_of_the_asked_size_and_stays_in_range():
    x = torch.cat([torch.full((24, 1, 6, 6), 0.5), torch.ones(24, 1, 6, 6)])
    y = torch.arange(48) % 2
    data = Splits(x, y, x[:8], y[:8], x[:8], y[:8], num_classes=2)
    recipe = dataclasses.replace(TINY, batch_size=48, max_shift=0, noise_std=0.1)

    def first_batch_seen(seed: int, mean: float = 0.0) -> torch.Tensor:
        seen = []

        noisy = dataclasses.replace(recipe, noise_mean=mean)
        train(recording_net(seen), data, noisy, seed=seed, progress=False, device="cpu")
        return seen[0].view(48, -1)

    batch, again, other = first_batch_seen(0), first_batch_seen(0), first_batch_seen(1)
    assert torch.equal(batch, again) and not torch.equal(batch, other)
    grey = batch[batch.mean(1) < 0.75]  # the shuffled batch: which images were grey
    assert len(grey) == 24 and abs(grey.std().item() - 0.1) < 0.01
    assert abs(grey.mean().item() - 0.5) < 0.01
    white = batch[batch.mean(1) >= 0.75]
    assert white.max().item() == 1.0 and (white < 1.0).float().mean().item() > 0.4
    darker = first_batch_seen(0, mean=-0.1)
    assert abs(darker[darker.mean(1) < 0.7].mean().item() - 0.4) < 0.01


def test_adversarial_training_stops_when_robustness_collapses():
    history = History(variant="nobn", recipe={}, seed=0, robust_val_acc=[40.0, 60.0, 29.0])
    assert collapsed(history)
    history.robust_val_acc[-1] = 31.0
    assert not collapsed(history)


def test_mixed_adversarial_training_weighs_the_attacked_and_the_clean_batch():
    from torch.nn import functional as F

    scores, labels = (
        torch.randn(8, 3, generator=torch.Generator().manual_seed(0)),
        torch.arange(4) % 3,
    )
    attacked, loss = mixed_loss(scores, labels, clean_weight=0.25)
    assert torch.equal(attacked, scores[:4])
    expected = 0.75 * F.cross_entropy(scores[:4], labels) + 0.25 * F.cross_entropy(
        scores[4:], labels
    )
    assert torch.allclose(loss, expected)
    assert torch.allclose(
        mixed_loss(scores[:4], labels, clean_weight=0.0)[1], F.cross_entropy(scores[:4], labels)
    )


def first_mixed_batch(x: torch.Tensor, **changes: float) -> torch.Tensor:
    """The first batch a linear net trains on in mixed adversarial training on the 48
    images ``x`` (two classes, eps 0.1, clean weight 0.5), with ``changes`` to TINY."""
    y = torch.arange(48) % 2
    data = Splits(x, y, x[:8], y[:8], x[:8], y[:8], num_classes=2)
    recipe = dataclasses.replace(
        TINY,
        batch_size=48,
        max_shift=0,
        adversarial_eps=0.1,
        clean_weight=0.5,
        robust_val_size=8,
        robust_val_steps=2,
        **changes,
    )
    seen = []
    train(recording_net(seen), data, recipe, progress=False, device="cpu")
    return seen[0]


def test_mixed_adversarial_training_trains_on_the_attacked_batch_then_the_clean_one():
    x = torch.rand(48, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    first = first_mixed_batch(x, noise_std=0.1).flatten(1)
    assert first.shape == (96, 36)  # the attacked batch, then the same batch clean
    clean, attacked = first[48:], first[:48]
    same = (clean[:, None] == x.flatten(1)[None]).all(2)  # (batch row, training image)
    assert torch.equal(same.sum(1), torch.ones(48, dtype=torch.int64))  # each row an image
    assert torch.equal(same.sum(0), torch.ones(48, dtype=torch.int64))  # each image once
    assert not (attacked[:, None] == x.flatten(1)[None]).all(2).any()  # noised and attacked


def test_clean_salt_whitens_a_share_of_the_clean_copy_only():
    attacked, clean = first_mixed_batch(torch.full((48, 1, 6, 6), 0.25), clean_salt=0.2).chunk(2)
    assert set(clean.unique().tolist()) == {0.25, 1.0}  # untouched, or white
    assert abs((clean == 1.0).float().mean().item() - 0.2) < 0.03
    assert attacked.max().item() <= 0.35 + 1e-6  # the attacked copy gets no salt


def test_a_finishing_recipe_goes_on_training_the_same_model_unless_stopped():
    x = torch.rand(48, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    y = torch.arange(48) % 2
    data = Splits(x, y, x[:8], y[:8], x[:8], y[:8], num_classes=2)
    still = dataclasses.replace(TINY, name="tiny-finish", batch_size=16, max_shift=0, lr=0.0)
    recipe = dataclasses.replace(TINY, batch_size=16, max_shift=0, finish=still)
    seen = []
    model, history = train(recording_net(seen), data, recipe, progress=False, device="cpu")
    assert len(seen) == 6  # three steps, then three more
    assert history.step == [1, 2, 3, 4, 5, 6] and history.epoch_steps == [3, 6]
    assert history.val_step == [3, 6] and history.recipe["finish"]["name"] == "tiny-finish"
    alone, first = train(
        recording_net([]),
        data,
        dataclasses.replace(recipe, finish=None),
        progress=False,
        device="cpu",
    )
    # the finish ran at rate 0: the weights are those the first run ended with
    for finished, unfinished in zip(model.parameters(), alone.parameters(), strict=True):
        assert torch.equal(finished, unfinished)
    assert history.test_acc == first.test_acc and history.step[:3] == first.step
    seen.clear()
    _, stopped = train(  # stopped at the first validation: the end of the first epoch
        recording_net(seen),
        data,
        recipe,
        callbacks=[lambda p: p.measured],
        progress=False,
        device="cpu",
    )
    assert len(seen) == 3 and stopped.step == [1, 2, 3]


def test_a_tie_in_robust_validation_keeps_the_later_epoch():
    x, y = torch.rand(10, 1, 6, 6), torch.arange(10) % 2
    data = Splits(x, y, x, y, x, y, num_classes=2)
    always_zero = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))  # right on half the digits
    with torch.no_grad():
        always_zero[1].weight.zero_()
        always_zero[1].bias.copy_(torch.tensor([1.0, 0.0]))
    recipe = dataclasses.replace(TINY, adversarial_eps=0.1, robust_val_size=10, robust_val_steps=2)
    history = History(variant="x", recipe={}, seed=0)
    assert robust_check(always_zero, data, recipe=recipe, history=history, step=5)
    assert robust_check(
        always_zero, data, recipe=recipe, history=history, step=10
    )  # a tie: the later epoch
    assert history.robust_val_acc == [50.0, 50.0] and history.robust_val_step == [5, 10]
    history.robust_val_acc[-1] = 60.0
    assert not robust_check(
        always_zero, data, recipe=recipe, history=history, step=15
    )  # worse: not kept
