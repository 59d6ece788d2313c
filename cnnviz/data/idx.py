"""Reading the IDX file format that MNIST and its look-alikes are distributed in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian ``uint32`` per dimension, then the data. The standard
image files are ``idx3`` (``N x rows x cols``) and label files ``idx1`` (``N``), both
of unsigned bytes (type code ``0x08``). Files may be gzip-compressed.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

UBYTE_TYPE_CODE = 0x08
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension


class IDXError(ValueError):
    """An IDX file is missing, corrupt, truncated or not of the expected kind.

    Examples
    --------
    >>> parse_idx(bytes(3), expected_magic=LABELS_MAGIC)
    Traceback (most recent call last):
    ...
    cnnviz.data.idx.IDXError: <bytes>: file too short for an IDX header (3 bytes)
    """


class ChecksumError(IDXError):
    """An IDX file's decompressed content does not have the expected MD5.

    A subclass of :class:`IDXError`, so ``except IDXError`` catches it too.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> path = write_idx(f"{tempfile.mkdtemp()}/labels", np.array([7], dtype=np.uint8))
    >>> read_idx(path, expected_magic=LABELS_MAGIC, md5="0" * 32)
    Traceback (most recent call last):
    ...
    cnnviz.data.idx.ChecksumError: ...labels: checksum mismatch: MD5 ... expected 000...
    """


def read_bytes(path: str | Path) -> bytes:
    """Return the decompressed bytes of an IDX file (gzip or raw).

    Parameters
    ----------
    path
        A ``.gz`` file (detected by its gzip signature, not its name) or a raw IDX file.

    Raises
    ------
    IDXError
        If the file cannot be read or its gzip stream is corrupt or truncated.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> packed = write_idx(f"{folder}/a.gz", np.arange(3, dtype=np.uint8))
    >>> raw = write_idx(f"{folder}/a", np.arange(3, dtype=np.uint8))
    >>> read_bytes(packed) == read_bytes(raw)
    True
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise IDXError(f"{path}: cannot read file ({error.strerror or error})") from error
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise IDXError(f"{path}: corrupt or truncated gzip stream ({error})") from error


def parse_idx(data: bytes, *, expected_magic: int, name: str = "<bytes>") -> np.ndarray:
    """Parse decompressed IDX bytes into a ``uint8`` array.

    Parameters
    ----------
    data
        The whole decompressed file.
    expected_magic
        ``IMAGES_MAGIC`` (2051) or ``LABELS_MAGIC`` (2049).
    name
        How the file is named in error messages.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of the shape declared in the header (read-only view of ``data``).

    Raises
    ------
    IDXError
        Wrong magic number, unsupported type code, header or data shorter or longer than
        the header declares.

    Examples
    --------
    >>> data = bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9])  # labels file: 2 labels, 7 and 9
    >>> parse_idx(data, expected_magic=LABELS_MAGIC).tolist()
    [7, 9]
    >>> parse_idx(data, expected_magic=IMAGES_MAGIC, name="x")
    Traceback (most recent call last):
    ...
    cnnviz.data.idx.IDXError: x: wrong magic number 2049 (0x00000801); an IDX images file starts ...
    """
    if len(data) < 4:
        raise IDXError(f"{name}: file too short for an IDX header ({len(data)} bytes)")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    magic = struct.unpack(">I", data[:4])[0]
    if zero != 0 or magic != expected_magic:
        kind = "images" if expected_magic == IMAGES_MAGIC else "labels"
        raise IDXError(
            f"{name}: wrong magic number {magic} (0x{magic:08x}); an IDX {kind} file "
            f"starts with {expected_magic} (0x{expected_magic:08x})"
        )
    if type_code != UBYTE_TYPE_CODE:
        raise IDXError(f"{name}: unsupported IDX type code 0x{type_code:02x} (need 0x08, ubyte)")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IDXError(f"{name}: truncated header ({len(data)} of {header_size} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    expected = int(np.prod(shape, dtype=np.int64))
    actual = len(data) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "has trailing bytes"
        raise IDXError(
            f"{name}: {problem}: header declares shape {tuple(shape)} = {expected} bytes "
            f"of data, file has {actual}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


def read_idx(path: str | Path, *, expected_magic: int, md5: str | None = None) -> np.ndarray:
    """Read an IDX file (gzip or raw) into a ``uint8`` array; see :func:`parse_idx`.

    Parameters
    ----------
    path
        The file, gzip-compressed or raw.
    expected_magic
        ``IMAGES_MAGIC`` or ``LABELS_MAGIC``.
    md5
        If given, the MD5 hex digest the *decompressed* content must have.

    Returns
    -------
    numpy.ndarray
        ``uint8``, of the shape declared in the header (``(N, H, W)`` for images).

    Raises
    ------
    IDXError
        Unreadable, corrupt, checksum mismatch, or wrong header (see :func:`parse_idx`).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> path = write_idx(f"{folder}/labels.gz", np.array([3, 1, 4], dtype=np.uint8))
    >>> read_idx(path, expected_magic=LABELS_MAGIC).tolist()
    [3, 1, 4]
    >>> read_idx(path, expected_magic=LABELS_MAGIC, md5="0" * 32)
    Traceback (most recent call last):
    ...
    cnnviz.data.idx.ChecksumError: ...labels.gz: checksum mismatch: MD5 ... expected 000...
    """
    content = read_bytes(path)
    if md5 is not None:
        digest = hashlib.md5(content).hexdigest()
        if digest != md5:
            raise ChecksumError(
                f"{path}: checksum mismatch: MD5 of the decompressed content is {digest}, "
                f"expected {md5}"
            )
    return parse_idx(content, expected_magic=expected_magic, name=str(path))


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write a ``uint8`` array as an IDX file (gzip-compressed when ``path`` ends in ``.gz``).

    Use it to bring your own images to cnnviz: four files named as MNIST's (or listed
    in ``files=`` of :func:`cnnviz.data.mnist.load_raw`) make a data set.

    Parameters
    ----------
    path
        Destination; parent folders are created.
    array
        Values in 0..255, any number of dimensions (images ``(N, H, W)``, labels ``(N,)``).

    Returns
    -------
    Path
        The path written.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> images = np.zeros((2, 5, 7), dtype=np.uint8)
    >>> path = write_idx(f"{tempfile.mkdtemp()}/images", images)
    >>> read_idx(path, expected_magic=IMAGES_MAGIC).shape
    (2, 5, 7)
    """
    array = np.asarray(array)
    if array.size and (array.min() < 0 or array.max() > 255):
        raise ValueError("IDX ubyte files hold values in 0..255")
    header = struct.pack(">HBB", 0, UBYTE_TYPE_CODE, array.ndim)
    content = header + struct.pack(f">{array.ndim}I", *array.shape)
    content += array.astype(np.uint8).tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content, mtime=0) if path.suffix == ".gz" else content)
    return path
