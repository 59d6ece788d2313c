"""ONNX Runtime Web, vendored: the npm registry's tarball, integrity-checked, cached.

The browser edition runs its graphs with ONNX Runtime Web's WebAssembly backend. The
site carries its own copy (no CDN, no Node at run time): :func:`runtime_tarball`
downloads the pinned ``onnxruntime-web`` tarball from the npm registry once, checks it
against the registry's ``sha512`` integrity hash pinned below, and keeps it in the user
cache beside MNIST's (``~/.cache/cnnviz/ort``); :func:`vendor_runtime` copies the few
files the wasm backend needs out of it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tarfile
import urllib.error
from dataclasses import dataclass
from pathlib import Path

from cnnviz.data.download import fetch_to_file
from cnnviz.data.mnist import default_cache_dir

#: The pinned release of the npm package ``onnxruntime-web``.
ORT_VERSION = "1.30.0"
#: The npm registry's ``dist.integrity`` of that release's tarball (Subresource Integrity).
ORT_INTEGRITY = (
    "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZ"
    "ClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
)
NPM_REGISTRY = "https://registry.npmjs.org"
#: Environment variable naming another npm registry (a mirror) to download from.
REGISTRY_ENV_VAR = "CNNVIZ_NPM_REGISTRY"
#: The files the wasm backend loads (the ES module, the Emscripten glue it imports, the binary).
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


class RuntimeUnavailableError(RuntimeError):
    """ONNX Runtime Web could not be obtained (offline, or a tarball that fails its check).

    Examples
    --------
    >>> raise RuntimeUnavailableError("offline")
    Traceback (most recent call last):
    ...
    cnnviz.web.runtime.RuntimeUnavailableError: offline
    """


def tarball_name(version: str = ORT_VERSION) -> str:
    """The npm file name of ``onnxruntime-web`` at ``version``.

    Examples
    --------
    >>> tarball_name()
    'onnxruntime-web-1.30.0.tgz'
    """
    return f"onnxruntime-web-{version}.tgz"


def tarball_url(registry: str | None = None, version: str = ORT_VERSION) -> str:
    """Where the npm registry serves the tarball (``$CNNVIZ_NPM_REGISTRY`` overrides the host).

    Examples
    --------
    >>> tarball_url("https://registry.npmjs.org")
    'https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-1.30.0.tgz'
    """
    registry = registry or os.environ.get(REGISTRY_ENV_VAR) or NPM_REGISTRY
    return f"{registry.rstrip('/')}/onnxruntime-web/-/{tarball_name(version)}"


def integrity_problem(path: Path, integrity: str = ORT_INTEGRITY) -> str | None:
    """``None`` if the file's digest matches the ``sha512-<base64>`` integrity, else why not.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "package.tgz"
    >>> _ = path.write_bytes(b"not the package")
    >>> print(integrity_problem(path))
    integrity mismatch: sha512-... (expected sha512-q0y+JrrtukXS...)
    >>> digest = base64.b64encode(hashlib.sha512(b"not the package").digest()).decode()
    >>> integrity_problem(path, "sha512-" + digest) is None
    True
    """
    algorithm, _, expected = integrity.partition("-")
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    actual = base64.b64encode(digest.digest()).decode()
    if actual != expected:
        return f"integrity mismatch: {algorithm}-{actual} (expected {integrity[:20]}...)"
    return None


def default_runtime_cache() -> Path:
    """The folder the tarball is cached in: ``ort`` in the user cache (beside MNIST).

    Examples
    --------
    >>> default_runtime_cache().name
    'ort'
    """
    return default_cache_dir() / "ort"


def runtime_tarball(
    *,
    cache_dir: Path | None = None,
    registry: str | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """The verified ``onnxruntime-web`` tarball: the cached one, else downloaded and cached.

    A cached file is checked again on every call; one that fails is downloaded anew.
    Downloads are atomic (a file that fails the integrity check never reaches the cache).

    Parameters
    ----------
    cache_dir
        Where the tarball is kept (default :func:`default_runtime_cache`).
    registry
        npm registry base URL (default ``$CNNVIZ_NPM_REGISTRY``, else registry.npmjs.org).
    progress
        Show a progress bar while downloading.
    timeout
        Seconds to wait for the registry on connect and on each read.

    Returns
    -------
    Path
        The tarball in the cache.

    Raises
    ------
    RuntimeUnavailableError
        Offline, or the downloaded file fails the pinned integrity check (one line).

    Examples
    --------
    Offline, with nothing cached, the error says what to do in one line:

    >>> import tempfile
    >>> runtime_tarball(cache_dir=Path(tempfile.mkdtemp()), registry="http://127.0.0.1:9",
    ...                 progress=False)
    Traceback (most recent call last):
    ...
    cnnviz.web.runtime.RuntimeUnavailableError: could not download ONNX Runtime Web 1.30.0 ...
    """
    cache_dir = default_runtime_cache() if cache_dir is None else Path(cache_dir)
    path = cache_dir / tarball_name()
    if path.is_file() and integrity_problem(path) is None:
        return path
    url = tarball_url(registry)
    try:
        fetch_to_file(url, path, verify=integrity_problem, timeout=timeout, progress=progress)
    except ValueError as error:
        raise RuntimeUnavailableError(
            f"refused {url}: {error}; the tarball is not the published onnxruntime-web "
            f"{ORT_VERSION}"
        ) from None
    except (OSError, urllib.error.URLError) as error:
        reason = getattr(error, "reason", error)
        raise RuntimeUnavailableError(
            f"could not download ONNX Runtime Web {ORT_VERSION} from {url} ({reason}); "
            f"connect once (it is cached in {cache_dir}) or set ${REGISTRY_ENV_VAR} to a "
            "reachable npm registry"
        ) from None
    return path


@dataclass(frozen=True)
class VendoredRuntime:
    """The runtime files copied into a site.

    Attributes
    ----------
    folder
        Where they are (``OUT/ort``).
    files
        File name -> size in bytes.
    version
        The ``onnxruntime-web`` version.

    Examples
    --------
    >>> VendoredRuntime(Path("ort"), {"ort.wasm.min.mjs": 10}, "1.30.0").total_bytes
    10
    """

    folder: Path
    files: dict[str, int]
    version: str

    @property
    def total_bytes(self) -> int:
        """Total size of the files."""
        return sum(self.files.values())


def vendor_runtime(folder: Path, *, tarball: Path | None = None, **fetch) -> VendoredRuntime:
    """Copy the wasm backend's files out of the tarball into ``folder``.

    The files are :data:`ORT_FILES`.

    Parameters
    ----------
    folder
        Destination, e.g. ``OUT/ort`` (created).
    tarball
        A verified tarball; default :func:`runtime_tarball` (``fetch`` are its options).

    Returns
    -------
    VendoredRuntime

    Examples
    --------
    >>> import io, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with tarfile.open(folder / "fake.tgz", "w:gz") as archive:
    ...     for name in ORT_FILES:
    ...         member = tarfile.TarInfo(f"package/dist/{name}")
    ...         member.size = 2
    ...         archive.addfile(member, io.BytesIO(b"ok"))
    >>> vendor_runtime(folder / "ort", tarball=folder / "fake.tgz").files["ort.wasm.min.mjs"]
    2
    """
    tarball = runtime_tarball(**fetch) if tarball is None else tarball
    wanted = {f"package/dist/{name}": name for name in ORT_FILES}
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            name = wanted.get(member.name)
            source = archive.extractfile(member) if name and member.isfile() else None
            if source is None:
                continue
            with source, (folder / name).open("wb") as out:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
            files[name] = member.size
    missing = sorted(set(wanted.values()) - set(files))
    if missing:
        raise RuntimeUnavailableError(f"{tarball}: the tarball has no {', '.join(missing)}")
    return VendoredRuntime(folder, files, ORT_VERSION)
