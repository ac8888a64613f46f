"""Trace one policy rollout against the scripted expert on the same seed, step by step.

    python benchmarks/trace_rollout.py CHECKPOINT --task pick_up/red_block --seed 10049 [--plain]

Each row: the hand's position, the target object's, their x/y distance, what the policy commanded
(motion and gripper) and what the expert would command in that very state (the DAgger label), and the
expert's phase. The first rows where the two part ways say why an episode fails. `--plain` uses the
first rung's scene (no distractors, no visual randomization). `--frames DIR` saves the camera images.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from evaluation.rollouts import env_config_for
from policy.policy import Policy
from sim.env import TabletopEnv
from sim.env_config import EnvConfig


def plain(config: EnvConfig) -> EnvConfig:
    config.scene.min_distractors = config.scene.max_distractors = config.scene.max_clutter = 0
    config.scene.same_kind_distractor_prob = 0.0
    r = config.randomize
    r.object_set = r.colours = r.lighting = r.camera_pose = r.table_colour = False
    return config


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint")
    parser.add_argument("--task", default="pick_up/red_block")
    parser.add_argument("--seed", type=int, default=10_000)
    parser.add_argument("--instruction", default=None)
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--frames", type=Path, default=None)
    args = parser.parse_args()
    policy = Policy.from_pretrained(args.checkpoint)
    config = env_config_for(policy, plain(EnvConfig()) if args.plain else EnvConfig())
    env = TabletopEnv(config, split="all")
    obs, info = env.reset(seed=args.seed, options={"task": args.task, "instruction": args.instruction})
    policy.reset()
    expert = env.expert()
    target = env.task.target.name
    table = Table(title=f"{args.task} seed {args.seed}: '{info['instruction']}'")
    columns = ("step", "hand xyz", f"{target} xyz", "xy dist", "yaw hand / obj", "policy dxyz drz / grip")
    for col in (*columns, "expert dxyz drz / grip", "phase"):
        table.add_column(col, justify="right")
    fmt = lambda v: " ".join(f"{x:+.3f}" for x in v)  # noqa: E731
    step = 0
    while True:
        scene = env.scene_state()
        label = expert.act(scene)
        action = policy.select_action(obs, info["instruction"])
        expert.follow(action)
        hand, obj = scene.ee_position, scene[target].position
        table.add_row(
            str(step),
            fmt(hand),
            fmt(obj),
            f"{np.linalg.norm(hand[:2] - obj[:2]) * 100:.1f} cm",
            f"{np.degrees(scene.ee_yaw):+.0f}° / {np.degrees(scene[target].yaw):+.0f}°",
            f"{fmt(action[[0, 1, 2, 5]])} / {action[6]:.0f}",
            f"{fmt(label[[0, 1, 2, 5]])} / {label[6]:.0f}",
            expert.phase,
        )
        if args.frames:
            import cv2

            args.frames.mkdir(parents=True, exist_ok=True)
            images = [obs[c] for c in policy.config.cameras]
            cv2.imwrite(str(args.frames / f"{step:03d}.png"), np.concatenate(images, axis=1)[..., ::-1])
        obs, _, terminated, truncated, info = env.step(action)
        step += 1
        if terminated or truncated:
            break
    Console(width=200).print(table)
    print(f"{'success' if info['success'] else 'failure'} after {step} steps")
    env.close()


if __name__ == "__main__":
    main()
