"""PyBullet without its "pybullet build time" banner, which it prints from C at import.

Modules that use PyBullet import it from here (`from robot.quiet import pybullet as p`), so whichever
of them loads first, the banner never shows; modules that do not need it never load it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys


def import_pybullet_quietly() -> None:
    """Import pybullet once with stdout and stderr (where builds differ in printing it) pointed at
    /dev/null; later imports reuse the module."""
    if "pybullet" in sys.modules:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved, devnull = [os.dup(1), os.dup(2)], os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        import pybullet  # noqa: F401
    except ImportError:
        pass  # the import below says so
    finally:
        _flush_c_stdio()  # the banner may sit in C's stdio buffer until flushed, while the fds are quiet
        for fd, copy in enumerate(saved, start=1):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


def _flush_c_stdio() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


import_pybullet_quietly()
import pybullet  # noqa: E402  (loaded above, silently; this binds it here)

__all__ = ["import_pybullet_quietly", "pybullet"]
