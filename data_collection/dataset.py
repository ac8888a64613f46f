"""The LeRobotDataset v3.0 layout on disk: atomic file writes, frame tables, and the reader.

Writing (the commit protocol) is `data_collection.writer.DatasetWriter`.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data_collection.layout import (
    CODEBASE_VERSION,
    INFO_PATH,
    LABELS_PATH,
    STAGING_DIR,
    STATS_PATH,
    TASKS_PATH,
    data_path,
    episode_meta_path,
    video_keys,
    video_path,
)
from data_collection.stats import STAT_KEYS, Stats, from_json
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
