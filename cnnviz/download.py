"""Downloading files from a list of mirrors: checksummed, atomic, with a progress bar."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm.auto import tqdm

CHUNK_BYTES = 1 << 16
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024  # no MNIST-like file is near this; bounds every read


class DownloadError(RuntimeError):
    """No mirror delivered a file that passed its checksum."""


def fetch_to_file(
    url: str,
    destination: Path,
    *,
    verify: Callable[[Path], str | None],
    timeout: float = 30.0,
    progress: bool = True,
) -> None:
    """Download ``url`` to ``destination`` atomically.

    The bytes go to a temporary file in the destination's folder, which is checked by
    ``verify`` and only then renamed into place; on any failure it is removed, so no
    half-written or corrupt file is ever left at ``destination``.

    Parameters
    ----------
    url
        HTTP(S) address of the file.
    destination
        Final path; its parent folder is created if needed.
    verify
        Called with the temporary path; returns ``None`` if the file is good, or a
        sentence saying what is wrong with it.
    timeout
        Seconds to wait for the server on connect and on each read.
    progress
        Show a tqdm progress bar.

    Raises
    ------
    OSError, urllib.error.URLError
        On network or disk errors.
    ValueError
        If ``verify`` rejected the file, or the server sent more than
        :data:`MAX_DOWNLOAD_BYTES`.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    temporary = Path(temporary_name)
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(url, timeout=timeout) as response,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=destination.name,
                disable=not progress,
                leave=False,
            ) as bar:
                received = 0
                while chunk := response.read(CHUNK_BYTES):
                    received += len(chunk)
                    if received > MAX_DOWNLOAD_BYTES:
                        raise ValueError(f"more than {MAX_DOWNLOAD_BYTES} bytes; refusing")
                    out.write(chunk)
                    bar.update(len(chunk))
        problem = verify(temporary)
        if problem is not None:
            raise ValueError(problem)
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)


def fetch_from_mirrors(
    filename: str,
    destination: Path,
    mirrors: Sequence[str],
    *,
    verify: Callable[[Path], str | None],
    timeout: float = 30.0,
    progress: bool = True,
) -> str:
    """Try each mirror in turn until one delivers ``filename`` that passes ``verify``.

    Returns
    -------
    str
        The URL that worked.

    Raises
    ------
    DownloadError
        Listing every mirror tried and why it failed.
    """
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            fetch_to_file(url, destination, verify=verify, timeout=timeout, progress=progress)
        except (OSError, ValueError, urllib.error.URLError) as error:
            failures.append(f"  {url}: {error}")
            continue
        return url
    raise DownloadError(f"could not download {filename}; tried:\n" + "\n".join(failures))


def md5_checker(
    expected_md5: str, content: Callable[[Path], bytes]
) -> Callable[[Path], str | None]:
    """A ``verify`` callback comparing the MD5 of ``content(path)`` with ``expected_md5``."""

    def check(path: Path) -> str | None:
        try:
            digest = hashlib.md5(content(path)).hexdigest()
        except ValueError as error:
            return str(error)
        if digest != expected_md5:
            return f"checksum mismatch: MD5 {digest}, expected {expected_md5}"
        return None

    return check
