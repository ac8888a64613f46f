"""When and why `bcz dagger`'s expert takes the hand from a policy, per skill.

    python benchmarks/dagger_takeovers.py policy/pretrained/default --skills put_in push_to --episodes 16

Plays the policy as `bcz dagger` does (`evaluation.dagger.Takeover`, the same defaults) on train tasks, one
seed per episode (2,000,000 + i: none of collection's, evaluation's or DAgger's), up to the first
takeover, and tables what straying set it off (motion, gripper or both over the `patience` steps), the
phase of the expert's plan then, the hand's height, and whether the expert's label turned the hand up.
A takeover while the label heads back up during a descent is a label no demonstration gives.
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from evaluation.dagger import DaggerConfig, Takeover
from evaluation.rollouts import env_config_for
from policy.policy import Policy
from sim.env import TabletopEnv

SEED = 2_000_000


def first_takeover(env: TabletopEnv, policy: Policy, task: str, seed: int, cfg: DaggerConfig) -> dict | None:
    """The state of things at the step the expert takes over, or None when the policy keeps the hand."""
    obs, info = env.reset(seed=seed, options={"task": task})
    policy.reset()
    expert, takeover, strays = env.expert(), Takeover(cfg.takeover_error, cfg.patience, 1), []
    while True:
        scene = env.scene_state()
        label = expert.act(scene)
        proposed = policy.select_action(obs, info["instruction"])
        motion, gripper = takeover.strays(proposed, label)
        strays.append({name for name, on in (("motion", motion), ("gripper", gripper)) if on})
        if takeover.expert_drives(proposed, label):
            why = sorted(set().union(*strays[-cfg.patience :]))
            return {
                "why": "+".join(why),
                "phase": expert.phase,
                "z": float(scene.ee_position[2]),
                "up": bool(label[2] > 0),
            }
        expert.follow(proposed)
        obs, _, terminated, truncated, info = env.step(proposed)
        if terminated or truncated:
            return None


def tally(hits: list[dict], key: str) -> str:
    return ", ".join(f"{k} {n}" for k, n in Counter(h[key] for h in hits).most_common()) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint")
    parser.add_argument("--skills", nargs="+", default=["put_in", "stack_on", "push_to"])
    parser.add_argument("--episodes", type=int, default=16, help="per skill")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg, policy = DaggerConfig(), Policy.from_pretrained(args.checkpoint)
    env = TabletopEnv(env_config_for(policy), split="train")
    title = f"first takeovers (takeover_error {cfg.takeover_error} m, patience {cfg.patience})"
    table = Table(title=title)
    for col in (
        "skill",
        "episodes",
        "taken over",
        "why",
        "expert's phase",
        "median height",
        "label heads up",
    ):
        table.add_column(col, justify="right")
    try:
        for skill in args.skills:
            tasks = [t.id for t in env.suite.tasks("train") if t.skill == skill]
            if not tasks:
                raise SystemExit(f"no train tasks for skill {skill!r}")
            found = [
                first_takeover(env, policy, tasks[i % len(tasks)], SEED + i, cfg)
                for i in range(args.episodes)
            ]
            hits = [f for f in found if f]
            table.add_row(
                skill,
                str(args.episodes),
                str(len(hits)),
                tally(hits, "why"),
                tally(hits, "phase"),
                f"{np.median([f['z'] for f in hits]) * 100:.1f} cm" if hits else "-",
                str(sum(f["up"] for f in hits)),
            )
    finally:
        env.close()
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
