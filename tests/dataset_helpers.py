"""Small synthetic episodes for dataset tests (no simulator needed), and a writer to kill in tests."""

from __future__ import annotations

import sys

import numpy as np

from data_collection.episode import Episode, EpisodeInfo, encode_episode
from data_collection.layout import ENV_STATE_SLOTS, POSE_NAMES, tabletop_features
from data_collection.video_codec import VideoConfig
from robot.robot import EE_ACTION_NAMES, EE_STATE_NAMES, Feature

FPS = 10
VIDEO = VideoConfig()


def features(size: int = 32) -> dict:
    robot = {"state": Feature((8,), "float32", EE_STATE_NAMES), "front": Feature((size, size, 3), "uint8")}
    return tabletop_features(robot, Feature((7,), "float32", EE_ACTION_NAMES), VIDEO, FPS)


def episode(seed: int, length: int = 12, size: int = 32, instruction: str | None = None) -> Episode:
    rng = np.random.default_rng(seed)
    columns = {
        "observation.state": rng.normal(size=(length, 8)).astype(np.float32),
        "action": rng.normal(size=(length, 7)).astype(np.float32),
        "observation.environment_state": rng.normal(size=(length, ENV_STATE_SLOTS * len(POSE_NAMES))).astype(
            np.float32
        ),
        "intervention": rng.random(length) < 0.3,
    }
    frames = np.zeros((length, size, size, 3), np.uint8)
    for t in range(length):  # a moving coloured square: easy to check after a lossy round trip
        frames[t, 4:12, t % (size - 8) : t % (size - 8) + 8] = [200, 40, 40]
    info = EpisodeInfo(
        instruction or f"pick up the block number {seed % 3}",
        "pick_up/red_block",
        seed % 2 == 0,
        "expert",
        ["red_block"],
        job=seed,
        seed=seed,
    )
    return Episode(info, columns, {"observation.images.front": frames})


def encoded(seed: int, **kw):
    return encode_episode(episode(seed, **kw), FPS, VIDEO)


if __name__ == "__main__":  # python -m tests.dataset_helpers ROOT: append episodes forever (to be killed)
    from data_collection.writer import DatasetWriter

    writer = DatasetWriter(sys.argv[1], features(), FPS, "test", resume=True)
    ready = [encoded(s) for s in range(4)]
    n = len(writer.episodes)
    while True:
        writer.add(ready[n % 4])
        n += 1
        print(n, flush=True)
