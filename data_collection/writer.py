"""Appending episodes to a LeRobotDataset v3.0 dataset, crash-safely.

Commit protocol for one episode (the writer is the only process writing a dataset):
  1. data parquet and mp4s are written under .staging/, fsynced, and renamed into place;
  2. meta/tasks.parquet gains the instruction if it is new (atomic replace);
  3. the episode's metadata file is renamed into place: this is the commit point;
  4. meta/stats.json and meta/info.json are rewritten (atomic replace).
Killing the process at any moment leaves every committed episode readable. Files of an episode that
did not reach step 3 are ignored by readers and removed when a writer reopens the dataset; if the
kill fell between steps 3 and 4, readers recompute the totals and the next writer rewrites them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa

from data_collection.dataset import (
    BCZ,
    DatasetError,
    DatasetReader,
    _stats_columns,
    _tasks_frame,
    frames_table,
    write_bytes,
    write_json,
    write_parquet,
)
from data_collection.episode import EncodedEpisode
from data_collection.layout import (
    CHUNKS_SIZE,
    CODEBASE_VERSION,
    DATA_PATH,
    EPISODES_PER_META_FILE,
    INFO_PATH,
    STAGING_DIR,
    STATS_PATH,
    TASKS_PATH,
    VIDEO_PATH,
    chunk_and_file,
    data_path,
    episode_meta_path,
    frame_columns,
    meta_group,
    video_keys,
    video_path,
)
from data_collection.stats import Stats, StatsSum, array_stats, to_json

log = logging.getLogger(__name__)


class DatasetWriter:
    """Appends episodes to a dataset, one atomic commit each. One writer per dataset at a time."""

    def __init__(
        self, root: str | Path, features: dict, fps: float, robot_type: str, resume: bool = False
    ) -> None:
        self.root = Path(root)
        self.features = features
        self.fps = fps
        self.robot_type = robot_type
        self._totals: dict[str, StatsSum] = {}  # per feature, over every committed episode
        if (self.root / INFO_PATH).exists():
            existing = DatasetReader(self.root)
            if not resume:
                raise DatasetError(
                    f"{self.root} already holds a dataset ({existing.num_episodes} episodes); "
                    "resume it (resume=true / --resume) or choose another output directory"
                )
            self._check_features(existing.features)
            self.episodes = existing.episodes
            self.tasks = existing.tasks
            for i in range(existing.num_episodes):
                self._add_stats(existing.episode_stats(i))
        else:
            if self.root.exists() and any(self.root.iterdir()):
                raise DatasetError(
                    f"{self.root} exists, is not empty and holds no dataset (no {INFO_PATH}); "
                    "choose an empty or new directory"
                )
            self.episodes, self.tasks = [], []
        self._remove_uncommitted()
        self._write_summary()

    def _check_features(self, existing: dict) -> None:
        if existing == self.features:
            return
        problems = []
        for key in sorted(set(existing) | set(self.features)):
            if key not in existing:
                problems.append(f"{key} is new")
            elif key not in self.features:
                problems.append(f"{key} is missing")
            elif existing[key] != self.features[key]:
                a, b = existing[key], self.features[key]
                what = "shape" if a.get("shape") != b.get("shape") else "definition"
                problems.append(f"{key} {what} {a.get('shape')} in the dataset vs {b.get('shape')} now")
        raise DatasetError(
            f"cannot add to {self.root}: its features differ from this run's: " + "; ".join(problems)
        )

    def _remove_uncommitted(self) -> None:
        """Delete staged temp files and the files of episodes that never reached their commit."""
        shutil.rmtree(self.root / STAGING_DIR, ignore_errors=True)
        n = len(self.episodes)
        groups = meta_group(n - 1) + 1 if n else 0
        patterns = [
            ("data/chunk-*/file-*.parquet", n),
            ("meta/episodes/chunk-*/file-*.parquet", groups),
            *[(f"videos/{k}/chunk-*/file-*.mp4", n) for k in video_keys(self.features)],
        ]
        for pattern, committed in patterns:
            for path in self.root.glob(pattern):
                chunk = int(path.parent.name.split("-")[1])
                if chunk * CHUNKS_SIZE + int(path.stem.split("-")[1]) >= committed:
                    log.warning("removing %s: it holds nothing committed", path)
                    path.unlink()

    @property
    def num_frames(self) -> int:
        return int(self.episodes[-1]["dataset_to_index"]) if self.episodes else 0

    def jobs(self) -> set[int]:
        """Collection job ids already committed (for resuming a collection)."""
        return {int(e[f"{BCZ}job"]) for e in self.episodes if e.get(f"{BCZ}job", -1) >= 0}

    def add(self, episode: EncodedEpisode) -> int:
        """Commit one episode; returns its episode index."""
        missing = set(frame_columns(self.features)) - set(episode.columns)
        if missing or set(episode.videos) != set(video_keys(self.features)):
            raise DatasetError(
                f"episode does not match the dataset's features: missing columns {sorted(missing)}, "
                f"videos {sorted(episode.videos)} vs {video_keys(self.features)}"
            )
        index, start, n = len(self.episodes), self.num_frames, len(episode)
        said = episode.said or [episode.info.instruction] * n  # a chain's frames each carry their own
        instructions = list(dict.fromkeys(said))
        if any(text not in self.tasks for text in instructions):
            self.tasks += [text for text in instructions if text not in self.tasks]
            write_parquet(self.root, TASKS_PATH, _tasks_frame(self.tasks))
        task_of = {text: self.tasks.index(text) for text in instructions}
        columns = {
            **episode.columns,
            "timestamp": (np.arange(n) / self.fps).astype(np.float32),
            "frame_index": np.arange(n, dtype=np.int64),
            "episode_index": np.full(n, index, dtype=np.int64),
            "index": np.arange(start, start + n, dtype=np.int64),
            "task_index": np.array([task_of[text] for text in said], dtype=np.int64),
        }
        stats = {
            **episode.stats,
            **{k: array_stats(columns[k]) for k in ("episode_index", "index", "task_index")},
        }
        write_parquet(self.root, data_path(index), frames_table(columns, self.features))
        for key, mp4 in episode.videos.items():
            write_bytes(self.root, video_path(key, index), mp4)
        row = self._episode_row(index, start, n, episode, stats, instructions)
        # The commit point: the episode's metadata file, rewritten whole with one more row.
        group = [*self.episodes[meta_group(index) * EPISODES_PER_META_FILE :], row]
        keys = dict.fromkeys(k for r in group for k in r)  # every row's columns (a chain's segments too)
        write_parquet(
            self.root,
            episode_meta_path(index),
            pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in group]),
            store_schema=False,
            write_statistics=False,
        )
        self.episodes.append(row)
        self._add_stats(stats)
        self._write_summary()
        return index

    def _episode_row(
        self, index: int, start: int, n: int, episode: EncodedEpisode, stats: dict, tasks: list[str]
    ) -> dict:
        chunk, file = chunk_and_file(index)
        row = {
            "episode_index": index,
            "tasks": tasks,
            "length": n,
            "data/chunk_index": chunk,
            "data/file_index": file,
            "dataset_from_index": start,
            "dataset_to_index": start + n,
        }
        for key in video_keys(self.features):
            row |= {
                f"videos/{key}/chunk_index": chunk,
                f"videos/{key}/file_index": file,
                f"videos/{key}/from_timestamp": 0.0,
                f"videos/{key}/to_timestamp": n / self.fps,
            }
        row |= _stats_columns(stats)
        meta_chunk, meta_file = divmod(meta_group(index), CHUNKS_SIZE)  # the file this row is written to
        row |= {"meta/episodes/chunk_index": meta_chunk, "meta/episodes/file_index": meta_file}
        info = episode.info
        row |= {
            f"{BCZ}task": info.task,
            f"{BCZ}instruction": info.instruction,
            f"{BCZ}success": bool(info.success),
            f"{BCZ}source": info.source,
            f"{BCZ}objects": list(info.objects),
            f"{BCZ}job": int(info.job),
            f"{BCZ}seed": int(info.seed),
        }
        if info.segments is not None:  # a chain: its instructions' frame ranges, as JSON text
            row[f"{BCZ}segments"] = json.dumps(info.segments)
        return row

    def _add_stats(self, stats: dict[str, Stats]) -> None:
        for key, s in stats.items():
            self._totals.setdefault(key, StatsSum()).add(s)

    def _write_summary(self) -> None:
        """Rewrite the derived files: meta/stats.json and meta/info.json."""
        if self._totals:
            write_json(self.root, STATS_PATH, to_json({k: t.result() for k, t in self._totals.items()}))
        has_video = bool(video_keys(self.features))
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": len(self.episodes),
            "total_frames": self.num_frames,
            "total_tasks": len(self.tasks),
            "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": 100,
            "video_files_size_in_mb": 200,
            "fps": int(self.fps) if float(self.fps).is_integer() else self.fps,
            "splits": {"train": f"0:{len(self.episodes)}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if has_video else None,
            "features": self.features,
        }
        write_json(self.root, INFO_PATH, info)
        with contextlib.suppress(OSError):  # leave no empty staging directory behind
            (self.root / STAGING_DIR).rmdir()
