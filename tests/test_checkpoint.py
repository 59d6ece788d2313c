"""Checkpoints: round trip, refusal of pickled code, and the shipped weights."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from cnnviz.checkpoint import (
    CheckpointError,
    cached_train,
    history_path,
    load_checkpoint,
    pretrained,
    pretrained_history,
    pretrained_metadata,
    save_checkpoint,
    training_key,
)
from cnnviz.model import CNN
from cnnviz.training import History, evaluate, get_recipe


class RunsCode:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("batchnorm", [False, True])
def test_round_trip_keeps_outputs_and_metadata(tmp_path, batchnorm):
    torch.manual_seed(0)
    model = CNN(batchnorm=batchnorm)
    history = History(variant=model.variant, recipe={"name": "tiny"}, seed=3, test_acc=12.5)
    history.epoch_steps = [10]
    path = save_checkpoint(model, tmp_path / "sub" / "m.safetensors", history=history, note="hi")
    loaded, meta = load_checkpoint(path)
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    assert torch.equal(loaded(x), model.eval()(x))
    assert loaded.batchnorm == batchnorm and not loaded.training
    assert meta["variant"] == model.variant and meta["recipe"] == "tiny"
    assert meta["seed"] == "3" and meta["test_accuracy"] == "12.5" and meta["note"] == "hi"
    assert History.from_json(history_path(path)) == history
    assert [p.name for p in path.parent.iterdir() if p.suffix == ".part"] == []


def test_plain_state_dict_pt_file_loads(tmp_path):
    model = CNN(batchnorm=True)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    loaded, meta = load_checkpoint(tmp_path / "m.pt")
    assert loaded.batchnorm and meta == {}


def test_pickle_that_runs_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"conv1.weight": RunsCode(marker)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_pickle_posing_as_safetensors_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps(RunsCode(marker)))
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_checkpoint(tmp_path / "evil.safetensors")
    assert not marker.exists()


def test_weights_of_another_shape_are_a_clear_error(tmp_path):
    state = CNN().state_dict()
    state["fc1.weight"] = torch.zeros(10, 10)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="no such"):
        load_checkpoint(tmp_path / "absent.safetensors")


@pytest.mark.parametrize("batchnorm", [False, True])
def test_shipped_weights_score_at_least_99_2_on_the_test_set(mnist, batchnorm):
    model = pretrained(batchnorm)
    _, accuracy = evaluate(model, mnist.test_x, mnist.test_y)
    assert accuracy >= 99.2
    meta = pretrained_metadata(batchnorm)
    assert float(meta["test_accuracy"]) == pytest.approx(accuracy, abs=1e-9)
    assert meta["recipe"] == "fast" and meta["variant"] == ("bn" if batchnorm else "nobn")
    history = pretrained_history(batchnorm)
    assert history.test_acc == pytest.approx(accuracy) and len(history.val_acc) > 10


def test_cached_train_trains_once_then_loads(tmp_path, mnist):
    import dataclasses

    small = dataclasses.replace(
        mnist,
        train_x=mnist.train_x[:256],
        train_y=mnist.train_y[:256],
        val_x=mnist.val_x[:64],
        val_y=mnist.val_y[:64],
        test_x=mnist.test_x[:64],
        test_y=mnist.test_y[:64],
    )
    first_model, first = cached_train(
        small, batchnorm=True, recipe="report", epochs=1, cache_dir=tmp_path
    )
    files = sorted(p.name for p in tmp_path.iterdir())
    stem = f"cnn_bn-report-1ep-seed0-{training_key(get_recipe('report', 1), small)}"
    assert files == [f"{stem}.history.json", f"{stem}.safetensors"]
    again_model, again = cached_train(
        small, batchnorm=True, recipe="report", epochs=1, cache_dir=tmp_path
    )
    assert again == first
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            first_model.state_dict().values(), again_model.state_dict().values(), strict=True
        )
    )
    cached_train(small, batchnorm=True, recipe="report", epochs=1, seed=1, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
    other_data = dataclasses.replace(small, train_x=-small.train_x)  # e.g. another dataset
    assert training_key(get_recipe("report", 1), other_data) != stem.rsplit("-", 1)[1]
    cached_train(other_data, batchnorm=True, recipe="report", epochs=1, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 3
