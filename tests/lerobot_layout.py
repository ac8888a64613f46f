"""A dataset laid out the way LeRobot 0.4 writes v3.0 (built with this project's own code, for tests).

Unlike this project's writer (one episode per data file and per video file), LeRobot packs several
episodes into each data parquet and each mp4, and locates an episode through meta/episodes: its rows
`dataset_from_index`..`dataset_to_index` in the data file, and `from_timestamp`..`to_timestamp` in the
video. This fixture does the same, with two cameras of different sizes and a 2-D action without a
gripper (a pusher), as many real LeRobot datasets have; `gripper=True` adds an SO-100-style
`gripper.pos` channel that is 0 (open) then 100 (closed) in every episode.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data_collection.layout import DATA_PATH, DEFAULT_FEATURES, VIDEO_PATH
from data_collection.stats import aggregate, array_stats, image_stats, to_json
from data_collection.video_codec import VideoConfig, encode_mp4, video_feature_info

FPS = 10
CAMERAS = {"top": (48, 64), "wrist": (24, 32)}  # height, width: different sizes, as on real rigs
TASKS = ["push the T into place", "push the block to the corner"]
VIDEO = VideoConfig(codec="libx264", pix_fmt="yuv420p", crf=18, gop=2)


def frame_colour(episode: int, t: int) -> tuple[int, int, int]:
    """What frame t of an episode shows (uniform colour): a decoder that slices wrongly is caught."""
    return 30 + 50 * episode, 10 + 9 * t, 128


def action_names(gripper: bool = False) -> list[str]:
    return ["x", "y", "gripper.pos"] if gripper else ["x", "y"]


def features(gripper: bool = False) -> dict:
    names = action_names(gripper)
    out: dict = {
        "observation.state": {"dtype": "float32", "shape": [2], "names": ["x", "y"]},
        "action": {"dtype": "float32", "shape": [len(names)], "names": names},
    }
    for cam, (h, w) in CAMERAS.items():
        out[f"observation.images.{cam}"] = {
            "dtype": "video",
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
            "info": video_feature_info(VIDEO, h, w, FPS),
        }
    return {**out, **DEFAULT_FEATURES}


def write(
    root: Path, lengths: tuple[int, ...] = (15, 12, 18, 9), per_file: int = 2, gripper: bool = False
) -> Path:
    """Write len(lengths) episodes, `per_file` of them to each data file and each video file."""
    root = Path(root)
    rng = np.random.default_rng(0)
    rows, start, stats = [], 0, []
    for first in range(0, len(lengths), per_file):
        file_index, members = first // per_file, range(first, min(first + per_file, len(lengths)))
        tables, videos, offset = [], {cam: [] for cam in CAMERAS}, 0.0
        for ep in members:
            n = lengths[ep]
            action = rng.normal(size=(n, 2))
            if gripper:  # open for the first half, closed for the rest
                action = np.column_stack([action, np.where(np.arange(n) < n // 2, 0.0, 100.0)])
            columns = {
                "observation.state": rng.normal(size=(n, 2)).astype(np.float32),
                "action": action.astype(np.float32),
            }
            task = ep % len(TASKS)
            table = {
                "observation.state": columns["observation.state"].tolist(),
                "action": columns["action"].tolist(),
                "timestamp": (np.arange(n) / FPS).astype(np.float32),
                "frame_index": np.arange(n),
                "episode_index": np.full(n, ep),
                "index": np.arange(start, start + n),
                "task_index": np.full(n, task),
            }
            tables.append(pa.table(table))
            ep_stats = {k: array_stats(v) for k, v in columns.items()}
            for cam, (h, w) in CAMERAS.items():
                frames = np.zeros((n, h, w, 3), np.uint8)
                frames[:] = np.array([frame_colour(ep, t) for t in range(n)], np.uint8)[:, None, None, :]
                videos[cam].append(frames)
                ep_stats[f"observation.images.{cam}"] = image_stats(frames)
            stats.append(ep_stats)
            row = {
                "episode_index": ep,
                "tasks": [TASKS[task]],
                "length": n,
                "data/chunk_index": 0,
                "data/file_index": file_index,
                "dataset_from_index": start,
                "dataset_to_index": start + n,
                "meta/episodes/chunk_index": 0,
                "meta/episodes/file_index": 0,
            }
            for cam in CAMERAS:
                row |= {
                    f"videos/observation.images.{cam}/chunk_index": 0,
                    f"videos/observation.images.{cam}/file_index": file_index,
                    f"videos/observation.images.{cam}/from_timestamp": offset,
                    f"videos/observation.images.{cam}/to_timestamp": offset + n / FPS,
                }
            rows.append(row)
            offset += n / FPS
            start += n
        path = root / DATA_PATH.format(chunk_index=0, file_index=file_index)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(tables), path)
        for cam, parts in videos.items():
            key = f"observation.images.{cam}"
            path = root / VIDEO_PATH.format(video_key=key, chunk_index=0, file_index=file_index)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_mp4(np.concatenate(parts), FPS, VIDEO))
    meta = root / "meta" / "episodes" / "chunk-000" / "file-000.parquet"  # every row in one file
    meta.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), meta)
    tasks = pd.DataFrame({"task_index": np.arange(len(TASKS))}, index=pd.Index(TASKS))
    pq.write_table(pa.Table.from_pandas(tasks), root / "meta" / "tasks.parquet")  # index as LeRobot 0.4
    keys = stats[0].keys()
    (root / "meta" / "stats.json").write_text(
        json.dumps(to_json({k: aggregate([s[k] for s in stats]) for k in keys}))
    )
    info = {
        "codebase_version": "v3.0",
        "robot_type": "pusher",
        "total_episodes": len(lengths),
        "total_frames": start,
        "total_tasks": len(TASKS),
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": FPS,
        "splits": {"train": f"0:{len(lengths)}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH,
        "features": features(gripper),
    }
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=2))
    return root
