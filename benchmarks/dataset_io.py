"""Dataset storage and I/O: bytes per frame, write time and load time per 1,000 frames.

    python benchmarks/dataset_io.py --episodes 30

Plays expert episodes once (2 x 64x64 cameras), then times separately: encoding (video + statistics),
committing (the atomic writes), the first load for training (decoding every video into the frame
cache) and later loads (mapping the cache), and random access to cached frames. Medians over episodes
where a per-episode figure exists.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from data_collection.episode import encode_episode
from data_collection.frames import FrameCache
from data_collection.layout import tabletop_features
from data_collection.rollout import play_expert
from data_collection.video_codec import VideoConfig
from data_collection.writer import DatasetWriter
from sim.env import TabletopEnv


def du(path: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in path.glob(pattern) if p.is_file())


def main() -> None:
    os.environ.setdefault("COLUMNS", "140")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=30)
    args = parser.parse_args()
    env = TabletopEnv()
    tasks = env.suite.tasks("train")
    episodes = [play_expert(env, tasks[i % len(tasks)].id, seed=i, dart=0.003) for i in range(args.episodes)]
    video = VideoConfig()
    features = tabletop_features(env.arm.observation_features, env.arm.action_features["action"], video, 10)
    env.close()
    frames = sum(len(e) for e in episodes)
    per_k = 1000 / frames
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        t = time.perf_counter()
        encoded = [encode_episode(e, 10, video) for e in episodes]
        encode_s = time.perf_counter() - t
        writer = DatasetWriter(root, features, 10, "pybullet_panda")
        commit = []
        for e in encoded:
            t = time.perf_counter()
            writer.add(e)
            commit.append(time.perf_counter() - t)
        t = time.perf_counter()
        cache = FrameCache(root, progress=False)
        first_load = time.perf_counter() - t
        t = time.perf_counter()
        cache = FrameCache(root, progress=False)
        reload = time.perf_counter() - t
        rng = np.random.default_rng(0)
        idx = rng.integers(0, len(cache), 2048)
        t = time.perf_counter()
        for i in idx:
            _ = [cache.images[k][i].copy() for k in cache.images], cache.columns["action"][i].copy()
        access_us = (time.perf_counter() - t) / len(idx) * 1e6
        total = du(root, "**/*")
        videos = du(root, "videos/**/*.mp4")
        data = du(root, "data/**/*.parquet")
        meta = du(root, "meta/**/*")
        cache_bytes = du(root / ".cache", "**/*")
    table = Table(
        title=f"Dataset storage and I/O ({args.episodes} episodes, {frames} frames, 2 x 64x64 cameras, "
        "H.264 4:4:4 crf 18)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("bytes per frame, whole dataset", f"{(total - cache_bytes) / frames:,.0f}"),
        ("  of which video (both cameras)", f"{videos / frames:,.0f}"),
        ("  of which frame data (parquet)", f"{data / frames:,.0f}"),
        ("  of which metadata", f"{meta / frames:,.0f}"),
        ("raw frames, for comparison (2 x 64x64x3 uint8)", f"{2 * 64 * 64 * 3:,}"),
        ("encode per 1,000 frames (video + stats)", f"{encode_s * per_k:.2f} s"),
        ("commit per 1,000 frames (atomic writes)", f"{sum(commit) * per_k:.2f} s"),
        ("median commit per episode", f"{np.median(commit) * 1e3:.1f} ms"),
        ("first load per 1,000 frames (decode into cache)", f"{first_load * per_k:.2f} s"),
        ("later loads (map the cache), whole dataset", f"{reload * 1e3:.0f} ms"),
        ("random access to one cached sample (2 images + action)", f"{access_us:.1f} us"),
        ("frame cache bytes per frame", f"{cache_bytes / frames:,.0f}"),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
