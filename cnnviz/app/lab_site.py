"""The in-browser lab the app serves at ``/lab``: its Draw view answers strokes in the browser.

The site is the browser edition (:func:`cnnviz.web.site.export_site`) of the shipped
networks: ``$CNNVIZ_LAB_SITE`` when it names an exported folder (tests reuse one), else
one exported into the user cache, in a folder named after what it is made of (the
package version, the runtime's version, the weights and the front end's files), so a
second start reuses it. When it cannot be made (no ``onnx``, no ONNX Runtime Web tarball
offline) the app keeps its server-side sketchpad; ``CNNVIZ_LAB=0`` (or
``cnnviz demo --no-lab``) asks for that.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from pathlib import Path

from cnnviz import __version__
from cnnviz.data.mnist import default_cache_dir
from cnnviz.models.checkpoint import pretrained_path

log = logging.getLogger("cnnviz.app")

#: Where the app serves the lab.
MOUNT = "/lab"
#: The switch's variants (``cnnviz.models.checkpoint``) -> the lab's network ids
#: (``cnnviz.web.site``).
LAB_MODELS = {"nobn": "standard", "bn": "batchnorm", "robust": "robust"}
EXPORTER = ("onnx", "onnxscript", "onnxruntime")  # the web extra: to export the graphs
STATIC_DIR = Path(__file__).parents[1] / "web" / "static"


def wanted(setting: str | None = None) -> bool:
    """Whether the lab is asked for: not when ``setting`` (by default ``$CNNVIZ_LAB``) is
    ``0``, ``no``, ``off`` or ``false``.

    Examples
    --------
    >>> wanted("0"), wanted("off"), wanted("1")
    (False, False, True)
    """
    if setting is None:
        setting = os.environ.get("CNNVIZ_LAB", "1")
    return setting.strip().lower() not in ("0", "no", "off", "false")


def site_key() -> str:
    """A short digest of what the lab is made of: a change of any part names a new folder.

    Examples
    --------
    >>> len(site_key()), site_key() == site_key()
    (16, True)
    """
    from cnnviz.web.runtime import ORT_VERSION

    digest = hashlib.sha256(f"{__version__} {ORT_VERSION}".encode())
    for variant in LAB_MODELS:
        digest.update(pretrained_path(variant=variant).read_bytes())
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def is_site(folder: Path) -> bool:
    """Whether ``folder`` holds an exported lab (its page and its manifest).

    Examples
    --------
    >>> is_site(Path("/nonexistent"))
    False
    """
    return (folder / "index.html").is_file() and (folder / "manifest.json").is_file()


def cached_site(cache: Path | None = None) -> Path:
    """The lab exported into ``cache`` (default: ``lab-site`` in the user cache), made if missing.

    Raises ``ImportError`` without the ``web`` extra, and ``OSError`` or ``ValueError``
    when the runtime cannot be fetched or a graph cannot be exported.
    """
    from cnnviz.web.export import default_graph_cache
    from cnnviz.web.site import export_site

    root = cache if cache is not None else default_cache_dir() / "lab-site"
    folder = root / site_key()
    if is_site(folder):
        return folder
    partial = root / f"{folder.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        export_site(partial, cache=default_graph_cache(), progress_bar=False)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if is_site(folder):  # another server made it meanwhile
        shutil.rmtree(partial, ignore_errors=True)
    else:
        partial.replace(folder)
    return folder


def lab_site() -> Path | None:
    """The folder to serve at ``/lab``, or ``None`` (the app then keeps its sketchpad).

    ``None`` when ``$CNNVIZ_LAB`` says no, or when the lab cannot be made: one log line
    says why.
    """
    if not wanted():
        log.warning("in-browser lab off (CNNVIZ_LAB=0): drawings are answered by the server")
        return None
    given = os.environ.get("CNNVIZ_LAB_SITE")
    if given:
        folder = Path(given).expanduser()
        if is_site(folder):
            return folder
        log.warning("CNNVIZ_LAB_SITE=%s holds no exported lab (index.html, manifest.json)", given)
        return None
    missing = [name for name in EXPORTER if importlib.util.find_spec(name) is None]
    if missing:
        log.warning(
            'in-browser lab unavailable (no %s: pip install "cnnviz[web]"): drawings are '
            "answered by the server",
            ", ".join(missing),
        )
        return None
    log.warning("preparing the in-browser lab (ONNX graphs of the three networks) ...")
    try:
        return cached_site()
    except (ImportError, OSError, ValueError, RuntimeError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        log.warning("in-browser lab unavailable (%s): drawings are answered by the server", first)
        return None
