"""`bcz eval`: a checkpoint in the simulator over N seeded episodes per task, in parallel on Ray.

Reports success per task and the averages of the train and held-out splits, writes a JSON result file
and a few rollout videos. An episode file scores any free-text instruction against a task spec:

    {"task": "put_in/red_block/green_bowl", "instruction": "drop the crimson cube into the green dish"}

one JSON object per line (optionally with "seed" and "episodes").
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from conf.checks import at_least
from data_collection import cluster
from data_collection.video_codec import write_mp4
from evaluation.chains import ChainJob, ChainResult, plan_chains, policy_actor, report_chains, run_chain
from evaluation.rollouts import NOTHING, EpisodeResult, env_config_for, rollout
from policy.policy import EXECUTIONS, Policy
from sim.env import TabletopEnv
from sim.env_config import EnvConfig
from sim.skills import SKILLS
from tasks.instruction_text import check_instruction
from tasks.suite import TaskSuite


@dataclass
class EvalConfig:
    """Schema of `bcz eval` (conf/eval.yaml): checkpoint, tasks, episodes, workers and chunk execution."""

    checkpoint: str | None = None
    env: EnvConfig = field(default_factory=EnvConfig)  # cameras are resized to the checkpoint's
    splits: list[str] = field(default_factory=lambda: ["train", "held_out"])
    tasks: list[str] | None = None  # only these task ids or glob patterns (default: every task of `splits`)
    episodes_per_task: int = 5
    episode_file: str | None = None  # JSON lines of {"task", "instruction"}: replaces splits/tasks
    seed: int = 10_000  # episode k of task i uses seed + 1000 * i + k (collection uses 0, 1, 2, ...)
    workers: int = 2
    videos: int = 4  # rollout videos to write (the first episodes of evenly spaced tasks)
    output_dir: str | None = None  # default: Hydra's run directory
    ray: cluster.RayConfig = field(default_factory=cluster.RayConfig)
    # How the chunks are executed (default: as the checkpoint says): ensemble, or chunk = receding
    # horizon, re-planning every `replan_every` steps.
    execution: str | None = None
    replan_every: int | None = None
    regrasp: int | None = None  # reopen and lift after a grasp closes on air, this many times per episode
    # N > 0: instead of single episodes, `num_chains` chains of N instructions per split, one scene each
    # (CALVIN's protocol; evaluation/chains.py). Chain i of the s-th split uses seed + 100,000 s + i.
    chains: int = 0
    num_chains: int = 100

    def __post_init__(self) -> None:
        at_least(self, 1, "episodes_per_task", "workers", "replan_every", "num_chains")
        at_least(self, 0, "videos", "regrasp", "chains")
        if self.chains and (self.tasks or self.episode_file):
            raise ValueError("chains draw their own tasks from `splits`; drop tasks / episode_file")


@dataclass
class Job:
    """One evaluation episode: task id, split, seed, and the instruction when an episode file gives one."""

    task: str
    split: str
    seed: int
    instruction: str | None = None
    video: bool = False


def read_episode_file(path: str, suite: TaskSuite, seed: int, episodes: int) -> list[Job]:
    """The jobs an episode file asks for (see the module docstring); a bad line is refused by number."""
    jobs = []
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            task = suite.resolve(entry["task"])
            text = entry["instruction"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f'{path}:{n}: expected {{"task": ..., "instruction": ...}}, got {line!r}') from e
        try:
            text = check_instruction(text)
        except ValueError as e:
            raise ValueError(f"{path}:{n}: {e}") from e
        for k in range(int(entry.get("episodes", episodes))):
            jobs.append(Job(task.id, suite.split_of(task), int(entry.get("seed", seed + 1000 * n + k)), text))
    if not jobs:
        raise ValueError(f"{path} lists no episodes")
    return jobs


def plan(cfg: EvalConfig, suite: TaskSuite) -> list[Job]:
    """Every episode to run, `episodes_per_task` per task, with videos for a few evenly spaced ones."""
    if cfg.episode_file:
        jobs = read_episode_file(cfg.episode_file, suite, cfg.seed, cfg.episodes_per_task)
    else:
        tasks = suite.match(cfg.tasks) if cfg.tasks else [t for s in cfg.splits for t in suite.tasks(s)]
        jobs = [
            Job(t.id, suite.split_of(t), cfg.seed + 1000 * i + k)
            for i, t in enumerate(tasks)
            for k in range(cfg.episodes_per_task)
        ]
    for i in np.linspace(0, len(jobs) - 1, min(cfg.videos, len(jobs))).round().astype(int):
        jobs[i].video = True
    return jobs


class EvalWorker:
    """A Ray actor: one policy and one simulator."""

    def __init__(self, checkpoint: str, env: EnvConfig, execution: tuple = (None, None)) -> None:
        import torch

        torch.set_num_threads(1)  # one core per worker: workers, not threads, use the machine
        self.policy = with_execution(Policy.from_pretrained(checkpoint), *execution)
        self.env = TabletopEnv(env_config_for(self.policy, env), split="all")

    def run(self, job: Job) -> EpisodeResult:
        """One episode of `job` (a `rollout`)."""
        return rollout(self.policy, self.env, job.task, job.seed, job.instruction, record=job.video)

    def run_chain(self, job: ChainJob, length: int) -> ChainResult:
        """One chain of `length` instructions for `job`."""
        return run_chain(self.env, job, length, lambda: policy_actor(self.policy))


def with_execution(
    policy: Policy, execution: str | None, replan_every: int | None, regrasp: int | None = None
) -> Policy:
    """The policy executing its chunks as asked (None: as its checkpoint says); checked here."""
    if execution is not None:
        policy.config.execution = execution
    if replan_every is not None:
        policy.config.replan_every = replan_every
    if regrasp is not None:
        policy.config.regrasp = regrasp
    if policy.config.execution not in EXECUTIONS:
        raise ValueError(f"execution={policy.config.execution!r}; valid: {', '.join(EXECUTIONS)}")
    if policy.config.replan_every < 1:
        raise ValueError(f"replan_every={policy.config.replan_every}; it must be at least 1")
    policy.reset()
    return policy


def evaluate(cfg: EvalConfig, output_dir: Path, console: Console | None = None) -> dict:
    """Run every job on Ray workers and report: the summary written to eval.json (chains.json for chains)."""
    import ray

    console = console or Console()
    if not cfg.checkpoint:
        raise ValueError("which policy? usage: bcz eval checkpoint=PATH")
    cluster.check_address(cfg.ray)
    policy = Policy.from_pretrained(cfg.checkpoint)  # fails fast on a bad path, before Ray starts
    with_execution(policy, cfg.execution, cfg.replan_every, cfg.regrasp)
    env_config_for(policy, cfg.env)
    suite = TaskSuite.load(cfg.env.suite)
    for split in cfg.splits:
        suite.tasks(split)  # validates the names before Ray starts
    jobs = plan_chains(cfg.splits, cfg.num_chains, cfg.seed, cfg.videos) if cfg.chains else plan(cfg, suite)
    started_here = cluster.connect(cfg.ray, cfg.workers)
    start = time.perf_counter()
    results: list[tuple[Job, EpisodeResult]] = []
    try:
        remote = ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)(EvalWorker)
        execution = (cfg.execution, cfg.replan_every, cfg.regrasp)
        workers = [remote.remote(cfg.checkpoint, cfg.env, execution) for _ in range(cfg.workers)]

        def submit(i: int, job):
            """Queue job `i` on a worker, round robin."""
            worker = workers[i % len(workers)]
            return worker.run_chain.remote(job, cfg.chains) if cfg.chains else worker.run.remote(job)

        pending = {submit(i, job): job for i, job in enumerate(jobs)}
        with Progress(console=console, transient=True) as progress:
            bar = progress.add_task("evaluate", total=len(jobs))
            while pending:
                [ref], _ = ray.wait(list(pending), num_returns=1)
                results.append((pending.pop(ref), ray.get(ref)))
                progress.advance(bar)
    finally:
        cluster.disconnect(started_here)
    seconds = time.perf_counter() - start
    if cfg.chains:
        chains = sorted((r for _, r in results), key=lambda r: (r.split, r.seed))
        return report_chains(cfg.checkpoint, chains, cfg.chains, output_dir, seconds, console)
    return report(cfg, results, output_dir, seconds, console)


def report(cfg: EvalConfig, results: list, output_dir: Path, seconds: float, console: Console) -> dict:
    """Write eval.json and the videos, print success per skill and split and the failures; returns
    eval.json's summary."""
    per_task: dict[str, list[bool]] = defaultdict(list)
    split_of: dict[str, str] = {}
    for job, r in results:
        per_task[job.task].append(r.success)
        split_of[job.task] = job.split
    by_split = defaultdict(list)
    for task, outcomes in per_task.items():
        by_split[split_of[task]].append(np.mean(outcomes))
    output_dir.mkdir(parents=True, exist_ok=True)
    videos = []
    for job, r in results:
        if r.frames:
            name = f"{job.task.replace('/', '-')}_seed{job.seed}_{'success' if r.success else 'failure'}.mp4"
            videos.append(str(write_mp4(output_dir / "videos" / name, r.frames, fps=10)))
    summary = {
        "checkpoint": str(Path(cfg.checkpoint).resolve()),
        "episodes": len(results),
        "seconds": seconds,
        "success": {split: float(np.mean(rates)) for split, rates in by_split.items()},
        "tasks": {
            t: {"split": split_of[t], "episodes": len(o), "success": float(np.mean(o))}
            for t, o in sorted(per_task.items())
        },
        "episodes_detail": [
            {
                "task": j.task,
                "split": j.split,
                "seed": j.seed,
                "instruction": r.instruction,
                "success": r.success,
                "steps": r.steps,
                "first_grasp": r.first_grasp,
                "grasp_miss": r.grasp_miss,
            }
            for j, r in results
        ],
        "videos": videos,
    }
    (output_dir / "eval.json").write_text(json.dumps(summary, indent=2))
    skills = defaultdict(lambda: defaultdict(list))
    for task, outcomes in per_task.items():
        skills[task.split("/")[0]][split_of[task]] += outcomes
    table = Table(title=f"bcz eval: {cfg.checkpoint}")
    for col in ("skill", "train success", "held-out success"):
        table.add_column(col, justify="left" if col == "skill" else "right")
    fmt = lambda v: f"{np.mean(v):.0%} ({len(v)})" if v else "-"  # noqa: E731
    for skill in sorted(skills):
        table.add_row(skill, fmt(skills[skill]["train"]), fmt(skills[skill]["held_out"]))
    table.add_row(
        "average over tasks",
        *[f"{summary['success'][s]:.1%}" if s in summary["success"] else "-" for s in ("train", "held_out")],
    )
    table.caption = f"{len(results)} episodes in {seconds:.0f} s; details in {output_dir / 'eval.json'}"
    console.print(table)
    console.print(failures_table(results))
    return summary


def failures_table(results: list) -> Table:
    """Why episodes failed, per skill, from what the fingers first closed on once they stopped: never
    (a stall), air (a miss; with the median distance in x, y from the named object's grasp point, which
    tells imprecision, a few cm, from looking in the wrong place), the named object (it went wrong after
    the grasp), the object named second (the roles swapped: the bowl or base taken for what moves), or
    another object (grounding). Skills that push rather than grasp show only their count."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * 6)
    misses: dict[str, list[float]] = defaultdict(list)
    for job, r in results:
        if not r.success:
            skill, target, *reference = job.task.split("/")
            grasp = r.first_grasp
            counts[skill][0] += 1
            named = 3 if grasp == target else 4 if grasp in reference else 5  # the first, second, neither
            counts[skill][1 if grasp is None else 2 if grasp == NOTHING else named] += 1
            if grasp == NOTHING and r.grasp_miss is not None:
                misses[skill].append(r.grasp_miss)
    table = Table(title="failed episodes: what the fingers first closed on")
    for col in (
        "skill",
        "failed",
        "never closed",
        "air",
        "air: miss (median)",
        "the named object",
        "the object named second",
        "another object",
    ):
        table.add_column(col, justify="left" if col == "skill" else "right")
    for skill, (n, *parts) in sorted(counts.items()):
        cells = [f"{p / n:.0%}" for p in parts] if SKILLS[skill].grasps else ["-"] * 5
        miss = f"{np.median(misses[skill]) * 100:.1f} cm" if SKILLS[skill].grasps and misses[skill] else "-"
        table.add_row(skill, str(n), *cells[:2], miss, *cells[2:])
    return table


def main(cfg) -> None:
    """Hydra entry point of `bcz eval`."""
    config: EvalConfig = OmegaConf.to_object(cfg)
    evaluate(config, Path(config.output_dir or HydraConfig.get().runtime.output_dir))
