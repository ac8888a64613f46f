"""`bcz demo`: a scripted expert performs a task from the suite; writes an mp4 and prints a summary.

The main job until a trained policy ships: it shows the robot, the scene, the language and the
success check working end to end. PyBullet's GUI opens where a display exists.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from conf.checks import at_least
from data_collection.video_codec import write_mp4
from sim.env import TabletopEnv, use_gui
from sim.env_config import EnvConfig

log = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    task: str | None = None  # task id or instruction; None: a random task of `split`
    split: str = "train"
    seed: int | None = None  # None: a fresh seed, printed so the episode can be replayed
    episodes: int = 1
    gui: str = "auto"  # auto (GUI if a display exists) | true | false
    video: bool = True
    output_dir: str | None = None  # None: Hydra's run directory

    def __post_init__(self) -> None:
        at_least(self, 1, "episodes")


def tile(main: np.ndarray, insets: list[np.ndarray]) -> np.ndarray:
    """The main view with the policy's camera views stacked in a column on its right."""
    h = main.shape[0]
    side = h // max(len(insets), 1)
    column = [cv2.resize(im, (side, side), interpolation=cv2.INTER_NEAREST) for im in insets]
    column = np.concatenate(column, axis=0) if column else np.zeros((0, side, 3), np.uint8)
    column = np.pad(column, ((0, h - column.shape[0]), (0, 0), (0, 0)))
    return np.concatenate([main, column], axis=1)


def run(cfg: DemoConfig) -> list[dict]:
    gui = use_gui(str(cfg.gui).lower())
    out_dir = Path(cfg.output_dir or HydraConfig.get().runtime.output_dir)
    seed = cfg.seed if cfg.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
    env = TabletopEnv(cfg.env, split=cfg.split, task=cfg.task, render_mode="human" if gui else "rgb_array")
    console = Console()
    results = []
    try:
        for episode in range(cfg.episodes):
            obs, info = env.reset(seed=seed + episode)
            console.print(
                f"[bold]episode {episode}[/] seed={seed + episode} task={info['task']} "
                f"instruction=[cyan]{info['instruction']!r}[/]"
            )
            expert = env.expert()
            frames = [tile(env.frame(), [obs[k] for k in env.arm.cameras])] if cfg.video else []
            period = 1.0 / cfg.env.robot.control_hz
            done = False
            while not done:
                start = time.perf_counter()
                obs, _, terminated, truncated, info = env.step(expert.act(env.scene_state()))
                done = terminated or truncated
                if cfg.video:
                    frames.append(tile(env.frame(), [obs[k] for k in env.arm.cameras]))
                if gui:  # the GUI shows the robot at its real control rate
                    time.sleep(max(0.0, period - (time.perf_counter() - start)))
            video = None
            if cfg.video:
                video = write_mp4(out_dir / f"episode_{episode:03d}.mp4", frames, cfg.env.robot.control_hz)
            results.append(
                {
                    "seed": seed + episode,
                    "task": info["task"],
                    "instruction": info["instruction"],
                    "split": info["split"],
                    "success": info["success"],
                    "steps": env.steps,
                    "video": str(video) if video else None,
                }
            )
    finally:
        env.close()
    table = Table(title="bcz demo")
    columns = ("seed", "task", "instruction", "split", "success", "steps")
    for col in columns:
        table.add_column(col)
    for r in results:
        table.add_row(*[str(r[c]) for c in columns])
    console.print(table)
    for r in results:
        if r["video"]:
            console.print(f"video written to {r['video']}", soft_wrap=True)
    return results


def main(cfg) -> None:
    run(OmegaConf.to_object(cfg))
