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
    """An IDX file is missing, corrupt, truncated or not of the expected kind."""


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


def md5_of_content(path: str | Path) -> str:
    """MD5 hex digest of the *decompressed* content of an IDX file."""
    return hashlib.md5(read_bytes(path)).hexdigest()


def parse_idx(data: bytes, *, expected_magic: int, name: str = "<bytes>") -> np.ndarray:
    """Parse decompressed IDX bytes into a ``uint8`` array.

    Parameters
    ----------
    data
        The whole decompressed file.
    expected_magic
        :data:`IMAGES_MAGIC` (2051) or :data:`LABELS_MAGIC` (2049).
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


def read_idx(path: str | Path, *, expected_magic: int) -> np.ndarray:
    """Read an IDX file (gzip or raw) into a ``uint8`` array; see :func:`parse_idx`."""
    return parse_idx(read_bytes(path), expected_magic=expected_magic, name=str(path))
