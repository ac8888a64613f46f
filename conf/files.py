"""Files the whole project shares: where it caches what it can rebuild, and how it writes a file so that
a reader never sees half of it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_dir() -> Path:
    """The cache root ($BCZ_CACHE, else $XDG_CACHE_HOME/bcz, else ~/.cache/bcz): decoded frames,
    sentence embeddings, the low-poly robot model."""
    if os.environ.get("BCZ_CACHE"):
        return Path(os.environ["BCZ_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bcz"


def write_atomically(path: str | Path, write: Callable[[str], object], staging: Path | None = None) -> Path:
    """`write(tmp)` produces the file at a temporary name (in `staging`, default `path`'s folder, which
    must be on the same file system), flushed to disk, then renamed to `path` in one step: a crash
    leaves the old file or the new one, never a torn one, and parallel writers never read a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = staging or path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomically(path: str | Path, text: str) -> Path:
    """`text` at `path`, written atomically (`write_atomically`) unless the file already holds it, so a
    cached copy that many processes rebuild is rewritten only when it changed."""
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return path
    return write_atomically(path, lambda tmp: Path(tmp).write_text(text))
