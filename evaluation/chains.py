"""`bcz eval chains=N`: CALVIN's protocol on the suite, chains of N instructions in one scene.

Each seeded chain lays out one scene and tells the policy one instruction after another without a
reset, each next one drawn among the split's tasks that the scripted expert could still do from the
state the last one left (`sim/chain.py`); a failure (no success within `env.max_steps` control steps)
ends the chain. Reported per split: the share of chains with 1..N instructions done in a row, the
average length with its standard error, the success at each position given the ones before succeeded
(overall and per skill), and the chains that ran out of tasks to follow. Runs on the same Ray workers
as `bcz eval`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from data_collection.video_codec import write_mp4
from policy.policy import Policy
from sim.chain import Chain
from sim.env import TabletopEnv


@dataclass
class ChainJob:
    """One chain to run: its split, its seed (the scene and the tasks drawn) and whether to record it."""

    split: str
    seed: int
    video: bool = False


@dataclass
class ChainResult:
    """What happened in one chain, instruction by instruction, up to the first failure."""

    split: str
    seed: int
    tasks: list[str]  # the instructions' tasks, in order, up to the first failure
    instructions: list[str]
    outcomes: list[bool]
    steps: list[int]  # control steps each instruction took
    exhausted: bool  # no task could follow before the chain's length was reached
    frames: list[np.ndarray] | None = None

    @property
    def completed(self) -> int:
        """Instructions done in a row from the start (the chain's length in CALVIN's terms)."""
        return int(np.argmin([*self.outcomes, False]))


# An actor acts for one instruction: (observation, info) -> action. `run_chain` asks for a fresh one at
# every instruction (a policy is reset then, as `bcz run` does; the scripted expert starts its plan).
Actor = Callable[[dict, dict], np.ndarray]


def policy_actor(policy: Policy) -> Actor:
    """An actor for one instruction: `policy`, reset, acting on each observation."""
    policy.reset()
    return lambda obs, info: policy.select_action(obs, info["instruction"])


def run_chain(env: TabletopEnv, job: ChainJob, length: int, actor_for: Callable[[], Actor]) -> ChainResult:
    """One chain, a fresh actor at each instruction, the scene never reset."""
    chain = Chain(env, job.seed, length, job.split)
    frames: list[np.ndarray] | None = [] if job.video else None
    instructions, steps = [], []
    for _ in chain:
        act = actor_for()
        obs, info = chain.obs, chain.info
        instructions.append(info["instruction"])
        while True:
            obs, _, terminated, truncated, info = env.step(act(obs, info))
            if frames is not None:
                frames.append(env.frame())
            if terminated or truncated:
                break
        steps.append(env.steps)
        chain.report(bool(info["success"]))
    tasks = [t.id for t in chain.tasks]
    outcomes = chain.outcomes
    return ChainResult(job.split, job.seed, tasks, instructions, outcomes, steps, chain.exhausted, frames)


def plan_chains(splits: list[str], count: int, seed: int, videos: int) -> list[ChainJob]:
    """`count` chains per split; chain i of the s-th split uses seed + 100,000 s + i."""
    jobs = [ChainJob(split, seed + 100_000 * s + i) for s, split in enumerate(splits) for i in range(count)]
    for i in np.linspace(0, len(jobs) - 1, min(videos, len(jobs))).round().astype(int):
        jobs[i].video = True
    return jobs


def summarize(results: list[ChainResult], length: int) -> dict:
    """Per split: success at 1..N in a row, average length and its standard error, success at each
    position given the earlier ones succeeded (overall and per skill), exhausted chains."""
    out = {}
    for split in sorted({r.split for r in results}):
        rs = [r for r in results if r.split == split]
        done = np.array([r.completed for r in rs])
        position: dict[int, list[bool]] = defaultdict(list)
        skill_position: dict[str, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
        for r in rs:
            for k, (task, ok) in enumerate(zip(r.tasks, r.outcomes, strict=True), start=1):
                position[k].append(ok)
                skill_position[task.split("/")[0]][k].append(ok)
        out[split] = {
            "chains": len(rs),
            "average_length": float(done.mean()),
            "standard_error": float(done.std(ddof=1) / np.sqrt(len(rs))) if len(rs) > 1 else 0.0,
            "in_a_row": [float((done >= k).mean()) for k in range(1, length + 1)],
            "given_previous": {k: _rate(v) for k, v in sorted(position.items())},
            "per_skill": {
                s: {k: _rate(v) for k, v in sorted(p.items())} for s, p in sorted(skill_position.items())
            },
            "exhausted": int(sum(r.exhausted for r in rs)),
        }
    return out


def _rate(outcomes: list[bool]) -> dict:
    return {"success": float(np.mean(outcomes)), "n": len(outcomes)}


def report_chains(
    checkpoint: str,
    results: list[ChainResult],
    length: int,
    output_dir: Path,
    seconds: float,
    console: Console,
) -> dict:
    """Write chains.json and the videos and print the tables; returns the summary."""
    output_dir.mkdir(parents=True, exist_ok=True)
    videos = []
    for r in results:
        if r.frames:
            name = f"chain_{r.split}_seed{r.seed}_{r.completed}of{length}.mp4"
            videos.append(str(write_mp4(output_dir / "videos" / name, r.frames, fps=10)))
    summary = {
        "checkpoint": str(Path(checkpoint).resolve()),
        "chain_length": length,
        "seconds": seconds,
        "splits": summarize(results, length),
        "chains_detail": [{k: v for k, v in asdict(r).items() if k != "frames"} for r in results],
        "videos": videos,
    }
    (output_dir / "chains.json").write_text(json.dumps(summary, indent=2))
    console.print(chains_table(summary, f"bcz eval chains={length}: {checkpoint}"))
    console.print(skills_table(summary))
    return summary


def chains_table(summary: dict, title: str) -> Table:
    """Per split: the share of chains with 1..N done in a row, average length and conditional success."""
    length = summary["chain_length"]
    table = Table(title=title)
    table.add_column("split")
    for k in range(1, length + 1):
        table.add_column(f"{k} in a row", justify="right")
    for col in ("average length", "given previous, 1st / later", "chains", "ran out"):
        table.add_column(col, justify="right")
    for split, s in summary["splits"].items():
        given = s["given_previous"]
        later = [v for k, v in given.items() if int(k) > 1]
        later_rate = sum(v["success"] * v["n"] for v in later) / max(1, sum(v["n"] for v in later))
        first = given.get(1, given.get("1", {"success": float("nan")}))["success"]
        table.add_row(
            split,
            *[f"{v:.0%}" for v in s["in_a_row"]],
            f"{s['average_length']:.2f} ± {s['standard_error']:.2f}",
            f"{first:.0%} / {later_rate:.0%}" if later else f"{first:.0%} / -",
            str(s["chains"]),
            str(s["exhausted"]),
        )
    table.caption = f"{summary['seconds']:.0f} s; ± is the standard error over chains"
    return table


def skills_table(summary: dict) -> Table:
    """Success at each position of the chain per skill, given the earlier instructions succeeded."""
    length = summary["chain_length"]
    table = Table(title="per skill: success at each position (instructions)")
    table.add_column("split")
    table.add_column("skill")
    for k in range(1, length + 1):
        table.add_column(f"#{k}", justify="right")
    for split, s in summary["splits"].items():
        for skill, by_position in s["per_skill"].items():
            cells = []
            for k in range(1, length + 1):
                v = by_position.get(k, by_position.get(str(k)))
                cells.append(f"{v['success']:.0%} ({v['n']})" if v else "-")
            table.add_row(split, skill, *cells)
    return table
