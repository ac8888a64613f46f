"""Write small datasets with the real LeRobot's own writer, to check that `bcz` reads what LeRobot writes.

Runs in a separate virtual environment holding LeRobot (not this project's; not part of CI):

    python -m venv /tmp/lerobot-venv && /tmp/lerobot-venv/bin/pip install lerobot==0.4.4
    /tmp/lerobot-venv/bin/python benchmarks/write_with_lerobot.py /tmp/lerobot-data

(LeRobot 0.4.4 pins torch<2.11 and torchvision, which has no CPU build on PyPI, so that venv gets its
own CUDA build of torch; it runs on the CPU.) Then, with this project: `bcz dataset check
/tmp/lerobot-data/pusher` and `bcz train dataset=/tmp/lerobot-data/so100 ...` (README, "Training on a
LeRobot dataset").

Two datasets, through `LeRobotDataset.create` / `add_frame` / `save_episode` / `finalize`:
  pusher  the issue's case: 4 episodes of 30 frames, one 96x96 camera `observation.images.top`, 2-D
          state and action, two task strings, LeRobot's default AV1 video
  so100   an SO-100-style arm: 12 episodes of 40 frames, a 96x128 top camera and a 48x64 wrist camera,
          6 joint positions ending in `gripper.pos` (0 open, 100 closed) as state and action, H.264
The camera shows a square where the state says the hand is, and the action is the next state, so a
policy can learn it from the pixels.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset

JOINTS = ["shoulder_pan.pos", "shoulder_lift.pos", "elbow_flex.pos", "wrist_flex.pos", "wrist_roll.pos"]


def picture(h: int, w: int, xy: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """A grey image with a square at xy (each in [-1, 1])."""
    image = np.full((h, w, 3), 90, np.uint8)
    r, c = int((xy[1] + 1) / 2 * (h - 9)), int((xy[0] + 1) / 2 * (w - 9))
    image[r : r + 8, c : c + 8] = colour
    return image


def features(cameras: dict[str, tuple[int, int]], names: list[str]) -> dict:
    out = {
        "observation.state": {"dtype": "float32", "shape": (len(names),), "names": names},
        "action": {"dtype": "float32", "shape": (len(names),), "names": names},
    }
    for cam, (h, w) in cameras.items():
        out[f"observation.images.{cam}"] = {
            "dtype": "video",
            "shape": (h, w, 3),
            "names": ["height", "width", "channels"],
        }
    return out


def write(root: Path, episodes: int, length: int, cameras: dict, names: list[str], tasks: list[str], **kw):
    rng = np.random.default_rng(0)
    ds = LeRobotDataset.create(
        repo_id=f"local/{root.name}", fps=10, features=features(cameras, names), root=root, **kw
    )
    for ep in range(episodes):
        task = tasks[ep % len(tasks)]
        colour = (220, 40, 40) if ep % len(tasks) == 0 else (40, 200, 60)
        start, goal = rng.uniform(-0.8, 0.8, 2), rng.uniform(-0.8, 0.8, 2)
        path = start + (goal - start) * np.linspace(0, 1, length + 1)[:, None]
        for t in range(length):
            state = np.zeros(len(names), np.float32)
            action = np.zeros(len(names), np.float32)
            state[:2], action[:2] = path[t], path[t + 1]
            if names[-1] == "gripper.pos":  # closes halfway along
                state[-1] = 100.0 if t > length // 2 else 0.0
                action[-1] = 100.0 if t >= length // 2 else 0.0
            frame = {"observation.state": state, "action": action, "task": task}
            for cam, (h, w) in cameras.items():
                frame[f"observation.images.{cam}"] = picture(h, w, path[t], colour)
            ds.add_frame(frame)
        ds.save_episode()
    ds.finalize()
    print(f"{root}: {episodes} episodes x {length} frames, cameras {cameras}, action {names}")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/lerobot-data")
    write(
        out / "pusher", 4, 30, {"top": (96, 96)}, ["x", "y"], ["push the block left", "push the block right"]
    )
    write(
        out / "so100",
        12,
        40,
        {"top": (96, 128), "wrist": (48, 64)},
        [*JOINTS, "gripper.pos"],
        ["pick up the red cube", "pick up the green cube"],
        robot_type="so100_follower",
        vcodec="h264",
    )


if __name__ == "__main__":
    main()
