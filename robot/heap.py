"""The C heap of a process that runs for hours (`bcz run`): freed memory handed back.

glibc keeps what a process frees for reuse. A new scene frees the old one's many small blocks, and a
running robot grew 15 MB over its first ten scenes until they were handed back (docs/benchmarks.md,
"Soak"). Nothing happens where the C library is not glibc (macOS, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018  (glibc's; absent elsewhere)
    except (OSError, AttributeError):
        return None
    return libc


def return_freed_memory() -> None:
    """Give what the heap holds free back to the system (all arenas; under 0.1 ms after a new scene)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
