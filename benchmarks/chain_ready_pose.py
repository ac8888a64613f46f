"""How much of the chain gap is where the hand is left? `bcz eval chains=N`'s chains, with the hand
driven back to where a fresh scene starts it before every instruction after the first.

    python benchmarks/chain_ready_pose.py policy/pretrained/default --output-dir runs/chains_ready

A diagnostic, not a way to run the robot: between instructions a scripted motion lifts the hand
straight up and carries it to its start pose, fingers as they were (a held object stays held), the
objects untouched. The motion counts against the next instruction's 120 control steps. What is left of
the gap is the scene: objects moved, stacked, in bowls. The chains and seeds are `bcz eval`'s, and
chains.json is written in its format, so `benchmarks/paired.py` compares it with a plain chain run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track

from evaluation.chains import (
    Actor,
    ChainJob,
    ChainResult,
    plan_chains,
    policy_actor,
    report_chains,
    run_chain,
)
from sim.env import TabletopEnv
from sim.expert import Phase, ScriptedExpert, Waypoint
from sim.predicates import GRIPPER_CLOSED_BELOW
from sim.skills.base import rise

_worker: dict = {}


def ready_then_policy(env: TabletopEnv, policy, home: tuple[np.ndarray, float]) -> Actor:
    """An actor that first takes the hand up and home (fingers kept), then hands over to the policy."""
    state = env.scene_state()
    fingers = float(state.gripper_width < GRIPPER_CLOSED_BELOW)
    position, yaw = home
    expert = ScriptedExpert(
        [
            Phase("rise", rise(fingers)),
            Phase("home", lambda s: Waypoint(position, yaw, fingers, tolerance=0.02)),
        ]
    )
    act_policy = policy_actor(policy)

    def act(obs: dict, info: dict) -> np.ndarray:
        if not expert.done:
            action = expert.act(env.scene_state())
            if not expert.done:
                return action
        return act_policy(obs, info)

    return act


def _init(checkpoint: str) -> None:
    import torch

    from evaluation.rollouts import env_config_for
    from policy.policy import Policy
    from sim.env_config import EnvConfig

    torch.set_num_threads(1)
    policy = Policy.from_pretrained(checkpoint)
    _worker["policy"] = policy
    _worker["env"] = TabletopEnv(env_config_for(policy, EnvConfig()), split="all")


def _run(args: tuple[ChainJob, int, bool]) -> ChainResult:
    job, length, ready = args
    env, policy = _worker["env"], _worker["policy"]
    calls: list[tuple[np.ndarray, float]] = []

    def actor_for() -> Actor:
        if not calls:  # the first instruction starts from the fresh scene: that is home
            s = env.scene_state()
            calls.append((s.ee_position.copy(), float(s.ee_yaw)))
            return policy_actor(policy)
        return ready_then_policy(env, policy, calls[0]) if ready else policy_actor(policy)

    return run_chain(env, job, length, actor_for)


def main() -> None:
    os.environ.setdefault("COLUMNS", "160")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint")
    parser.add_argument("--chains", type=int, default=100, help="chains per split")
    parser.add_argument("--length", type=int, default=5)
    parser.add_argument("--splits", nargs="*", default=["train", "held_out"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output-dir", default="runs/chains_ready")
    parser.add_argument("--no-ready", action="store_true", help="control: the plain chains, same loop")
    args = parser.parse_args()

    jobs = plan_chains(args.splits, args.chains, 10_000, 0)
    start = time.perf_counter()
    with mp.get_context("spawn").Pool(args.workers, _init, (args.checkpoint,)) as pool:
        work = [(job, args.length, not args.no_ready) for job in jobs]
        results = list(track(pool.imap_unordered(_run, work), total=len(work), description="chains"))
    results.sort(key=lambda r: (r.split, r.seed))
    label = "plain" if args.no_ready else "hand sent home between instructions"
    report_chains(
        f"{args.checkpoint} ({label})",
        results,
        args.length,
        Path(args.output_dir),
        time.perf_counter() - start,
        Console(),
    )


if __name__ == "__main__":
    main()
