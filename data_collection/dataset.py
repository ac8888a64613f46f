"""The LeRobotDataset v3.0 layout on disk: atomic file writes, frame tables, and the reader.

Writing (the commit protocol) is `data_collection.writer.DatasetWriter`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from conf.files import write_atomically
from data_collection.layout import (
    CODEBASE_VERSION,
    DATA_PATH,
    INFO_PATH,
    LABELS_PATH,
    STAGING_DIR,
    STATS_PATH,
    TASKS_PATH,
    VIDEO_PATH,
    video_keys,
)
from data_collection.stats import STAT_KEYS, Stats, from_json
from data_collection.video_codec import decode_mp4

log = logging.getLogger(__name__)

BCZ = "bcz/"  # prefix of this project's own episode-metadata columns (LeRobot keeps unknown columns)


NUMERIC = ("float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")


class DatasetError(ValueError):
    """A dataset that cannot be opened or written as asked; the message names the file."""


def check_version(version: object, info_file: Path) -> None:
    """DatasetError unless `version` is the v3.0 layout this reader follows, saying what it is instead."""
    if version == CODEBASE_VERSION:
        return
    text = str(version)
    try:
        major = int(text.lstrip("v").split(".")[0])
    except ValueError:
        raise DatasetError(
            f"{info_file}: codebase_version {version!r} is not a LeRobot dataset version; "
            f"this project reads LeRobotDataset {CODEBASE_VERSION}"
        ) from None
    if major < 3:
        raise DatasetError(
            f"{info_file}: a LeRobotDataset {text} (the older layout, one file per episode); this project "
            f"reads {CODEBASE_VERSION}: convert it with LeRobot's "
            "`python -m lerobot.datasets.v30.convert_dataset_v21_to_v30 --repo-id=...`"
        )
    if major > 3 or text.split(".")[1:2] != ["0"]:
        raise DatasetError(
            f"{info_file}: a LeRobotDataset {text}, newer than the {CODEBASE_VERSION} this project reads"
        )


# ---------------------------------------------------------------------- atomic file writes
def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(root: Path, relative: str, write) -> None:
    """Write `root/relative` via a staged temp file and a rename; `write(path)` produces the file."""
    final = write_atomically(root / relative, write, staging=root / STAGING_DIR)
    _fsync_dir(final.parent)  # the rename itself survives a power cut


def write_bytes(root: Path, relative: str, data: bytes) -> None:
    """`data` into `root/relative`, atomically (`atomic_write`)."""
    atomic_write(root, relative, lambda p: Path(p).write_bytes(data))


def write_json(root: Path, relative: str, obj: dict) -> None:
    """`obj` as indented JSON into `root/relative`, atomically."""
    atomic_write(root, relative, lambda p: Path(p).write_text(json.dumps(obj, indent=2)))


def write_parquet(root: Path, relative: str, table: pa.Table, **options) -> None:
    """`table` as snappy parquet into `root/relative`, atomically; `options` go to `pq.write_table`."""
    atomic_write(root, relative, lambda p: pq.write_table(table, p, compression="snappy", **options))


def episode_meta_files(root: Path) -> list[Path]:
    """The meta/episodes parquet files, in order (chunk, then file)."""
    return sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))


def read_episode_rows(path: Path) -> list[dict]:
    """The rows of one meta/episodes file; an unreadable one is a DatasetError."""
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
    """The numeric `features` of `columns` as an Arrow table (no videos; a vector is a fixed-size list)."""
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
    """Columns as arrays; list columns (fixed-size, as we write them, or plain lists of one length, as
    other writers do) become 2-D."""
    out = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if pa.types.is_fixed_size_list(col.type):
            out[name] = col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), col.type.list_size)
        elif pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            sizes = pc.list_value_length(col).to_numpy(zero_copy_only=False)
            if len(sizes) and (sizes != sizes[0]).any():
                raise DatasetError(f"column {name!r} holds lists of different lengths {sorted(set(sizes))}")
            width = int(sizes[0]) if len(sizes) else 0
            out[name] = col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), width)
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


# ---------------------------------------------------------------------- locating an episode
def episode_data_file(info: dict, row: dict) -> str:
    """The data file of an episode-metadata row, by the dataset's own `data_path` template."""
    template = info.get("data_path") or DATA_PATH
    return template.format(chunk_index=row["data/chunk_index"], file_index=row["data/file_index"])


def episode_video_file(info: dict, row: dict, key: str) -> str:
    """The mp4 of camera `key` holding an episode; its frames start at `videos/<key>/from_timestamp`."""
    template = info.get("video_path") or VIDEO_PATH
    return template.format(
        video_key=key,
        chunk_index=row.get(f"videos/{key}/chunk_index", row["data/chunk_index"]),
        file_index=row.get(f"videos/{key}/file_index", row["data/file_index"]),
    )


def episode_rows_of(table: pa.Table, index: int, length: int) -> pa.Table:
    """An episode's rows of a data file (the whole table when it holds only that episode)."""
    if "episode_index" in table.column_names and table.num_rows != length:
        return table.filter(pc.equal(table.column("episode_index"), index))
    return table


# ---------------------------------------------------------------------- reading
class DatasetReader:
    """A dataset on disk: metadata, per-episode frames and videos. Committed episodes only."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"no dataset at {self.root}: the directory does not exist")
        info_file = self.root / INFO_PATH
        if not info_file.is_file():
            raise DatasetError(f"{self.root} is not a LeRobot dataset: it has no {INFO_PATH}")
        try:
            self.info = json.loads(info_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DatasetError(f"{info_file} is not valid JSON: {e}") from e
        check_version(self.info.get("codebase_version"), info_file)
        self._last_table: tuple[str, pa.Table] | None = None
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
        """Every row of meta/episodes, in episode order. LeRobot may pack any number of rows into a
        file; what must hold is that the episode indices are exactly 0..N-1."""
        rows: list[dict] = []
        for path in episode_meta_files(self.root):
            rows.extend(read_episode_rows(path))
        rows.sort(key=lambda row: int(row.get("episode_index", -1)))
        for position, row in enumerate(rows):
            if row.get("episode_index") != position:
                raise DatasetError(
                    f"episode metadata is not contiguous: meta/episodes holds episode_index "
                    f"{row.get('episode_index')} where episode {position} belongs"
                )
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
        """Frames in the dataset, over every episode."""
        return int(self.episodes[-1]["dataset_to_index"]) if self.episodes else 0

    @property
    def video_keys(self) -> list[str]:
        """The camera feature keys (dtype video)."""
        return video_keys(self.features)

    def stats(self) -> dict[str, Stats]:
        """The dataset's meta/stats.json, per feature; missing is a DatasetError."""
        path = self.root / STATS_PATH
        if not path.is_file():
            raise DatasetError(f"{path} is missing")
        return from_json(json.loads(path.read_text()))

    def episode_stats(self, index: int) -> dict[str, Stats]:
        """Statistics of episode `index` alone, per feature (from its meta/episodes row)."""
        return _stats_from_row(self.episodes[index], self.features)

    # ------------------------------------------------------------------ content
    def data_file(self, index: int) -> str:
        """The data parquet holding episode `index` (shared with other episodes in LeRobot's own files)."""
        return episode_data_file(self.info, self.episodes[index])

    def video_file(self, index: int, key: str) -> str:
        """The mp4 holding episode `index`'s frames of camera `key` (maybe shared with others)."""
        return episode_video_file(self.info, self.episodes[index], key)

    def _table(self, relative: str) -> pa.Table:
        """A data file, kept while consecutive episodes are read from it."""
        if self._last_table is None or self._last_table[0] != relative:
            try:
                self._last_table = (relative, pq.read_table(self.root / relative))
            except (pa.ArrowException, OSError) as e:
                raise DatasetError(f"cannot read {relative}: {e}") from e
        return self._last_table[1]

    def frames(self, index: int) -> dict[str, np.ndarray]:
        """The numeric per-frame columns of one episode (no images, no strings)."""
        relative = self.data_file(index)
        table = self._table(relative)
        wanted = [k for k, f in self.features.items() if f["dtype"] in NUMERIC]
        missing = sorted(set(wanted) - set(table.column_names))
        if missing:
            raise DatasetError(f"{relative} lacks the columns {missing} that meta/info.json declares")
        table = episode_rows_of(table, index, self.episodes[index]["length"])  # a shared file
        if table.num_rows != self.episodes[index]["length"]:
            raise DatasetError(
                f"{relative} holds {table.num_rows} frames of episode {index}, its metadata says "
                f"{self.episodes[index]['length']}"
            )
        return table_to_numpy(table.select(wanted))

    def video(self, index: int, key: str) -> np.ndarray:
        """Episode `index`'s frames of camera `key`: `length` frames from its `from_timestamp` on."""
        relative, length = self.video_file(index, key), self.episodes[index]["length"]
        start = float(self.episodes[index].get(f"videos/{key}/from_timestamp") or 0.0)
        frames = decode_mp4(self.root / relative, start=start, count=length)
        if len(frames) != length:
            raise DatasetError(
                f"{relative} holds {len(frames)} frames for episode {index} from {start:.3f} s; "
                f"its metadata says {length}"
            )
        return frames

    def info_of(self, index: int) -> dict:
        """This project's episode fields: task, instruction, success, source, objects, job, seed, and a
        chain's segments (a list of {task, instruction, start, end, success}; absent otherwise)."""
        row = self.episodes[index]
        info = {k[len(BCZ) :]: v for k, v in row.items() if k.startswith(BCZ)}
        if isinstance(info.get("segments"), str):
            info["segments"] = json.loads(info["segments"])
        return info

    def labels(self) -> pd.DataFrame | None:
        """The hindsight labels of `bcz relabel` (meta/labels.parquet), or None before it ran."""
        path = self.root / LABELS_PATH
        return pd.read_parquet(path) if path.is_file() else None
