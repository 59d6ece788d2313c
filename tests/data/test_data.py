"""Finding, validating, splitting and normalising data."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
import torch

from cnnviz.core.batching import batch_indices
from cnnviz.core.classifier import to_pixels
from cnnviz.data.idx import ChecksumError, IDXError, write_idx
from cnnviz.data.mnist import (
    DATA_ENV_VAR,
    MNIST_FILES,
    DatasetNotFoundError,
    load_raw,
    load_splits,
    locate_files,
    make_splits,
    search_roots,
    split_indices,
    to_model_space,
)
from tests.conftest import idx_bytes, write_idx_dataset


def test_real_mnist_sanity_figures(mnist_dir):
    raw = load_raw(mnist_dir, download=False)
    assert raw.train_images.shape == (60000, 28, 28)
    assert raw.test_images.shape == (10000, 28, 28)
    pixels = raw.train_images / 255.0
    assert pixels.mean() == pytest.approx(0.1306605, abs=1e-6)
    assert pixels.std() == pytest.approx(0.3081078, abs=1e-6)
    counts = np.bincount(raw.test_labels, minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_report_split_and_normalisation(mnist):
    assert (len(mnist.train_x), len(mnist.val_x), len(mnist.test_x)) == (54000, 6000, 10000)
    assert mnist.train_x.shape[1:] == (1, 28, 28)
    assert mnist.train_x.dtype == torch.float32 and mnist.train_y.dtype == torch.int64
    assert mnist.train_x.min() == -1.0 and mnist.train_x.max() == 1.0


def test_split_is_disjoint_seeded_and_complete():
    train, val = split_indices(1000, 0.1, seed=3)
    assert len(val) == 100 and len(train) == 900
    assert sorted(torch.cat([train, val]).tolist()) == list(range(1000))
    again, _ = split_indices(1000, 0.1, seed=3)
    other, _ = split_indices(1000, 0.1, seed=4)
    assert torch.equal(train, again) and not torch.equal(train, other)


def test_normalisation_matches_the_report_transforms():
    pixels = np.array([[0, 51, 128, 255]], dtype=np.uint8)
    x = to_model_space(pixels[None])  # (1, 1, 1, 4)
    expected = (torch.tensor([0, 51, 128, 255]) / 255.0 - 0.5) / 0.5
    assert torch.equal(x.flatten(), expected)
    assert torch.allclose(
        to_pixels(x, (-1.0, 1.0)).flatten(), torch.tensor([0, 51, 128, 255]) / 255.0
    )


def test_other_bounds_scale_black_and_white_to_them():
    pixels = np.array([[[0, 51, 255]]], dtype=np.uint8)
    x = to_model_space(pixels, bounds=(0, 1))
    assert torch.equal(x.flatten(), torch.tensor([0, 51, 255]) / 255.0)
    shifted = to_model_space(pixels, bounds=(-0.5, 2.5))
    assert shifted.flatten()[[0, 2]].tolist() == [-0.5, 2.5]
    assert torch.allclose(to_pixels(shifted, (-0.5, 2.5)), x)


@pytest.mark.parametrize("layout", ["flat", "MNIST", "FashionMNIST"])
def test_flat_and_torchvision_folder_layouts_are_found(tmp_path, layout):
    folder = tmp_path if layout == "flat" else tmp_path / layout / "raw"
    write_idx_dataset(folder, gz=layout == "flat")
    found = locate_files(tmp_path)
    assert found is not None and all(path.parent == folder for path in found.values())


def test_lookup_order_argument_then_env_then_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert search_roots() == [tmp_path / "env", tmp_path / "cache" / "cnnviz"]
    assert search_roots(tmp_path / "arg") == [tmp_path / "arg"]
    write_idx_dataset(tmp_path / "cache" / "cnnviz", n_train=20)
    assert len(load_raw(dataset="idx").train_labels) == 20  # env folder empty: cache is used
    write_idx_dataset(tmp_path / "env", n_train=30)
    assert len(load_raw(dataset="idx").train_labels) == 30


def test_other_idx_datasets_load_by_header(tmp_path):
    raw = load_raw(write_idx_dataset(tmp_path, n_train=50, n_test=20), dataset="idx")
    splits = make_splits(raw, val_fraction=0.2)
    assert (len(splits.train_x), len(splits.val_x), len(splits.test_x)) == (40, 10, 20)
    assert splits.num_classes == 10


def test_non_mnist_files_fail_the_mnist_checksum_naming_the_file(tmp_path):
    write_idx_dataset(tmp_path)
    with pytest.raises(
        ChecksumError, match=r"train-images-idx3-ubyte\.gz: checksum mismatch.*--dataset idx"
    ):
        load_raw(tmp_path, dataset="mnist", download=False)


def test_count_mismatch_between_images_and_labels(tmp_path):
    write_idx_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros(5, np.uint8)))
    )
    with pytest.raises(
        IDXError, match=r"has 32 images but .*t10k-labels-idx1-ubyte\.gz has 5 labels"
    ):
        load_raw(tmp_path, dataset="idx")


def test_images_of_another_size_load_in_their_own_shape(tmp_path):
    write_idx_dataset(tmp_path, size=32, n_train=40, n_test=10)
    splits = load_splits(tmp_path, dataset="idx", bounds=(0, 1))
    assert splits.train_x.shape == (36, 1, 32, 32) and splits.test_x.shape == (10, 1, 32, 32)
    assert splits.train_x.min() >= 0 and splits.train_x.max() <= 1


def test_training_and_test_images_of_different_sizes_are_rejected(tmp_path):
    write_idx_dataset(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((32, 20, 20), np.uint8))
    with pytest.raises(IDXError, match=r"has 28x28 images but .*t10k-images.* has 20x20 images"):
        load_raw(tmp_path, dataset="idx")


def test_files_of_other_names_are_given_by_a_mapping(tmp_path):
    names = {key: f"my_{key}.idx" for key in MNIST_FILES}
    rng = np.random.default_rng(0)
    for key, name in names.items():
        shape = (12, 8, 8) if key.endswith("images") else (12,)
        write_idx(tmp_path / f"{name}.gz", rng.integers(0, 4, shape))
    raw = load_raw(tmp_path, dataset="idx", files=names, download=False)
    assert raw.train_images.shape == (12, 8, 8) and raw.num_classes <= 4
    with pytest.raises(DatasetNotFoundError, match=r"my_train_images\.idx"):
        load_raw(tmp_path / "empty", dataset="idx", files=names)
    with pytest.raises(ValueError, match="needs exactly the keys"):
        load_raw(tmp_path, dataset="idx", files={"train_images": "a"})


def test_labels_file_in_place_of_images_is_wrong_magic(tmp_path):
    write_idx_dataset(tmp_path)
    shutil.copy(tmp_path / "train-labels-idx1-ubyte.gz", tmp_path / "train-images-idx3-ubyte.gz")
    with pytest.raises(IDXError, match=r"train-images-idx3-ubyte\.gz: wrong magic number 2049"):
        load_raw(tmp_path, dataset="idx")


def test_missing_data_without_download_says_where_it_looked(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path)):
        load_raw(tmp_path, download=False)


def test_unknown_dataset_kind(tmp_path):
    with pytest.raises(ValueError, match="'mnist' or 'idx'"):
        load_raw(tmp_path, dataset="cifar")


def test_batch_indices_cover_everything_once():
    batches = list(batch_indices(10, 4, generator=torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert torch.cat(list(batch_indices(5, 2))).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        next(batch_indices(5, 0))
