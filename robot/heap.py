"""The C heap of a process that runs for hours (`bcz run`): freed memory handed back, few arenas.

glibc keeps what a process frees for reuse, and gives each new thread an arena of its own (up to 8 per
core) that keeps its own peak. A running robot's threads (control loop, planner, page, terminal) each
held theirs: the soak's memory growth was in those arenas (docs/benchmarks.md, "Soak"). Both calls do
nothing where the C library is not glibc (macOS, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_ARENA_MAX = -8  # mallopt's parameter number (glibc malloc.h)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim, libc.mallopt  # noqa: B018  (glibc's; absent elsewhere)
    except (OSError, AttributeError):
        return None
    return libc


def return_freed_memory() -> None:
    """Give what the heap holds free back to the system (all arenas; under 0.1 ms after a new scene)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def limit_arenas(count: int = 2) -> None:
    """Let at most `count` arenas serve the threads started from now on, so they share what is freed
    instead of each keeping its own peak. Call it first, before the threads start."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, count)
