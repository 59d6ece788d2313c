"""Shared fixtures: the real MNIST (found as the library finds it) and small generated IDX files."""

from __future__ import annotations

import functools
import gzip
import http.server
import os
import socket
import struct
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from cnnviz.data.mnist import (
    MNIST_FILES,
    DatasetNotFoundError,
    Splits,
    download_mnist,
    load_splits,
    search_roots,
)
from cnnviz.data.sample_digits import load_test_digits


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file (magic 0x0803 for 3-D, 0x0801 for 1-D)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_dataset(
    folder: Path,
    *,
    n_train: int = 64,
    n_test: int = 32,
    size: int = 28,
    gz: bool = True,
    seed: int = 0,
) -> Path:
    """Write four IDX files with random images and labels 0..9 into ``folder`` (flat layout)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, size, size)),
        "train_labels": np.arange(n_train) % 10,
        "test_images": rng.integers(0, 256, (n_test, size, size)),
        "test_labels": np.arange(n_test) % 10,
    }
    for key, (name, _, _) in MNIST_FILES.items():
        content = idx_bytes(np.asarray(arrays[key]))
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content, mtime=0))
        else:
            (folder / name).write_bytes(content)
    return folder


def gzipped_mnist_in(folder: Path) -> Path | None:
    """``folder`` or ``folder/MNIST/raw`` if it holds the four ``.gz`` files, else ``None``."""
    for directory in (folder, folder / "MNIST" / "raw"):
        if all((directory / f"{name}.gz").is_file() for name, _, _ in MNIST_FILES.values()):
            return directory
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """A folder with the four real MNIST ``.gz`` files, found as the library finds them.

    ``$CNNVIZ_TEST_DATA`` if set, else ``$CNNVIZ_DATA`` then the user cache
    (``~/.cache/cnnviz``); when none has them they are downloaded (checksummed) into the
    first of these. No network and no data is a failure that says where to put the files,
    never a skip.
    """
    override = os.environ.get("CNNVIZ_TEST_DATA")
    roots = [Path(override).expanduser()] if override else search_roots()
    for root in roots:
        found = gzipped_mnist_in(root)
        if found is not None:
            return found
    try:
        files = download_mnist(roots[0], progress=False)
    except DatasetNotFoundError as error:
        pytest.fail(f"the real MNIST is needed: {error}")
    return files["train_images"].parent


@pytest.fixture(scope="session")
def mnist(mnist_dir: Path) -> Splits:
    """The real MNIST splits, loaded once per test session."""
    return load_splits(mnist_dir, download=False)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CHROMIUM = Path(os.environ.get("CNNVIZ_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium through Playwright; a missing browser is a failure.

    ``make test`` installs it (``scripts/ensure_chromium.sh``).
    """
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        pytest.fail(
            f"no browser at {CHROMIUM}: run make test (it installs chromium), "
            "apt-get install chromium, or set CNNVIZ_CHROMIUM"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging each request."""

    def log_message(self, *args) -> None:
        pass


@contextmanager
def serve_directory(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def without_data(monkeypatch, tmp_path):
    """No MNIST anywhere the library looks: the bundled sample is used."""
    for name in ("CNNVIZ_DATA", "HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path))
    load_test_digits.cache_clear()
    yield
    load_test_digits.cache_clear()


@pytest.fixture
def with_data(monkeypatch, mnist_dir):
    monkeypatch.setenv("CNNVIZ_DATA", str(mnist_dir))
    load_test_digits.cache_clear()
    yield
    load_test_digits.cache_clear()


@pytest.fixture(scope="session")
def web_site(tmp_path_factory) -> Path:
    """The browser edition of the shipped networks, built once per session (a folder).

    Graphs come from the user's graph cache when the weights and exporter are unchanged
    (a cold build exports six graphs, about half a minute); ONNX Runtime Web from the
    cached, integrity-checked npm tarball (downloaded once).
    """
    from cnnviz.web.export import default_graph_cache
    from cnnviz.web.site import export_site

    out = tmp_path_factory.mktemp("web-site")
    export_site(out, cache=default_graph_cache(), progress_bar=False)
    return out


@pytest.fixture(scope="session")
def web_server(web_site: Path) -> Iterator[str]:
    """``web_site`` served on 127.0.0.1; yields its base URL with a trailing slash."""
    with serve_directory(web_site) as url:
        yield url + "/"


TEACHER_DIR = Path(__file__).resolve().parents[1] / "docs" / "teacher"


@pytest.fixture(scope="session")
def teachernet_dir() -> Path:
    """docs/teacher, on ``sys.path``: ``import teachernet`` and ``--model teachernet:build``."""
    if str(TEACHER_DIR) not in sys.path:
        sys.path.insert(0, str(TEACHER_DIR))
    return TEACHER_DIR


@pytest.fixture(scope="session")
def teacher_weights(teachernet_dir: Path, request) -> Path:
    """The teacher's ``Net`` trained on the real MNIST (``teachernet.train_net``), safetensors.

    Trained once per machine (minutes on a busy 2-core CPU), then read from the cache
    (docs/teacher/trained.py).
    """
    import trained

    if trained.cache_path("net.safetensors").is_file():
        return trained.net_weights()
    return trained.net_weights(data=request.getfixturevalue("mnist_dir"))


@pytest.fixture(scope="session")
def teacher_pictures(teachernet_dir: Path, tmp_path_factory) -> Path:
    """A folder of generated colour pictures, ``cat/ dog/ car/ ship/ tree/``, 40 of each."""
    import teachernet

    return teachernet.make_pictures(tmp_path_factory.mktemp("pictures"))


@pytest.fixture(scope="session")
def colour_weights(teachernet_dir: Path, teacher_pictures: Path) -> Path:
    """The teacher's colour CNN trained on ``teacher_pictures`` (``teachernet.train_colour``),
    cached like ``teacher_weights`` (the pictures are seeded: the same on every machine)."""
    import trained

    return trained.colour_weights(teacher_pictures)
