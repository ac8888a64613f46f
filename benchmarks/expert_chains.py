"""The scripted expert on chains of instructions in one scene (`bcz eval chains=N`'s protocol).

    python benchmarks/expert_chains.py --chains 100 --length 5                # train and held-out chains
    python benchmarks/expert_chains.py --chains 40 --splits train --dart 0.003

Chain i of the s-th split uses seed 10,000 + 100,000 s + i, as `bcz eval chains=N` does, so the
expert and a policy are scored on the same chains. Cameras are off: the expert reads the state.
Prints the chain table and every failed or exhausted chain.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from rich.console import Console
from rich.progress import track

from data_collection.rollout import expert_driver
from evaluation.chains import (
    ChainJob,
    ChainResult,
    chains_table,
    plan_chains,
    run_chain,
    skills_table,
    summarize,
)
from sim.env import TabletopEnv
from sim.env_config import EnvConfig


def expert_chain(env: TabletopEnv, job: ChainJob, length: int, dart: float) -> ChainResult:
    """`bcz eval chains=N`'s loop (`run_chain`) with the scripted expert acting (`expert_driver`)."""
    noise = np.random.default_rng([job.seed, 7])

    def expert_actor():
        drive = expert_driver(env, noise, dart)
        return lambda obs, info: drive(obs, info, env.scene_state())[1]

    return run_chain(env, job, length, expert_actor)


def main() -> None:
    os.environ.setdefault("COLUMNS", "160")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chains", type=int, default=100, help="chains per split")
    parser.add_argument("--length", type=int, default=5, help="instructions per chain")
    parser.add_argument("--splits", nargs="*", default=["train", "held_out"])
    parser.add_argument("--dart", type=float, default=0.0, help="std (m) of DART noise on executed deltas")
    args = parser.parse_args()

    config = EnvConfig()
    config.robot.cameras = {}
    env = TabletopEnv(config, split="all")
    start = time.perf_counter()
    results = [
        expert_chain(env, job, args.length, args.dart)
        for job in track(plan_chains(args.splits, args.chains, 10_000, 0), description="expert chains")
    ]
    env.close()
    summary = {
        "chain_length": args.length,
        "seconds": time.perf_counter() - start,
        "splits": summarize(results, args.length),
    }
    console = Console()
    console.print(chains_table(summary, f"Scripted expert, chains of {args.length} (DART std {args.dart} m)"))
    console.print(skills_table(summary))
    for r in results:
        if r.completed < args.length:
            why = "ran out of tasks" if r.exhausted else f"failed #{r.completed + 1}"
            console.print(f"{r.split} seed {r.seed}: {why}: {' -> '.join(r.tasks)}")


if __name__ == "__main__":
    main()
