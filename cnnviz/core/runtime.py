"""Process-wide CPU settings for batched work: keep freed memory instead of returning it.

Batched computations (an occlusion map, a batch of attack steps) allocate a few
megabytes of temporaries per call. With glibc's default malloc, memory freed at the top
of the heap goes back to the kernel, so the next call page-faults it in again: on this
project's reference machine that is about 1,500 faults and a quarter of an occlusion
map's time. PyTorch's CPU tuning guide suggests another allocator for this; the same
effect is two ``mallopt`` calls away: a larger ``M_TOP_PAD`` keeps that memory mapped,
and ``M_MMAP_THRESHOLD`` at 32 MiB keeps blocks up to that size in the heap. The second
matters: setting any of these switches off glibc's own tuning of the mmap threshold, which
would otherwise stay at 128 KiB, so every larger tensor would be mapped and unmapped on
each use (10 million page faults and 1.7 times the time for 200 steps of adversarial
training, ``benchmarks/malloc_settings.py``).

The library never does this on import (it changes the whole process); the app, the
``cnnviz`` command and the benchmarks call :func:`retain_freed_memory` at startup.
"""

from __future__ import annotations

import ctypes
import sys

M_TOP_PAD = -2  # glibc's mallopt parameter numbers
M_MMAP_THRESHOLD = -3
#: glibc's largest automatic mmap threshold on 64-bit systems (``DEFAULT_MMAP_THRESHOLD_MAX``)
HEAP_BLOCKS_UP_TO = 32 << 20


def retain_freed_memory(megabytes: int = 256) -> bool:
    """Let glibc keep up to ``megabytes`` of freed heap memory mapped for reuse.

    Blocks of up to 32 MiB are served from the heap (as glibc's own tuning would), so
    that they are reused rather than mapped anew.

    Parameters
    ----------
    megabytes
        Padding kept at the top of the heap, in MiB (``0 <= megabytes <= 4096``). Only
        memory the process really used stays resident; the rest is address space.

    Returns
    -------
    bool
        ``True`` if the setting was applied; ``False`` where there is no glibc
        (macOS, Windows, musl), which is harmless: those allocators cache on their own.

    Raises
    ------
    ValueError
        ``megabytes`` outside ``0..4096``.

    Examples
    --------
    >>> isinstance(retain_freed_memory(), bool)  # True on glibc Linux
    True
    >>> retain_freed_memory(8192)
    Traceback (most recent call last):
    ...
    ValueError: megabytes must be between 0 and 4096, not 8192
    """
    if not 0 <= megabytes <= 4096:
        raise ValueError(f"megabytes must be between 0 and 4096, not {megabytes}")
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)  # the running process, libc included; no ldconfig lookup
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # only glibc has M_TOP_PAD
        return False
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    padded = libc.mallopt(M_TOP_PAD, megabytes << 20)
    return bool(padded and libc.mallopt(M_MMAP_THRESHOLD, HEAP_BLOCKS_UP_TO))
