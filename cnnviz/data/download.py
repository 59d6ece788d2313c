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
    """No mirror delivered a file that passed its checksum.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> fetch_from_mirrors("data.bin", folder / "data.bin", [folder.as_uri() + "/nowhere"],
    ...                    verify=lambda path: None, progress=False)
    Traceback (most recent call last):
    ...
    cnnviz.data.download.DownloadError: could not download data.bin; tried:
      file:///.../nowhere/data.bin: <urlopen error [Errno 2] No such file or directory: ...>
    """


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
        ``MAX_DOWNLOAD_BYTES`` (64 MiB).

    Examples
    --------
    A ``file://`` URL stands in for a server; a rejected file never reaches ``destination``:

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "source.txt").write_text("hello")
    >>> url = (folder / "source.txt").as_uri()
    >>> fetch_to_file(url, folder / "copy.txt", verify=lambda path: None, progress=False)
    >>> (folder / "copy.txt").read_text()
    'hello'
    >>> fetch_to_file(url, folder / "bad.txt", verify=lambda path: "too short", progress=False)
    Traceback (most recent call last):
    ...
    ValueError: too short
    >>> (folder / "bad.txt").exists()
    False
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

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "good").mkdir()
    >>> _ = (folder / "good" / "data.bin").write_bytes(b"digits")
    >>> mirrors = [(folder / "down").as_uri(), (folder / "good").as_uri()]
    >>> url = fetch_from_mirrors("data.bin", folder / "data.bin", mirrors,
    ...                          verify=lambda path: None, progress=False)
    >>> url.endswith("/good/data.bin"), (folder / "data.bin").read_bytes()
    (True, b'digits')
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
    """A ``verify`` callback comparing the MD5 of ``content(path)`` with ``expected_md5``.

    Parameters
    ----------
    expected_md5
        Hex digest the content must have.
    content
        Reads the bytes to hash (e.g. decompressing a ``.gz``); a ``ValueError`` it
        raises becomes the callback's answer.

    Returns
    -------
    callable
        ``check(path)``: ``None`` if the MD5 matches, else a sentence saying why not.

    Examples
    --------
    >>> import hashlib, tempfile
    >>> path = Path(tempfile.mkdtemp()) / "data.bin"
    >>> _ = path.write_bytes(b"digits")
    >>> check = md5_checker(hashlib.md5(b"digits").hexdigest(), Path.read_bytes)
    >>> check(path) is None
    True
    >>> md5_checker("0" * 32, Path.read_bytes)(path)
    'checksum mismatch: MD5 ..., expected 00000000000000000000000000000000'
    """

    def check(path: Path) -> str | None:
        try:
            digest = hashlib.md5(content(path)).hexdigest()
        except ValueError as error:
            return str(error)
        if digest != expected_md5:
            return f"checksum mismatch: MD5 {digest}, expected {expected_md5}"
        return None

    return check
