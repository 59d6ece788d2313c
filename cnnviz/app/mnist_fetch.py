"""MNIST for a server that starts without it (a Space): fetched in the background.

At start, :func:`start` downloads the four MNIST files with the library's checksummed,
atomic download (:func:`cnnviz.data.mnist.download_mnist`) into the first folder the library
searches, in a background thread; the app serves the bundled sample meanwhile. When the
files are there and read, the test digits and the training data switch to them
(``on_done`` of :func:`start` clears the app's caches). Offline, the sample stays; the
Train tab says so.

``$CNNVIZ_MNIST_MIRRORS`` (comma-separated base URLs) replaces the public mirrors; set
to an empty string, nothing is downloaded (the tests' "no data" app).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from cnnviz.data.idx import IDXError
from cnnviz.data.mnist import MNIST_MIRRORS, DatasetNotFoundError, load_raw, search_roots
from cnnviz.data.sample_digits import load_test_digits

MIRRORS_ENV = "CNNVIZ_MNIST_MIRRORS"
FETCHING, READY, OFFLINE = "fetching", "ready", "offline"

log = logging.getLogger("cnnviz.app")
_state = {"status": OFFLINE}
_lock = threading.Lock()


def mirrors() -> tuple[str, ...]:
    """The mirrors to download from: ``$CNNVIZ_MNIST_MIRRORS`` if set, else the public ones.

    Examples
    --------
    >>> import os
    >>> os.environ[MIRRORS_ENV] = "http://127.0.0.1:8000/a/, http://127.0.0.1:8000/b/"
    >>> mirrors()
    ('http://127.0.0.1:8000/a/', 'http://127.0.0.1:8000/b/')
    >>> del os.environ[MIRRORS_ENV]
    """
    if MIRRORS_ENV not in os.environ:
        return MNIST_MIRRORS
    return tuple(url.strip() for url in os.environ[MIRRORS_ENV].split(",") if url.strip())


def status() -> str:
    """``"ready"`` (the full MNIST is used), ``"fetching"`` or ``"offline"`` (the sample)."""
    with _lock:
        return _state["status"]


def _set(value: str) -> None:
    with _lock:
        _state["status"] = value


def fetch() -> str:
    """Make the full MNIST available if it can be; returns the new :func:`status`.

    Examples
    --------
    >>> import os
    >>> os.environ[MIRRORS_ENV] = ""  # nowhere to download from
    >>> fetch() in (READY, OFFLINE)  # READY where MNIST is already on the machine
    True
    >>> del os.environ[MIRRORS_ENV]
    """
    if load_test_digits().full:
        _set(READY)
        return READY
    sources = mirrors()
    if not sources:
        _set(OFFLINE)
        return OFFLINE
    _set(FETCHING)
    try:
        load_raw(search_roots()[0], mirrors=sources, progress=False)
    except (DatasetNotFoundError, IDXError, OSError) as error:
        log.warning("MNIST could not be downloaded; using the bundled sample: %s", error)
        _set(OFFLINE)
        return OFFLINE
    load_test_digits.cache_clear()
    _set(READY)
    return READY


def start(on_done: Callable[[], None] = lambda: None) -> threading.Thread:
    """Run :func:`fetch` in a background thread (the app serves meanwhile), then
    ``on_done`` (the app clears its caches of data)."""
    _set(FETCHING)

    def run() -> None:
        fetch()
        on_done()

    thread = threading.Thread(target=run, name="cnnviz-mnist", daemon=True)
    thread.start()
    return thread
