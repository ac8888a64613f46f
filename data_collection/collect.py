"""`bcz collect`: scripted-expert demonstrations gathered by Ray workers into a LeRobot v3 dataset.

Each worker owns a simulator; it plays and encodes whole episodes, and the driver commits them as they
arrive (one atomic commit each). Job j always means the same episode: task j of a seeded shuffle of
the split, seed `seed + j`. So a crashed worker's episode is retried and comes out identical, and
`--resume` knows exactly which jobs are missing: the run ends with the requested number of episodes,
no duplicates, no gaps. Failed expert episodes are kept, flagged, for hindsight relabeling.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from conf.checks import at_least
from data_collection import cluster
from data_collection.dataset import write_json
from data_collection.episode import EncodedEpisode, encode_episode
from data_collection.layout import CAMERA_SETUP, COLLECTION_PATH, tabletop_features
from data_collection.rollout import play_chain, play_expert
from data_collection.video_codec import VideoConfig
from data_collection.writer import DatasetWriter
from sim.env import TabletopEnv
from sim.env_config import EnvConfig
from tasks.suite import TaskSpec, TaskSuite, UnknownTaskError

log = logging.getLogger(__name__)


class CollectionError(RuntimeError):
    """A job failed on every attempt; the dataset keeps what was committed and can be resumed."""


@dataclass
class CollectConfig:
    """Schema of `bcz collect` (conf/collect.yaml): the dataset, how many episodes of which tasks, workers."""

    env: EnvConfig = field(default_factory=EnvConfig)
    output: str = "datasets/tabletop"
    episodes: int = 100  # total wanted in the dataset (a resumed run collects only the missing ones)
    split: str = "train"  # tasks to demonstrate: train | held_out | all
    tasks: list[str] | None = None  # only the split's tasks matching these ids or globs ("*pink_block*")
    workers: int = 2
    seed: int = 0  # job j plays with seed + j
    dart: float = 0.003  # std (m) of DART noise on executed deltas; 5x that in rad on rotations
    resume: bool = False
    video: VideoConfig = field(default_factory=VideoConfig)
    ray: cluster.RayConfig = field(default_factory=cluster.RayConfig)
    attempts: int = 3  # per job, on top of Ray restarting a crashed worker and retrying its task
    # Demonstrate each job's task with its two objects' roles swapped ("stack the blue block on the red
    # block" for "... the red block on the blue block"), in the very scene that job's own episode had;
    # jobs whose swapped task is not a task of the split are left out. Collected beside a dataset of the
    # same seed and split, every swapped episode starts from the same frame as one episode there.
    swap_roles: bool = False
    # N > 0: each episode is a chain of up to N instructions in one scene (sim/chain.py), the expert doing
    # task after task without a reset; every frame carries its own instruction (task_index per frame).
    chain: int = 0

    def __post_init__(self) -> None:
        at_least(self, 1, "episodes", "workers", "attempts")
        at_least(self, 0, "dart", "chain")
        if self.chain and (self.swap_roles or self.tasks):
            raise ValueError(
                "chain draws each next task from the split (`split=`), after the scene: "
                "drop swap_roles / tasks, or collect single-task episodes (chain=0)"
            )


def select_tasks(suite, cfg: CollectConfig) -> list[TaskSpec]:
    """The tasks of the split to demonstrate: those matching `cfg.tasks`, else all of them (a held-out
    task is demonstrated only when asked for by `split=held_out` or `split=all`)."""
    if not cfg.tasks:
        return suite.tasks(cfg.split)
    matched = suite.match(cfg.tasks)
    chosen = [t for t in matched if cfg.split == "all" or suite.split_of(t) == cfg.split]
    if not chosen:
        raise UnknownTaskError(
            f"tasks {cfg.tasks} match no {cfg.split} task of the suite (they are "
            f"{', '.join(sorted({suite.split_of(t) for t in matched}))}); pass split=held_out or split=all"
        )
    return chosen


def role_swap(suite: TaskSuite, task: TaskSpec, split: str) -> TaskSpec | None:
    """The task with its object to move and its reference exchanged, when that is a task of `split`."""
    if task.reference is None:
        return None
    try:
        swapped = suite.resolve(TaskSpec(task.skill, task.reference, task.target))
    except UnknownTaskError:
        return None
    return swapped if split == "all" or suite.split_of(swapped) == split else None


def plan_task(tasks: list[TaskSpec], seed: int, job: int) -> TaskSpec:
    """Task of job j: the split is shuffled afresh (seeded) for every pass, so tasks stay balanced."""
    cycle, position = divmod(job, len(tasks))
    return tasks[int(np.random.default_rng([seed, cycle]).permutation(len(tasks))[position])]


class CollectorWorker:
    """A Ray actor: one simulator, playing and encoding episodes on request."""

    def __init__(self, env_config: EnvConfig, split: str, video: VideoConfig) -> None:
        self.env = TabletopEnv(env_config, split=split)
        self.video = video

    def pid(self) -> int:
        """The worker's process id, handed to `collect`'s `on_commit` callback."""
        return os.getpid()

    def run(
        self, job: int, seed: int, task: str, dart: float, layout: str | None = None, chain: int = 0
    ) -> EncodedEpisode:
        """Play job `job` (an expert episode, one in another task's `layout`, or a chain) and encode it."""
        if chain:
            episode = play_chain(self.env, task, seed, chain, self.env.split, dart, job)
        else:
            episode = play_expert(self.env, task, seed, dart, job, layout)
        return encode_episode(episode, self.env.config.robot.control_hz, self.video)


@dataclass
class CollectResult:
    """What a `collect` run added: the committed episode indices, success per skill, lengths, retries."""

    root: Path
    committed: list[int]  # episode indices added by this run
    successes: dict[str, list[bool]]  # per skill
    lengths: list[int]
    resubmitted: int
    seconds: float


def collect(
    cfg: CollectConfig,
    on_commit: Callable[[int, list[int]], None] | None = None,
    worker: type = CollectorWorker,
    worker_args: tuple | None = None,
    jobs: range | None = None,
) -> CollectResult:
    """Run the collection; `on_commit(episode_index, worker_pids)` is called after every commit.
    `worker` is the Ray actor class playing the episodes (`run(job, seed, task, dart)`), built from
    `worker_args` (default: the scripted experts, `CollectorWorker(env, split, video)`); `jobs` are the
    job ids to play (default: range(episodes)), those already in the dataset skipped."""
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    cluster.check_address(cfg.ray)  # before anything is written
    suite, writer = _open_dataset(cfg)
    tasks = select_tasks(suite, cfg)
    done = writer.jobs()
    wanted = jobs or range(cfg.episodes)
    swaps = _role_swaps(cfg, suite, tasks, wanted) if cfg.swap_roles else {}
    if cfg.swap_roles:
        wanted = sorted(swaps)
    todo = collections.deque((j, 1) for j in wanted if j not in done)
    result = CollectResult(Path(cfg.output), [], collections.defaultdict(list), [], 0, 0.0)
    if not todo:
        mark_collection(writer, cfg, complete=True)
        return result
    started_here = cluster.connect(cfg.ray, cfg.workers)
    start = time.perf_counter()
    try:
        remote = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=2)(worker)
        args = worker_args if worker_args is not None else (cfg.env, cfg.split, cfg.video)
        workers = [remote.remote(*args) for _ in range(cfg.workers)]
        pids = ray.get([w.pid.remote() for w in workers])
        inflight: dict = {}
        with _progress(len(todo)) as progress:
            bar = progress.add_task("collect", total=len(todo), success="-", rate="-")
            turn = 0
            while todo or inflight:
                while todo and len(inflight) < 2 * len(workers):
                    job, attempt = todo.popleft()
                    task, where = _job_task(cfg, tasks, swaps, job)
                    ref = workers[turn % len(workers)].run.remote(
                        job, cfg.seed + job, task.id, cfg.dart, **where
                    )
                    inflight[ref] = (job, attempt, task)
                    turn += 1
                [ref], _ = ray.wait(list(inflight), num_returns=1)
                job, attempt, task = inflight.pop(ref)
                try:
                    episode = ray.get(ref)
                except (RayActorError, RayTaskError) as e:
                    if attempt >= cfg.attempts:
                        raise CollectionError(
                            f"job {job} ({task.id}, seed {cfg.seed + job}) failed {attempt} times; "
                            f"{len(result.committed)} episodes were committed to {cfg.output} "
                            f"(resume=true continues): {e}"
                        ) from e
                    log.warning(
                        "job %d failed (attempt %d of %d), resubmitting: %s", job, attempt, cfg.attempts, e
                    )
                    todo.appendleft((job, attempt + 1))
                    result.resubmitted += 1
                    continue
                index = writer.add(episode)
                _count(result, index, episode, task)
                ok = [s for v in result.successes.values() for s in v]
                rate = f"{len(result.committed) / ((time.perf_counter() - start) / 60):.1f}"
                progress.update(bar, advance=1, success=f"{np.mean(ok):.0%}", rate=rate)
                if on_commit:
                    pids = ray.get([w.pid.remote() for w in workers])
                    on_commit(index, pids)
        mark_collection(writer, cfg, complete=True)
    finally:
        result.seconds = time.perf_counter() - start
        cluster.disconnect(started_here)
    return result


def _job_task(cfg: CollectConfig, tasks: list[TaskSpec], swaps: dict, job: int) -> tuple[TaskSpec, dict]:
    """The task job `job` plays, and where: in a chain (`cfg.chain`), or in the layout of the task whose
    roles it swaps (`cfg.swap_roles`)."""
    if cfg.swap_roles:
        task, own = swaps[job]
        return task, {"layout": own.id}
    return plan_task(tasks, cfg.seed, job), ({"chain": cfg.chain} if cfg.chain else {})


def _open_dataset(cfg: CollectConfig) -> tuple[TaskSuite, DatasetWriter]:
    """The suite, and the dataset opened for writing (marked partial until every job is in); a probe
    env validates suite, split and config before Ray starts."""
    probe = TabletopEnv(cfg.env, split=cfg.split)
    fps = cfg.env.robot.control_hz
    features = tabletop_features(
        probe.arm.observation_features, probe.arm.action_features["action"], cfg.video, fps
    )
    suite, robot_type = probe.suite, probe.arm.name
    probe.close()
    check_same_kind(Path(cfg.output), cfg.chain)
    writer = DatasetWriter(cfg.output, features, fps, robot_type, resume=cfg.resume)
    mark_collection(writer, cfg, complete=False)
    return suite, writer


def _role_swaps(cfg: CollectConfig, suite: TaskSuite, tasks: list[TaskSpec], wanted) -> dict:
    """job -> (the task played, the task whose scene it is played in), for the jobs whose swapped task
    is in the split."""
    swaps = {}
    for j in wanted:
        own = plan_task(tasks, cfg.seed, j)
        swapped = role_swap(suite, own, cfg.split)
        if swapped is not None:
            swaps[j] = (swapped, own)
    return swaps


def _count(result: CollectResult, index: int, episode, task: TaskSpec) -> None:
    """Episode `index`, just committed, in the run's figures: success per skill (per instruction for a
    chain) and length."""
    result.committed.append(index)
    for seg in episode.info.segments or [{"task": task.id, "success": episode.info.success}]:
        result.successes[seg["task"].split("/")[0]].append(seg["success"])
    result.lengths.append(len(episode))


def check_same_kind(root: Path, chain: int) -> None:
    """A dataset grows by episodes of the kind it holds: single tasks or chains of one length."""
    path = root / COLLECTION_PATH
    if not path.is_file():
        return
    before = int(json.loads(path.read_text()).get("chain", 0))
    if before != chain:
        raise ValueError(
            f"{root} holds episodes collected with chain={before}, not chain={chain}: add to it with "
            f"chain={before}, or write to another dataset and mix this one in when training (mix_dataset=)"
        )


def mark_collection(writer: DatasetWriter, cfg: CollectConfig, complete: bool) -> None:
    """meta/collection.json: what was asked for, and whether it is all there."""
    write_json(
        writer.root,
        COLLECTION_PATH,
        {
            "requested_episodes": cfg.episodes,
            "committed_episodes": len(writer.episodes),
            "complete": complete,
            "split": cfg.split,
            "seed": cfg.seed,
            "dart": cfg.dart,
            "swap_roles": cfg.swap_roles,
            "chain": cfg.chain,
            "cameras": {  # where the cameras were: a policy trained here is run with the same views
                name: {k: getattr(cam, k) for k in CAMERA_SETUP}
                for name, cam in cfg.env.robot.cameras.items()
            },
        },
    )


def _progress(total: int) -> Progress:
    return Progress(
        TextColumn("[bold]collect"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("success {task.fields[success]}"),
        TextColumn("{task.fields[rate]} episodes/min"),
        TimeRemainingColumn(),
    )


def summary(result: CollectResult) -> Table:
    """The run's success per skill, frames, rate and resubmissions as a table."""
    table = Table(title=f"bcz collect -> {result.root}")
    for col in ("skill", "instructions", "successes", "success rate"):
        table.add_column(col, justify="left" if col == "skill" else "right")
    for skill, outcomes in sorted(result.successes.items()):
        table.add_row(skill, str(len(outcomes)), str(sum(outcomes)), f"{np.mean(outcomes):.0%}")
    total = [s for v in result.successes.values() for s in v]
    if total:
        table.add_row("all", str(len(total)), str(sum(total)), f"{np.mean(total):.1%}")
    minutes = result.seconds / 60
    episodes = len(result.committed)
    table.caption = (
        f"{episodes} episodes ({len(total)} instructions), {sum(result.lengths)} frames in "
        f"{result.seconds:.0f} s ({episodes / minutes if minutes else 0:.1f} episodes/min); "
        f"jobs resubmitted after worker failures: {result.resubmitted}"
    )
    return table


def main(cfg) -> None:
    """Hydra entry point of `bcz collect`; on Ctrl-C the committed episodes stay and `--resume` finishes."""
    config: CollectConfig = OmegaConf.to_object(cfg)
    console = Console()
    try:
        result = collect(config)
    except KeyboardInterrupt:
        console.print(
            f"interrupted: every committed episode in {config.output} is intact; "
            "run again with --resume to finish"
        )
        raise SystemExit(130) from None
    if not result.committed:
        console.print(f"{config.output} already holds all {config.episodes} episodes; nothing to do")
        return
    console.print(summary(result))
