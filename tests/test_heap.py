"""The C heap of a long-running robot process (`robot.heap`): freed memory goes back, threads share arenas."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
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


# In a fresh interpreter: does a new thread's first block come from the main heap ([heap], the one
# arena there is before threads), or from an arena of its own?
THREAD_BLOCK = """
import ctypes, ctypes.util, sys, threading
from robot.heap import limit_arenas
if sys.argv[1] == "limited":
    limit_arenas(1)
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
where = []
threading.Thread(target=lambda: where.append(libc.malloc(200))).start()
while not where:
    pass
for line in open("/proc/self/maps"):
    low, high = (int(x, 16) for x in line.split()[0].split("-"))
    if low <= where[0] < high:
        print("main heap" if line.rstrip().endswith("[heap]") else "own arena")
"""


@pytest.mark.parametrize("mode, heap", [("limited", "main heap"), ("default", "own arena")])
def test_limited_arenas_make_threads_share_the_heap(mode: str, heap: str):
    """With `limit_arenas(1)` a new thread allocates from the heap every thread shares; by default glibc
    gives it an arena of its own, which keeps its own peak."""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", THREAD_BLOCK, mode], capture_output=True, text=True, cwd=root)
    assert out.stdout.strip() == heap, out.stderr
