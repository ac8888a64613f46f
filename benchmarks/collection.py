"""Collection and relabeling throughput.

    python benchmarks/collection.py --episodes 40

Collects the same jobs (same tasks and seeds) with 1 and then 2 Ray workers into fresh datasets, and
measures in the same run the bare simulator: the same expert episodes played in this process with no
recording, encoding or writing. Ratios: collection with 1 worker vs bare (the cost of recording,
encoding, Ray and committing), 2 workers vs 1 (scaling on this machine's cores). Then relabels the
2-worker dataset with 2 workers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import ray
from rich.console import Console
from rich.table import Table

from data_collection.cluster import RayConfig
from data_collection.collect import CollectConfig, collect, plan_task
from data_collection.relabel import RelabelConfig, relabel
from sim.env import TabletopEnv
from sim.env_config import EnvConfig
from sim.expert import dart_noise


def bare(episodes: int, seed: int, dart: float) -> tuple[float, int]:
    """Episodes per minute of the simulator and expert alone (rendering included), and frames played."""
    env = TabletopEnv(EnvConfig())
    tasks = env.suite.tasks("train")
    import numpy as np

    frames, start = 0, time.perf_counter()
    for job in range(episodes):
        env.reset(seed=seed + job, options={"task": plan_task(tasks, seed, job)})
        expert, rng = env.expert(), np.random.default_rng([seed + job, 7])
        while True:
            action = dart_noise(expert.act(env.scene_state()), rng, dart, 5 * dart)
            _, _, done, truncated, _ = env.step(action)
            frames += 1
            if done or truncated:
                break
    env.close()
    return episodes / ((time.perf_counter() - start) / 60), frames


def main() -> None:
    os.environ.setdefault("COLUMNS", "140")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=40)
    args = parser.parse_args()
    console = Console()
    table = Table(
        title=f"Collection throughput ({args.episodes} expert episodes, 2 x 64x64 cameras, DART 3 mm)"
    )
    for col in ("run", "episodes/min", "vs bare simulator", "vs 1 worker", "frames"):
        table.add_column(col, justify="right")
    bare_rate, bare_frames = bare(args.episodes, 0, 0.003)
    table.add_row("bare simulator + expert, 1 process", f"{bare_rate:.1f}", "1.00", "", str(bare_frames))
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            cfg = CollectConfig(
                output=f"{tmp}/w{workers}",
                episodes=args.episodes,
                workers=workers,
                ray=RayConfig(num_cpus=workers),
            )
            result = collect(cfg)
            rates[workers] = len(result.committed) / (result.seconds / 60)
            table.add_row(
                f"bcz collect, {workers} Ray worker{'s' * (workers > 1)}",
                f"{rates[workers]:.1f}",
                f"{rates[workers] / bare_rate:.2f}",
                f"{rates[workers] / rates[1]:.2f}",
                str(sum(result.lengths)),
            )
        console.print(table)
        relabeled = relabel(RelabelConfig(dataset=f"{tmp}/w2", workers=2, ray=RayConfig(num_cpus=2)))
        ray.shutdown()
    rl = Table(title="Hindsight relabeling (2 Ray workers)")
    for col in ("episodes", "labels written", "seconds", "episodes/s"):
        rl.add_column(col, justify="right")
    rl.add_row(
        str(relabeled["episodes"]),
        str(len(relabeled["rows"])),
        f"{relabeled['seconds']:.2f}",
        f"{relabeled['episodes'] / relabeled['seconds']:.1f}",
    )
    console.print(rl)
    console.print(f"machine: {os.cpu_count()} CPU cores; Ray start-up is excluded from every rate")


if __name__ == "__main__":
    main()
