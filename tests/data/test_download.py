"""Downloading MNIST from mirrors, against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cnnviz.data.mnist import MNIST_FILES, DatasetNotFoundError, download_mnist, load_raw
from tests.conftest import serve_directory


@pytest.fixture
def server_root(tmp_path_factory, mnist_dir) -> Path:
    """good/ = the real MNIST; corrupt/ = the same but one file's content altered (valid gzip)."""
    root = tmp_path_factory.mktemp("www")
    (root / "good").symlink_to(mnist_dir.resolve())
    corrupt = root / "corrupt"
    shutil.copytree(mnist_dir, corrupt)
    target = corrupt / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(target.read_bytes()))
    content[-1] = (content[-1] + 1) % 10
    target.write_bytes(gzip.compress(bytes(content)))
    return root


@pytest.fixture
def server(server_root) -> Iterator[str]:
    with serve_directory(server_root) as url:
        yield url


@pytest.fixture
def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def downloaded(root: Path) -> list[str]:
    folder = root / "MNIST" / "raw"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_then_load(tmp_path, server):
    raw = load_raw(tmp_path, mirrors=[f"{server}/good/"], progress=False)
    assert raw.train_images.shape == (60000, 28, 28)
    assert downloaded(tmp_path) == sorted(f"{name}.gz" for name, _, _ in MNIST_FILES.values())


def test_failing_mirrors_are_skipped(tmp_path, server, closed_port):
    mirrors = [f"{closed_port}/", f"{server}/missing/", f"{server}/good/"]
    files = download_mnist(tmp_path, mirrors=mirrors, progress=False)
    assert all(path.is_file() for path in files.values())


def test_corrupt_download_is_rejected_and_not_left_on_disk(tmp_path, server):
    with pytest.raises(DatasetNotFoundError, match="checksum mismatch") as error:
        download_mnist(tmp_path, mirrors=[f"{server}/corrupt/"], progress=False)
    assert "t10k-labels-idx1-ubyte.gz" in str(error.value)
    # the three good files stay; no corrupt file, no partial file
    assert downloaded(tmp_path) == [
        "t10k-images-idx3-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]


def test_corrupt_mirror_then_good_mirror(tmp_path, server):
    download_mnist(tmp_path, mirrors=[f"{server}/corrupt/", f"{server}/good/"], progress=False)
    assert load_raw(tmp_path, download=False).test_labels.shape == (10000,)


def test_offline_error_says_where_to_put_the_files(tmp_path, closed_port):
    with pytest.raises(DatasetNotFoundError) as error:
        load_raw(tmp_path, mirrors=[f"{closed_port}/"], progress=False)
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "CNNVIZ_DATA" in message and "--data-dir" in message
    assert "Connection refused" in message or "refused" in message.lower()
    assert downloaded(tmp_path) == []
