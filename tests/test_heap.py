"""The C heap of a long-running robot process (`robot.heap`): freed memory goes back."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from pathlib import Path

import pytest

from robot.heap import return_freed_memory

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator and /proc are Linux's")


def _resident_anon_mb() -> float:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(status["RssAnon"].split()[0]) / 1024


def test_a_new_scene_gives_freed_heap_back():
    """What a scene frees in the middle of the heap stays resident until `return_freed_memory`."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(4096) for _ in range(8000)]  # 32 MB of small blocks, each touched
    for block in blocks:
        ctypes.memset(block, 1, 4096)
    for block in blocks[:-1]:  # the last one stays: the heap's top cannot shrink past it by itself
        libc.free(block)
    before = _resident_anon_mb()
    return_freed_memory()
    after = _resident_anon_mb()
    libc.free(blocks[-1])
    assert before - after > 20, (before, after)
