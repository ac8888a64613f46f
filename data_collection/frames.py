"""The training-side view of a dataset: every frame decoded once into memory-mapped arrays.

Videos are decoded on first use into a cache directory (raw uint8 arrays, one per camera) and the
numeric columns into .npy files; later runs map them in milliseconds, and a dataset that grew (a
resumed collection) only has its new episodes decoded. Runs started together on one dataset build
its cache one at a time (a lock file): two appending to one file at once interleave their frames,
and every image then belongs to another frame's actions. A cache whose image files do not hold
exactly the dataset's frames is rebuilt. Training then reads frames at memory speed
instead of waiting on a video decoder. Normalization statistics come from meta/stats.json.

The cache lives under the user's cache directory (`$BCZ_CACHE`, else `$XDG_CACHE_HOME/bcz`, else
`~/.cache/bcz`), one folder per dataset keyed by its resolved path, never inside the dataset (which
may be read-only or shared) unless a `cache_dir` there is asked for.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import numpy as np
from rich.progress import Progress

from conf.files import cache_dir
from data_collection.dataset import NUMERIC, DatasetReader, atomic_write, write_json
from data_collection.stats import Stats


def default_cache_dir(root: Path) -> Path:
    """Where the frames of the dataset at `root` are cached unless told otherwise."""
    resolved = Path(root).resolve()
    key = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    return cache_dir() / "frames" / f"{resolved.name}-{key}"


def _fingerprint(row: dict) -> str:
    keys = ("length", "dataset_from_index", "tasks", "bcz/job", "bcz/seed", "stats/action/mean")
    return hashlib.sha1(json.dumps([row.get(k) for k in keys], default=str).encode()).hexdigest()[:16]


class FrameCache:
    """All frames of a dataset as arrays: `images[key]` (N, H, W, 3) uint8 and `columns[name]` (N, ...)."""

    def __init__(self, root: str | Path, cache_dir: str | Path | None = None, progress: bool = True) -> None:
        self.reader = DatasetReader(root)
        self.dir = Path(cache_dir) if cache_dir else default_cache_dir(self.reader.root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.column_names = [  # every numeric per-frame column the dataset has
            k for k, f in self.reader.features.items() if f["dtype"] in NUMERIC
        ]
        self.fingerprints = [_fingerprint(row) for row in self.reader.episodes]
        self.episode_lengths = np.array([row["length"] for row in self.reader.episodes], dtype=np.int64)
        self.episode_starts = np.concatenate([[0], np.cumsum(self.episode_lengths)[:-1]]).astype(np.int64)
        with self._build_lock():  # one builder at a time; the others wait, then map what it built
            self._update(progress)
            n = self.reader.num_frames
            self.images: dict[str, np.ndarray] = {}
            for key in self.reader.video_keys:
                h, w, c = self.reader.features[key]["shape"]
                self.images[key] = (
                    np.memmap(self._image_file(key), np.uint8, "r", shape=(n, h, w, c))
                    if n
                    else np.zeros((0, h, w, c), np.uint8)
                )
            self.columns = (
                {name: np.load(self.dir / f"{name}.npy", mmap_mode="r") for name in self.column_names}
                if n
                else {}
            )

    def __len__(self) -> int:
        return self.reader.num_frames

    @property
    def stats(self) -> dict[str, Stats]:
        return self.reader.stats()

    def _image_file(self, key: str) -> Path:
        return self.dir / f"{key}.u8"

    @contextmanager
    def _build_lock(self) -> Iterator[None]:
        """Held while the cache is checked, built and mapped; a cache directory this user cannot
        write (a shared, already built one) is read without it."""
        with ExitStack() as held:
            with suppress(OSError):
                fcntl.flock(held.enter_context(open(self.dir / "build.lock", "w")), fcntl.LOCK_EX)
            yield

    def _frame_bytes(self, key: str) -> int:
        return int(np.prod(self.reader.features[key]["shape"]))

    def _manifest(self) -> list[str]:
        """The fingerprints of the episodes cached, in order; [] when the image files disagree with it."""
        path = self.dir / "manifest.json"
        try:
            cached = json.loads(path.read_text())["episodes"]
        except (OSError, json.JSONDecodeError, KeyError):
            return []
        frames = int(self.episode_lengths[: len(cached)].sum())
        for key in self.reader.video_keys:  # images of a complete build: exactly these frames, no more
            image = self._image_file(key)
            if not image.is_file() or image.stat().st_size != frames * self._frame_bytes(key):
                return []
        return cached

    def _update(self, progress: bool) -> None:
        """Decode the episodes not cached yet; rebuild from scratch if cached episodes changed."""
        cached = self._manifest()
        if cached != self.fingerprints[: len(cached)]:
            cached = []  # the dataset was rewritten (e.g. repaired): start over
        if len(cached) == len(self.fingerprints) and all(
            (self.dir / f"{c}.npy").exists() for c in self.column_names
        ):
            return
        start = int(self.episode_lengths[: len(cached)].sum())  # frames kept
        for key in self.reader.video_keys:  # keep the cached episodes' frames only (none, when rebuilding)
            path = self._image_file(key)
            with open(path, "ab") as f:
                f.truncate(start * self._frame_bytes(key))
        todo = range(len(cached), len(self.fingerprints))
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task(f"decoding {len(todo)} episodes into {self.dir}", total=len(todo))
            for index in todo:
                for key in self.reader.video_keys:
                    frames = self.reader.video(index, key)
                    with open(self._image_file(key), "ab") as f:
                        f.write(np.ascontiguousarray(frames).tobytes())
                        f.flush()
                        os.fsync(f.fileno())
                bar.advance(task)
        columns: dict[str, list[np.ndarray]] = {c: [] for c in self.column_names}
        for index in range(len(self.fingerprints)):
            frames = self.reader.frames(index)
            for c in self.column_names:
                columns[c].append(frames[c])
        for c in self.column_names:  # a new file under the name: runs that mapped the old one keep it
            array = np.concatenate(columns[c]) if columns[c] else np.zeros(0)
            atomic_write(self.dir, f"{c}.npy", lambda path, array=array: np.save(path, array))
        write_json(self.dir, "manifest.json", {"episodes": self.fingerprints})
