"""Training: learning on real MNIST, determinism, augmentation, logging."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from tensorboard.backend.event_processing import event_accumulator

from cnnviz.data import Splits
from cnnviz.training import (
    History,
    Recipe,
    evaluate,
    get_recipe,
    random_shift,
    resolve_precision,
    train,
)

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
    model, history = train(small, batchnorm=True, recipe=recipe, progress=False)
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
    first = train(data, batchnorm=True, recipe=recipe, seed=7, progress=False)[1]
    again = train(data, batchnorm=True, recipe=recipe, seed=7, progress=False)[1]
    other = train(data, batchnorm=True, recipe=recipe, seed=8, progress=False)[1]
    assert first.train_loss == again.train_loss and first.val_acc == again.val_acc
    assert first.train_loss != other.train_loss


def test_should_stop_ends_training_early(small):
    _, history = train(small, recipe=TINY, progress=False, should_stop=lambda h: h.val_acc[-1] > 0)
    assert history.step[-1] == 20 and history.test_acc is not None


def test_history_round_trips_through_json(tmp_path, small):
    _, history = train(subset(small, 100, 50), recipe=TINY, progress=False)
    history.to_json(tmp_path / "h.json")
    assert History.from_json(tmp_path / "h.json") == history


def test_tensorboard_gets_the_report_tags(tmp_path, small):
    train(subset(small, 200, 50), recipe=TINY, progress=False, tensorboard_dir=tmp_path)
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


def test_recipes_and_their_errors():
    assert get_recipe("report").batch_size == 64 and get_recipe("report").epochs == 10
    assert get_recipe("fast", epochs=2).epochs == 2
    with pytest.raises(ValueError, match="unknown recipe"):
        get_recipe("slow")
    with pytest.raises(ValueError, match="epochs must be positive"):
        get_recipe("fast", epochs=0)
    assert resolve_precision("auto") in ("fp32", "bf16")
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp8")
