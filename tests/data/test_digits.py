"""The test digits every feature can use: the full MNIST test set, or the bundled sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz.data.mnist import load_raw
from cnnviz.data.sample_digits import (
    SAMPLE_PATH,
    load_test_digits,
    make_test_sample,
    read_test_sample,
    write_test_sample,
)


@pytest.fixture
def fresh_cache():
    load_test_digits.cache_clear()
    yield
    load_test_digits.cache_clear()


def test_bundled_sample_is_what_make_test_sample_gives_on_real_mnist(mnist_dir):
    raw = load_raw(mnist_dir, download=False)
    expected = make_test_sample(raw)
    with np.load(SAMPLE_PATH, allow_pickle=False) as bundled:
        for key, array in expected.items():
            np.testing.assert_array_equal(bundled[key], array)
    assert np.array_equal(raw.test_images[expected["indices"]], expected["images"])


def test_sample_is_stratified_distinct_and_labelled():
    sample = read_test_sample()
    assert sample.x.shape == (1000, 1, 28, 28)
    assert torch.bincount(sample.y).tolist() == [100] * 10
    assert len(set(sample.indices.tolist())) == 1000
    assert int(sample.indices.min()) >= 0 and int(sample.indices.max()) < 10_000
    assert float(sample.x.min()) == -1.0 and float(sample.x.max()) == 1.0
    assert not sample.full and "1,000" in sample.description


def test_write_then_read_round_trips(tmp_path, mnist_dir):
    raw = load_raw(mnist_dir, download=False)
    path = write_test_sample(raw, tmp_path / "sample.npz")
    sample = read_test_sample(path)
    assert torch.equal(sample.y, torch.as_tensor(raw.test_labels[sample.indices.numpy()]).long())


def test_full_test_set_when_mnist_is_present(monkeypatch, mnist_dir, fresh_cache):
    monkeypatch.setenv("CNNVIZ_DATA", str(mnist_dir))
    digits = load_test_digits()
    assert digits.full and len(digits.y) == 10_000
    assert torch.equal(digits.indices, torch.arange(10_000))
    assert "10,000" in digits.description


def test_sample_when_no_data_anywhere(monkeypatch, tmp_path, fresh_cache):
    monkeypatch.setenv("CNNVIZ_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    digits = load_test_digits()
    assert not digits.full and len(digits.y) == 1000


def test_sample_indices_are_distinct_seeded_and_in_range():
    from cnnviz.data.sample_digits import PICK_SEED, sample_indices

    picks = sample_indices(10_000, 200)
    assert picks.shape == (200,) and len(set(picks.tolist())) == 200
    assert int(picks.min()) >= 0 and int(picks.max()) < 10_000
    assert torch.equal(picks, sample_indices(10_000, 200, seed=PICK_SEED))
    assert not torch.equal(picks, sample_indices(10_000, 200, seed=PICK_SEED + 1))
    assert torch.equal(sample_indices(10, 10).sort().values, torch.arange(10))
    with pytest.raises(ValueError, match="cannot pick"):
        sample_indices(5, 6)
