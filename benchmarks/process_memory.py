"""Resident memory of a process, as the benchmarks that watch memory read it (control_loop, soak,
scene_memory). No imports beyond the standard library: a benchmark measuring memory must not pull in
what it measures."""

from __future__ import annotations

import resource
from pathlib import Path


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory (VmRSS) of process `pid`, this one by default, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    if pid == "self":  # no VmRSS line: this process's peak instead
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return float("nan")  # another process with no memory left (a zombie)
