"""`bcz dataset check PATH [--repair]`: validate a dataset file by file; repair keeps what is readable.

Repair rebuilds the readable episodes into a new directory through the normal writer (so the result
obeys the same commit rules), then swaps it in; the original is kept beside it as PATH.broken-<time>
until you delete it: nothing already written is lost.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from data_collection.dataset import (
    BCZ,
    DatasetError,
    DatasetReader,
    _stats_from_row,
    check_version,
    episode_data_file,
    episode_meta_files,
    episode_rows_of,
    episode_video_file,
    read_episode_rows,
    table_to_numpy,
)
from data_collection.episode import EncodedEpisode, EpisodeInfo
from data_collection.layout import (
    CHUNKS_SIZE,
    DEFAULT_FEATURES,
    INFO_PATH,
    STAGING_DIR,
    STATS_PATH,
    TASKS_PATH,
    data_path,
    episode_meta_path,
    frame_columns,
    meta_group,
    video_keys,
    video_path,
)
from data_collection.video_codec import VideoError, decode_mp4
from data_collection.writer import DatasetWriter


@dataclass
class DatasetToolConfig:
    action: str = "check"  # check (repair with repair=true / --repair)
    path: str | None = None
    repair: bool = False
    videos: bool = True  # decode every video (slower, catches corrupt mp4s)


@dataclass
class Problem:
    file: str
    what: str
    episode: int | None = None  # the episode it breaks, if it breaks one


@dataclass
class Report:
    root: Path
    episodes: int  # committed episode-metadata files found
    broken: set[int]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _episode_rows(root: Path) -> tuple[dict[int, dict], list[Problem]]:
    """Every readable episode-metadata row by episode index, and the files that could not be read."""
    rows: dict[int, dict] = {}
    problems: list[Problem] = []
    data_files = {chunk_file_index(p) for p in root.glob("data/chunk-*/file-*.parquet")}
    for path in episode_meta_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            found = read_episode_rows(path)
        except DatasetError as e:
            group = chunk_file_index(path)
            lost = sorted(i for i in data_files if meta_group(i) == group)
            problems += [Problem(rel, f"unreadable episode metadata: {e}", i) for i in lost] or [
                Problem(rel, str(e))
            ]
            continue
        for row in found:  # LeRobot packs any number of rows into a file; each episode has one row
            index = row.get("episode_index")
            if not isinstance(index, int) or index < 0:
                problems.append(Problem(rel, f"holds a row with episode_index {index!r}"))
            elif index in rows:
                problems.append(Problem(rel, f"holds a second row for episode {index}", index))
            else:
                rows[index] = row
    return rows, problems


def chunk_file_index(path: Path) -> int:
    """The running file number of .../chunk-C/file-F.ext: C * CHUNKS_SIZE + F."""
    return int(path.parent.name.split("-")[1]) * CHUNKS_SIZE + int(path.stem.split("-")[1])


def check(root: str | Path, videos: bool = True) -> Report:
    """Every problem found, each naming its file. Raises DatasetError when there is no dataset at all."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"no dataset at {root}: the directory does not exist")
    info_file = root / INFO_PATH
    if not info_file.is_file():
        raise DatasetError(f"{root} is not a LeRobot dataset: it has no {INFO_PATH}")
    try:
        info = json.loads(info_file.read_text())
        check_version(info.get("codebase_version"), info_file)  # another version is not damage
        features = info["features"]
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, KeyError) as e:
        raise DatasetError(
            f"{info_file} is missing or unreadable ({e}); it cannot be repaired automatically"
        ) from e
    rows, problems = _episode_rows(root)
    lost = {p.episode for p in problems if p.episode is not None}
    count = max([*rows, *lost], default=-1) + 1
    for index in range(count):
        if index not in rows and index not in lost:
            problems.append(Problem(episode_meta_path(index), f"no metadata row for episode {index}", index))
    expected_columns = sorted(k for k, f in features.items() if f["dtype"] != "video")
    tables: dict = {}
    for index, row in sorted(rows.items()):
        problems += _check_episode(
            root, info, index, row, expected_columns, video_keys(features), videos, tables
        )
    try:
        tasks = pq.read_table(root / TASKS_PATH).column("task_index").to_pylist() if count else []
        if tasks != list(range(len(tasks))):
            problems.append(Problem(TASKS_PATH, "task_index is not 0..n-1"))
    except (pa.ArrowException, OSError, KeyError) as e:
        problems.append(Problem(TASKS_PATH, f"unreadable: {e}"))
    if info.get("total_episodes") != count:
        problems.append(
            Problem(
                INFO_PATH, f"total_episodes {info.get('total_episodes')} but {count} episodes are committed"
            )
        )
    try:
        json.loads((root / STATS_PATH).read_text())
    except (OSError, json.JSONDecodeError) as e:
        if count:
            problems.append(Problem(STATS_PATH, f"missing or unreadable: {e}"))
    if (root / STAGING_DIR).exists() and any((root / STAGING_DIR).iterdir()):
        problems.append(Problem(STAGING_DIR, "leftover files of an interrupted write"))
    broken = {p.episode for p in problems if p.episode is not None}
    return Report(root, count, broken, problems)


def _check_episode(
    root: Path,
    info: dict,
    index: int,
    row: dict,
    columns: list[str],
    keys: list[str],
    videos: bool,
    tables: dict,
) -> list[Problem]:
    """Problems of one episode, found where its metadata row says it is (several episodes may share a
    data file and an mp4, as in LeRobot's own datasets). `tables` keeps the last data file read."""
    problems = []
    try:
        rel = episode_data_file(info, row)
        if rel not in tables:
            tables.clear()
            tables[rel] = pq.read_table(root / rel)
        table = episode_rows_of(tables[rel], index, row["length"])
        missing = sorted(set(columns) - set(table.column_names))
        if missing:
            problems.append(Problem(rel, f"lacks the columns {missing} of the features", index))
        elif table.num_rows != row["length"]:
            problems.append(Problem(rel, f"{table.num_rows} frames, metadata says {row['length']}", index))
        else:
            cols = table_to_numpy(table.select(["episode_index", "index"]))
            if not (
                np.all(cols["episode_index"] == index)
                and np.array_equal(
                    cols["index"], np.arange(row["dataset_from_index"], row["dataset_to_index"])
                )
            ):
                problems.append(
                    Problem(rel, "episode_index / index columns disagree with the metadata", index)
                )
    except KeyError as e:
        problems.append(Problem(episode_meta_path(index), f"metadata row lacks {e}", index))
    except (pa.ArrowException, OSError) as e:
        problems.append(Problem(rel, f"unreadable data: {e}", index))
    for key in keys:
        vrel = episode_video_file(info, row, key)
        if not (root / vrel).is_file():
            problems.append(Problem(vrel, "missing video", index))
        elif videos:
            start = float(row.get(f"videos/{key}/from_timestamp") or 0.0)
            try:
                n = len(decode_mp4(root / vrel, start=start, count=row["length"]))
                if n != row["length"]:
                    problems.append(
                        Problem(vrel, f"{n} frames from {start:.3f} s, metadata says {row['length']}", index)
                    )
            except VideoError as e:
                problems.append(Problem(vrel, str(e), index))
    return problems


def repair(report: Report) -> Path:
    """Rebuild the dataset from its intact episodes; returns where the original was moved."""
    root = report.root
    info = json.loads((root / INFO_PATH).read_text())
    features = info["features"]
    keep = [i for i in range(report.episodes) if i not in report.broken]
    rebuilt = root.with_name(f".{root.name}.repairing")
    if rebuilt.exists():
        raise DatasetError(f"{rebuilt} exists (an earlier repair was interrupted); delete it and run again")
    writer = DatasetWriter(rebuilt, features, info["fps"], info.get("robot_type") or "unknown")
    wanted = frame_columns(features)
    rows, _ = _episode_rows(root)
    for index in keep:
        row = rows[index]
        columns = table_to_numpy(pq.read_table(root / data_path(index), columns=wanted))
        stats = {
            k: v
            for k, v in _stats_from_row(row, features).items()
            if k not in DEFAULT_FEATURES or k in ("timestamp", "frame_index")
        }
        videos = {k: (root / video_path(k, index)).read_bytes() for k in video_keys(features)}
        fields = {k[len(BCZ) :]: v for k, v in row.items() if k.startswith(BCZ)}
        instruction = fields.get("instruction") or row["tasks"][0]
        segments = json.loads(fields["segments"]) if fields.get("segments") else None  # a chain
        episode_info = EpisodeInfo(
            instruction,
            fields.get("task", ""),
            bool(fields.get("success", False)),
            fields.get("source", "expert"),
            list(fields.get("objects") or []),
            int(fields.get("job", -1)),
            int(fields.get("seed", -1)),
            segments,
        )
        said = (
            [s["instruction"] for s in segments for _ in range(s["end"] - s["start"])] if segments else None
        )
        writer.add(EncodedEpisode(episode_info, columns, videos, stats, said))
    aside = root.with_name(f"{root.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(root, aside)
    os.replace(rebuilt, root)
    return aside


def run(cfg: DatasetToolConfig) -> int:
    if cfg.action != "check":
        raise ValueError(f"unknown dataset action {cfg.action!r}; valid: check (add --repair to fix)")
    if not cfg.path:
        raise ValueError("which dataset? usage: bcz dataset check PATH [--repair]")
    console = Console()
    report = check(cfg.path, videos=cfg.videos)
    collection = Path(cfg.path) / "meta" / "collection.json"
    if collection.is_file():
        wanted = json.loads(collection.read_text())
        if not wanted.get("complete"):
            console.print(
                f"note: the collection that wrote this dataset did not finish: {report.episodes} of "
                f"{wanted.get('requested_episodes')} episodes; `bcz collect output={cfg.path} "
                f"episodes={wanted.get('requested_episodes')} --resume` completes it"
            )
    if report.ok:
        reader = DatasetReader(cfg.path)
        console.print(
            f"{cfg.path}: OK ({reader.num_episodes} episodes, {reader.num_frames} frames, "
            f"{len(reader.tasks)} instructions)"
        )
        return 0
    table = Table(
        title=f"{cfg.path}: {len(report.problems)} problem(s), {len(report.broken)} broken episode(s) "
        f"of {report.episodes}"
    )
    table.add_column("file")
    table.add_column("problem")
    for p in report.problems:
        table.add_row(p.file, p.what)
    console.print(table)
    if not cfg.repair:
        console.print("run again with --repair to drop what cannot be read and keep the rest")
        return 1
    aside = repair(report)
    kept = report.episodes - len(report.broken)
    console.print(
        f"repaired: kept {kept} episode(s), dropped {len(report.broken)}; the original is at {aside} "
        "(delete it once you are satisfied)"
    )
    return 0


def main(cfg) -> None:
    code = run(OmegaConf.to_object(cfg))
    if code:
        raise SystemExit(code)
