"""Grounding probe: does the policy head for the object the instruction names?

    python benchmarks/grounding_probe.py CHECKPOINT [CHECKPOINT ...] --tasks "pick_up/*" --scenes 40

A rollout that fails can fail anywhere; this asks the first question only. In N seeded scenes (the
full scene: distractors, same-kind distractors, clutter, randomization), the policy plans one chunk
from the first observation, and the probe measures where the chunk ends in x/y: its distance to the
named object, and whether it is closer to that object than to every other one. A policy that reads
the instruction but cannot find the named object among the others lands between them (the failure
the rung-2 trace showed); chance is about one in (objects in the scene). For a task with a second
object (the bowl, the base to stack on), it also counts chunks ending nearest that one: the roles
swapped. Seconds per checkpoint, no training, so it can score every snapshot of a run.
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from evaluation.rollouts import env_config_for
from policy.policy import Policy
from sim.env import TabletopEnv
from sim.env_config import EnvConfig


def probe(checkpoint: str, tasks: list[str], scenes: int, seed: int) -> dict[str, float]:
    policy = Policy.from_pretrained(checkpoint).eval()
    if policy.config.actions == "raw":
        raise SystemExit(f"{checkpoint} predicts raw actions, not hand poses: the probe needs a pose policy")
    env = TabletopEnv(env_config_for(policy, EnvConfig()), split="all")
    specs = env.suite.match(tasks)
    errors, right, second, objects = [], 0, 0, []
    for i in range(scenes):
        task = specs[i % len(specs)]
        obs, _ = env.reset(seed=seed + i, options={"task": task})
        state = env.scene_state()
        policy.reset()
        end = policy.plan(obs, env.instruction)[-1, :2]
        dist = {n: float(np.linalg.norm(end - state[n].position[:2])) for n in env.scene.bodies}
        named = task.target.name
        errors.append(dist[named])
        nearest = min(dist, key=dist.get)
        right += nearest == named
        second += task.reference is not None and nearest == task.reference.name  # roles swapped
        objects.append(len(dist))
    env.close()
    return {
        "closer": right / scenes,
        "second": second / scenes,
        "median_cm": 100 * float(np.median(errors)),
        "chance": float(np.mean([1 / n for n in objects])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--tasks", default="pick_up/*", help="task patterns, comma-separated")
    parser.add_argument("--scenes", type=int, default=40)
    parser.add_argument("--seed", type=int, default=20_000, help="first scene seed (far from collection's)")
    args = parser.parse_args()
    table = Table(title=f"grounding probe: {args.scenes} scenes of {args.tasks}")
    for col in (
        "checkpoint",
        "chunk end nearest the named object",
        "nearest the object named second",
        "median distance to it",
        "chance",
    ):
        table.add_column(col, justify="right")
    for ck in args.checkpoints:
        r = probe(ck, args.tasks.split(","), args.scenes, args.seed)
        n, m = round(r["closer"] * args.scenes), round(r["second"] * args.scenes)
        table.add_row(
            ck, f"{n}/{args.scenes}", f"{m}/{args.scenes}", f"{r['median_cm']:.1f} cm", f"{r['chance']:.0%}"
        )
    Console().print(table)


if __name__ == "__main__":
    main()
