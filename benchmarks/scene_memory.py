"""Memory of a simulated robot laying out scene after scene, as `bcz run` does for hours: with PyBullet's
cache of parsed meshes emptied every `MESH_CACHE_SCENES` scenes (what `SimRobot` does) and never.

    python benchmarks/scene_memory.py                 # 1000 scenes per arm
    python benchmarks/scene_memory.py --scenes 200    # a quick look

Each arm runs in a process of its own (the cache is the whole process's), on the same seeded tasks: a
new scene for a random task of the suite, its first observation rendered, the process's resident memory
every tenth of the way. PyBullet caches every mesh file it parses, and the clutter draws from 1000.
Prints resident memory against scenes, and how long a scene took to lay out (all of them, and those
right after the cache was emptied, which parse every mesh again).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time

import numpy as np
from process_memory import rss_mb
from rich.console import Console
from rich.table import Table


def lay_out(scenes: int, every: int) -> dict:
    """This process: `scenes` new scenes with the cache emptied every `every` (0: never)."""
    import sim.sim_robot as sim_robot
    from sim.sim_robot import SimRobot, SimRobotConfig

    sim_robot.MESH_CACHE_SCENES = every or 10**12
    sim = SimRobot(SimRobotConfig(seed=0, gui="false"))
    sim.connect()
    tasks, rng = sim.env.suite.tasks("all"), random.Random(0)
    memory, seconds = [rss_mb()], []
    for i in range(1, scenes + 1):
        start = time.perf_counter()
        sim.reset(rng.choice(tasks))
        seconds.append(time.perf_counter() - start)
        sim.get_observation()
        if i % max(1, scenes // 10) == 0:
            memory.append(rss_mb())
    after = seconds[every::every] if every else []
    return {
        "memory": memory,
        "ms": 1000 * np.median(seconds),
        "p90": 1000 * np.percentile(seconds, 90),
        "after": 1000 * np.median(after) if after else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--arm", type=int, help=argparse.SUPPRESS)  # one arm, in its own process
    args = parser.parse_args()
    if args.arm is not None:
        print(json.dumps(lay_out(args.scenes, args.arm)))
        return
    from sim.sim_robot import MESH_CACHE_SCENES

    console, results = Console(), {}
    for every in (MESH_CACHE_SCENES, 0):
        console.print(f"{args.scenes} scenes, cache emptied {f'every {every}' if every else 'never'} ...")
        cmd = [sys.executable, __file__, "--scenes", str(args.scenes), "--arm", str(every)]
        results[every] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    table = Table(title=f"resident memory (MB) over {args.scenes} new scenes")
    table.add_column("scenes")
    for every in results:
        table.add_column(f"emptied every {every}" if every else "never emptied", justify="right")
    step = max(1, args.scenes // 10)
    for k in range(len(results[0]["memory"])):
        table.add_row(str(k * step), *(f"{r['memory'][k]:.1f}" for r in results.values()))
    table.add_row(
        "growth after the first tenth",
        *(f"{r['memory'][-1] - r['memory'][1]:+.1f}" for r in results.values()),
    )
    table.add_row(
        "lay-out, median / p90 (ms)", *(f"{r['ms']:.1f} / {r['p90']:.1f}" for r in results.values())
    )
    table.add_row(
        "lay-out right after emptying, median (ms)",
        *(f"{r['after']:.1f}" if r["after"] else "-" for r in results.values()),
    )
    console.print(table)


if __name__ == "__main__":
    main()
