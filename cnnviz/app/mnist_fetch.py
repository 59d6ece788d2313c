"""MNIST for a server that starts without it (a Space): fetched in the background.

At start, :func:`start` downloads the four MNIST files with the library's checksummed,
atomic download (:func:`cnnviz.data.download_mnist`) into the first folder the library
searches, in a background thread; the app serves the bundled sample meanwhile. When the
files are there and read, the test digits and the training data switch to them
(:func:`generation` changes). Offline, the sample stays and :func:`data_sentence` says so.

``$CNNVIZ_MNIST_MIRRORS`` (comma-separated base URLs) replaces the public mirrors; set
to an empty string, nothing is downloaded (the tests' "no data" app).
"""

from __future__ import annotations

import logging
import os
import threading

from cnnviz.data import MNIST_MIRRORS, DatasetNotFoundError, load_raw, search_roots
from cnnviz.digits import load_test_digits
from cnnviz.idx import IDXError

MIRRORS_ENV = "CNNVIZ_MNIST_MIRRORS"
FETCHING, READY, OFFLINE = "fetching", "ready", "offline"

log = logging.getLogger("cnnviz.app")
_state = {"status": OFFLINE, "generation": 0}
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


def generation() -> int:
    """A number that changes when the full MNIST becomes available (for caches)."""
    with _lock:
        return _state["generation"]


def _set(value: str) -> None:
    with _lock:
        _state["status"] = value
        if value == READY:
            _state["generation"] += 1


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


def start() -> threading.Thread:
    """Run :func:`fetch` in a background thread (the app serves meanwhile)."""
    _set(FETCHING)
    thread = threading.Thread(target=fetch, name="cnnviz-mnist", daemon=True)
    thread.start()
    return thread


def data_sentence() -> str:
    """What the app trains and tests on now, in a sentence for a visitor.

    Examples
    --------
    >>> "digits" in data_sentence()
    True
    """
    if load_test_digits().full:
        return "the full MNIST (54,000 training digits)"
    if status() == FETCHING:
        return (
            "the 800 training digits that come with the app, for now: the full MNIST "
            "(54,000) is downloading in the background and the next run will use it"
        )
    return (
        "the 800 training digits that come with the app (this server could not "
        "download the full MNIST of 54,000), so expect a less accurate network than "
        "the report's 99 %"
    )
