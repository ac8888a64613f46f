"""Scripted-expert success per skill over seeded episodes with all domain randomization on.

    python benchmarks/expert_success.py --episodes 100            # the README's table
    python benchmarks/expert_success.py --episodes 20 --dart 0.005 # with DART noise on the executed actions
    python benchmarks/expert_success.py --suite coasters --skills put_on  # a skill a suite file declares

Episodes cycle through every task of each skill (train and held-out: the expert knows no split);
episode i uses seed i. Cameras are switched off: the expert reads privileged state, not pixels.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from sim.env import TabletopEnv
from sim.env_config import EnvConfig
from sim.expert import dart_noise


def run_episode(env: TabletopEnv, task, seed: int, dart: float) -> tuple[bool, int, int]:
    env.reset(seed=seed, options={"task": task})
    expert = env.expert()
    rng = np.random.default_rng(seed)
    info = {"success": False}
    while True:
        action = expert.act(env.scene_state())
        if dart > 0:
            action = dart_noise(action, rng, dart, dart * 5)
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return info["success"], env.steps, expert.retries


def main() -> None:
    os.environ.setdefault("COLUMNS", "140")  # wide tables when piped to a file
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=100, help="episodes per skill")
    parser.add_argument("--dart", type=float, default=0.0, help="std (m) of DART noise on executed deltas")
    parser.add_argument("--skills", nargs="*", default=None, help="only these skills")
    parser.add_argument("--suite", default="default", help="conf/suites/<name>.yaml")
    args = parser.parse_args()

    config = EnvConfig()
    config.robot.cameras = {}
    env = TabletopEnv(config, suite=args.suite, split="all")
    by_skill = defaultdict(list)
    for t in env.suite.grid:
        by_skill[t.skill].append(t)
    skills = args.skills or list(by_skill)
    jobs = [(s, by_skill[s][i % len(by_skill[s])], i) for s in skills for i in range(args.episodes)]
    results: dict[str, list[tuple[bool, int, int]]] = defaultdict(list)
    failures: list[str] = []
    start = time.perf_counter()
    for skill, task, seed in track(jobs, description="expert episodes"):
        ok, steps, retries = run_episode(env, task, seed, args.dart)
        results[skill].append((ok, steps, retries))
        if not ok:
            failures.append(f"{task.id} seed={seed}")
    env.close()

    table = Table(
        title=f"Scripted expert success ({args.episodes} episodes per skill, randomization on, "
        f"DART std {args.dart} m)"
    )
    for col in (
        "skill",
        "episodes",
        "successes",
        "success rate",
        "mean length (steps)",
        "episodes with a retry",
    ):
        table.add_column(col, justify="right" if col != "skill" else "left")
    for skill in skills:
        r = results[skill]
        ok = sum(x[0] for x in r)
        table.add_row(
            skill,
            str(len(r)),
            str(ok),
            f"{ok / len(r):.0%}",
            f"{np.mean([x[1] for x in r]):.1f}",
            str(sum(x[2] > 0 for x in r)),
        )
    total = [x for r in results.values() for x in r]
    table.add_row(
        "all",
        str(len(total)),
        str(sum(x[0] for x in total)),
        f"{np.mean([x[0] for x in total]):.1%}",
        f"{np.mean([x[1] for x in total]):.1f}",
        str(sum(x[2] > 0 for x in total)),
    )
    console = Console()
    console.print(table)
    console.print(f"{len(total)} episodes in {time.perf_counter() - start:.0f} s")
    if failures:
        console.print("failed: " + ", ".join(failures))


if __name__ == "__main__":
    main()
