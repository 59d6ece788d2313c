"""IDX parsing and its error cases, on small generated files."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from cnnviz.data.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    ChecksumError,
    IDXError,
    parse_idx,
    read_idx,
    write_idx,
)
from tests.conftest import idx_bytes


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)


@pytest.mark.parametrize("compressed", [True, False])
def test_reads_raw_and_gzip_files_identically(tmp_path, images, compressed):
    content = idx_bytes(images)
    path = tmp_path / "imgs"
    path.write_bytes(gzip.compress(content) if compressed else content)
    array = read_idx(path, expected_magic=IMAGES_MAGIC)
    assert array.dtype == np.uint8
    np.testing.assert_array_equal(array, images)


def test_labels_are_one_dimensional():
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    np.testing.assert_array_equal(parse_idx(idx_bytes(labels), expected_magic=LABELS_MAGIC), labels)


def test_wrong_magic_names_file_and_both_numbers(images):
    with pytest.raises(IDXError, match=r"labels\.gz: wrong magic number 2051.*2049"):
        parse_idx(idx_bytes(images), expected_magic=LABELS_MAGIC, name="labels.gz")


def test_truncated_data_is_reported_with_sizes(images):
    content = idx_bytes(images)[:-10]
    with pytest.raises(IDXError, match=r"f: truncated: .*3920 bytes of data, file has 3910"):
        parse_idx(content, expected_magic=IMAGES_MAGIC, name="f")


def test_trailing_bytes_are_rejected(images):
    with pytest.raises(IDXError, match="trailing bytes"):
        parse_idx(idx_bytes(images) + b"\0", expected_magic=IMAGES_MAGIC)


@pytest.mark.parametrize("length", [0, 3, 9])
def test_truncated_header(images, length):
    with pytest.raises(IDXError, match=r"too short|truncated header"):
        parse_idx(idx_bytes(images)[:length], expected_magic=IMAGES_MAGIC)


def test_non_ubyte_type_code_is_rejected():
    content = bytearray(idx_bytes(np.zeros(3, np.uint8)))
    content[2] = 0x0D  # float
    magic = int.from_bytes(content[:4], "big")
    with pytest.raises(IDXError, match="type code 0x0d"):
        parse_idx(bytes(content), expected_magic=magic)


def test_truncated_gzip_stream_names_the_file(tmp_path, images):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images))[:200])
    with pytest.raises(IDXError, match=r"train-images-idx3-ubyte\.gz: corrupt or truncated gzip"):
        read_idx(path, expected_magic=IMAGES_MAGIC)


def test_missing_file_is_an_idx_error(tmp_path):
    with pytest.raises(IDXError, match="cannot read"):
        read_idx(tmp_path / "absent", expected_magic=IMAGES_MAGIC)


def test_md5_is_checked_on_the_decompressed_content(tmp_path, images):
    raw, packed = tmp_path / "raw", tmp_path / "packed.gz"
    raw.write_bytes(idx_bytes(images))
    packed.write_bytes(gzip.compress(idx_bytes(images)))
    md5 = hashlib.md5(idx_bytes(images)).hexdigest()
    for path in (raw, packed):
        np.testing.assert_array_equal(read_idx(path, expected_magic=IMAGES_MAGIC, md5=md5), images)
    with pytest.raises(ChecksumError, match=rf"packed\.gz: checksum mismatch: MD5 .* is {md5}"):
        read_idx(packed, expected_magic=IMAGES_MAGIC, md5="0" * 32)


@pytest.mark.parametrize("name", ["images.gz", "images"])
def test_write_idx_gives_the_standard_bytes(tmp_path, images, name):
    path = write_idx(tmp_path / "sub" / name, images)
    content = path.read_bytes()
    assert (gzip.decompress(content) if name.endswith(".gz") else content) == idx_bytes(images)
    np.testing.assert_array_equal(read_idx(path, expected_magic=IMAGES_MAGIC), images)


def test_write_idx_refuses_values_outside_a_byte(tmp_path):
    with pytest.raises(ValueError, match=r"0\.\.255"):
        write_idx(tmp_path / "x", np.array([0, 256]))
