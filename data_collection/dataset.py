"""Reading and writing datasets in the LeRobotDataset v3.0 layout, crash-safely.

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
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data_collection.episode import EncodedEpisode
from data_collection.layout import (
    CHUNKS_SIZE,
    CODEBASE_VERSION,
    DATA_PATH,
    EPISODES_PER_META_FILE,
    INFO_PATH,
    LABELS_PATH,
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
from data_collection.stats import STAT_KEYS, Stats, aggregate, array_stats, from_json, to_json
from data_collection.video import decode_mp4

log = logging.getLogger(__name__)

BCZ = "bcz/"  # prefix of this project's own episode-metadata columns (LeRobot keeps unknown columns)


class DatasetError(ValueError):
    """A dataset that cannot be opened or written as asked; the message names the file."""


# ---------------------------------------------------------------------- atomic file writes
def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(root: Path, relative: str, write) -> None:
    """Write `root/relative` via a staged temp file and a rename; `write(path)` produces the file."""
    final = root / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = root / STAGING_DIR
    staging.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=staging, suffix=Path(relative).suffix)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes(root: Path, relative: str, data: bytes) -> None:
    atomic_write(root, relative, lambda p: Path(p).write_bytes(data))


def write_json(root: Path, relative: str, obj: dict) -> None:
    atomic_write(root, relative, lambda p: Path(p).write_text(json.dumps(obj, indent=2)))


def write_parquet(root: Path, relative: str, table: pa.Table, **options) -> None:
    atomic_write(root, relative, lambda p: pq.write_table(table, p, compression="snappy", **options))


def episode_meta_files(root: Path) -> list[Path]:
    return sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))


def read_episode_rows(path: Path) -> list[dict]:
    try:
        return pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError) as e:
        raise DatasetError(f"cannot read episode metadata {path}: {e}") from e


# ---------------------------------------------------------------------- parquet conversions
def _arrow_type(feature: dict) -> pa.DataType:
    dtype = {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_()}
    if feature["dtype"] not in dtype:
        raise DatasetError(f"feature dtype {feature['dtype']!r} is not supported; valid: {', '.join(dtype)}")
    base = dtype[feature["dtype"]]
    return base if list(feature["shape"]) == [1] else pa.list_(base, int(np.prod(feature["shape"])))


def frames_table(columns: dict[str, np.ndarray], features: dict) -> pa.Table:
    arrays, fields = [], []
    for key, feature in features.items():
        if feature["dtype"] == "video":
            continue
        t = _arrow_type(feature)
        values = np.asarray(columns[key])
        if pa.types.is_fixed_size_list(t):
            flat = pa.array(values.reshape(len(values), -1).reshape(-1), type=t.value_type)
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, t.list_size))
        else:
            arrays.append(pa.array(values.reshape(-1), type=t))
        fields.append(pa.field(key, t))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def table_to_numpy(table: pa.Table) -> dict[str, np.ndarray]:
    out = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if pa.types.is_fixed_size_list(col.type):
            out[name] = col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), col.type.list_size)
        else:
            out[name] = col.to_numpy(zero_copy_only=False)
    return out


def _stats_columns(stats: dict[str, Stats]) -> dict[str, list]:
    return {
        f"stats/{feature}/{k}": np.asarray(s[k]).tolist() for feature, s in stats.items() for k in STAT_KEYS
    }


def _stats_from_row(row: dict, features: dict) -> dict[str, Stats]:
    out = {}
    for feature in features:
        if f"stats/{feature}/mean" in row:
            out[feature] = {k: np.asarray(row[f"stats/{feature}/{k}"]) for k in STAT_KEYS}
    return out


def _tasks_frame(tasks: list[str]) -> pa.Table:
    """meta/tasks.parquet as LeRobot writes it: the task string is a pandas index named "task"."""
    df = pd.DataFrame(
        {"task_index": np.arange(len(tasks), dtype=np.int64)}, index=pd.Index(tasks, name="task")
    )
    return pa.Table.from_pandas(df)


# ---------------------------------------------------------------------- reading
class DatasetReader:
    """A dataset on disk: metadata, per-episode frames and videos. Committed episodes only."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"no dataset at {self.root}: the directory does not exist")
        info_file = self.root / INFO_PATH
        if not info_file.is_file():
            raise DatasetError(f"{self.root} is not a dataset: {info_file} is missing")
        try:
            self.info = json.loads(info_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DatasetError(f"{info_file} is not valid JSON: {e}") from e
        version = self.info.get("codebase_version")
        if version != CODEBASE_VERSION:
            raise DatasetError(
                f"{info_file}: codebase_version {version!r}; this reader handles {CODEBASE_VERSION}"
            )
        self.features: dict = self.info["features"]
        self.fps: float = self.info["fps"]
        self.episodes = self._load_episodes()
        self.tasks = self._load_tasks()
        if len(self.episodes) != self.info.get("total_episodes"):
            log.warning(
                "%s lists %s episodes but %d are committed; using the committed ones (a writer or "
                "`bcz dataset check --repair` rewrites it)",
                info_file,
                self.info.get("total_episodes"),
                len(self.episodes),
            )

    def _load_episodes(self) -> list[dict]:
        rows: list[dict] = []
        for path in episode_meta_files(self.root):
            for row in read_episode_rows(path):
                index = len(rows)
                where = path.relative_to(self.root).as_posix()
                if row.get("episode_index") != index or where != episode_meta_path(index):
                    raise DatasetError(
                        f"episode metadata is not contiguous: {where} holds episode_index "
                        f"{row.get('episode_index')}, but episode {index} belongs in "
                        f"{episode_meta_path(index)}"
                    )
                rows.append(row)
        return rows

    def _load_tasks(self) -> list[str]:
        path = self.root / TASKS_PATH
        if not path.is_file():
            if self.episodes:
                raise DatasetError(f"{path} is missing but {len(self.episodes)} episodes are committed")
            return []
        try:
            df = pd.read_parquet(path)
        except (pa.ArrowException, OSError) as e:
            raise DatasetError(f"cannot read {path}: {e}") from e
        return [str(t) for t in df.sort_values("task_index").index]

    # ------------------------------------------------------------------ totals
    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return int(self.episodes[-1]["dataset_to_index"]) if self.episodes else 0

    @property
    def video_keys(self) -> list[str]:
        return video_keys(self.features)

    def stats(self) -> dict[str, Stats]:
        path = self.root / STATS_PATH
        if not path.is_file():
            raise DatasetError(f"{path} is missing")
        return from_json(json.loads(path.read_text()))

    def episode_stats(self, index: int) -> dict[str, Stats]:
        return _stats_from_row(self.episodes[index], self.features)

    # ------------------------------------------------------------------ content
    def frames(self, index: int) -> dict[str, np.ndarray]:
        """The per-frame columns of one episode (no images)."""
        path = self.root / data_path(index)
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as e:
            raise DatasetError(f"cannot read episode {index} data {path}: {e}") from e
        expected = [k for k, f in self.features.items() if f["dtype"] != "video"]
        if sorted(table.column_names) != sorted(expected):
            raise DatasetError(
                f"{path} has columns {sorted(table.column_names)}; the dataset's features are "
                f"{sorted(expected)}"
            )
        if table.num_rows != self.episodes[index]["length"]:
            raise DatasetError(
                f"{path} holds {table.num_rows} frames, its metadata says {self.episodes[index]['length']}"
            )
        return table_to_numpy(table)

    def video(self, index: int, key: str) -> np.ndarray:
        frames = decode_mp4(self.root / video_path(key, index))
        if len(frames) != self.episodes[index]["length"]:
            raise DatasetError(
                f"{video_path(key, index)} holds {len(frames)} frames, episode {index} has "
                f"{self.episodes[index]['length']}"
            )
        return frames

    def info_of(self, index: int) -> dict:
        """This project's episode fields: task, instruction, success, source, objects, job, seed."""
        row = self.episodes[index]
        return {k[len(BCZ) :]: v for k, v in row.items() if k.startswith(BCZ)}

    def labels(self) -> pd.DataFrame | None:
        path = self.root / LABELS_PATH
        return pd.read_parquet(path) if path.is_file() else None


# ---------------------------------------------------------------------- writing
class DatasetWriter:
    """Appends episodes to a dataset, one atomic commit each. One writer per dataset at a time."""

    def __init__(
        self, root: str | Path, features: dict, fps: float, robot_type: str, resume: bool = False
    ) -> None:
        self.root = Path(root)
        self.features = features
        self.fps = fps
        self.robot_type = robot_type
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
            self._stats = [existing.episode_stats(i) for i in range(existing.num_episodes)]
        else:
            if self.root.exists() and any(self.root.iterdir()):
                raise DatasetError(
                    f"{self.root} exists, is not empty and holds no dataset (no {INFO_PATH}); "
                    "choose an empty or new directory"
                )
            self.episodes, self.tasks, self._stats = [], [], []
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
        if episode.info.instruction not in self.tasks:
            self.tasks.append(episode.info.instruction)
            write_parquet(self.root, TASKS_PATH, _tasks_frame(self.tasks))
        task_index = self.tasks.index(episode.info.instruction)
        columns = {
            **episode.columns,
            "timestamp": (np.arange(n) / self.fps).astype(np.float32),
            "frame_index": np.arange(n, dtype=np.int64),
            "episode_index": np.full(n, index, dtype=np.int64),
            "index": np.arange(start, start + n, dtype=np.int64),
            "task_index": np.full(n, task_index, dtype=np.int64),
        }
        stats = {
            **episode.stats,
            **{k: array_stats(columns[k]) for k in ("episode_index", "index", "task_index")},
        }
        write_parquet(self.root, data_path(index), frames_table(columns, self.features))
        for key, mp4 in episode.videos.items():
            write_bytes(self.root, video_path(key, index), mp4)
        row = self._episode_row(index, start, n, episode, stats)
        # The commit point: the episode's metadata file, rewritten whole with one more row.
        group = [*self.episodes[meta_group(index) * EPISODES_PER_META_FILE :], row]
        write_parquet(
            self.root,
            episode_meta_path(index),
            pa.Table.from_pylist(group),
            store_schema=False,
            write_statistics=False,
        )
        self.episodes.append(row)
        self._stats.append(stats)
        self._write_summary()
        return index

    def _episode_row(self, index: int, start: int, n: int, episode: EncodedEpisode, stats: dict) -> dict:
        chunk, file = chunk_and_file(index)
        row = {
            "episode_index": index,
            "tasks": [episode.info.instruction],
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
        row |= {"meta/episodes/chunk_index": chunk, "meta/episodes/file_index": file}
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
        return row

    def _write_summary(self) -> None:
        """Rewrite the derived files: meta/stats.json and meta/info.json."""
        if self._stats:
            keys = self._stats[0].keys()
            write_json(
                self.root, STATS_PATH, to_json({k: aggregate([s[k] for s in self._stats]) for k in keys})
            )
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
