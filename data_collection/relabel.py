"""`bcz relabel`: hindsight relabeling from recorded sim states, in parallel on Ray.

For every episode, the recorded object poses and gripper state are replayed through the success check
of every task whose objects were in the scene. A task is achieved when its check becomes true during
the episode after being false at the start (CALVIN's rule); the frames up to that moment become a
demonstration of it, labelled with several paraphrases. A failed "pick up the red block" that ended
with the block in the bowl thus yields a correct "put the red block in the bowl" example.

Only tasks of `split` (train by default) are ever used as new labels, so held-out task combinations
stay undemonstrated. The result is the labels table meta/labels.parquet (frames are never rewritten):
one row per (episode, frame range, instruction), the original instruction included with its outcome.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from omegaconf import OmegaConf
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from data_collection import cluster
from data_collection.dataset import DatasetReader, table_to_numpy, write_parquet
from data_collection.layout import LABELS_PATH, POSE_NAMES, data_path
from sim.skills import SKILLS
from sim.state import ObjectState, SceneState
from tasks.suite import ObjectRef, TaskSpec, TaskSuite

LABEL_COLUMNS = ("episode_index", "start_frame", "end_frame", "task", "instruction", "original", "achieved")


@dataclass
class RelabelConfig:
    dataset: str | None = None  # the dataset to relabel (its frames are left untouched)
    suite: str = "default"
    split: str = "train"  # new labels come only from tasks of this split
    paraphrases: int = 3  # instructions per achieved task
    workers: int = 2
    episodes_per_task: int = 32  # episodes in one Ray task
    seed: int = 0
    ray: cluster.RayConfig = field(default_factory=cluster.RayConfig)


def scene_states(frames: dict[str, np.ndarray], objects: list[str]) -> list[SceneState]:
    """The recorded world at every frame, as the success checks read it."""
    poses = frames["observation.environment_state"].reshape(len(frames["action"]), -1, len(POSE_NAMES))
    state = frames["observation.state"]
    out = []
    for t in range(len(state)):
        objs = {}
        for slot, name in enumerate(objects):
            ref = ObjectRef.parse(name)
            objs[name] = ObjectState(
                name,
                ref.kind,
                ref.colour,
                poses[t, slot, :3].astype(np.float64),
                poses[t, slot, 3:].astype(np.float64),
            )
        out.append(
            SceneState(
                objs, state[t, :3].astype(np.float64), state[t, 3:7].astype(np.float64), float(state[t, 7])
            )
        )
    return out


def achievements(states: list[SceneState], candidates: list[TaskSpec]) -> list[tuple[TaskSpec, int]]:
    """(task, first frame at which it is satisfied) for every candidate not satisfied at frame 0."""
    found = []
    for task in candidates:
        check = SKILLS[task.skill].satisfied
        if check(task, states[0]):
            continue
        for t in range(1, len(states)):
            if check(task, states[t]):
                found.append((task, t))
                break
    return found


def relabel_episodes(
    root: str, episodes: list[dict], suite: TaskSuite, split: str, paraphrases: int, seed: int
) -> list[dict]:
    """Label rows for some episodes; `episodes` carries each one's index, length, objects and outcome,
    and a chain's segments. A chain is relabelled segment by segment: every task achieved during an
    instruction's frames, from that instruction's first frame (the frame after the last achievement)."""
    allowed = suite.tasks(split)
    rows = []
    for ep in episodes:
        index, objects = ep["index"], list(ep["objects"])
        segments = ep.get("segments") or [
            {
                "task": ep["task"],
                "instruction": ep["instruction"],
                "start": 0,
                "end": ep["length"],
                "success": ep["success"],
            }
        ]
        for seg in segments:
            rows.append(
                {
                    "episode_index": index,
                    "start_frame": int(seg["start"]),
                    "end_frame": int(seg["end"]),
                    "task": seg["task"],
                    "instruction": seg["instruction"],
                    "original": True,
                    "achieved": bool(seg["success"]),
                }
            )
        present = set(objects)
        candidates = [t for t in allowed if {o.name for o in t.objects} <= present]
        if not candidates:
            continue
        frames = table_to_numpy(
            pq.read_table(
                Path(root) / data_path(index),
                columns=["observation.state", "observation.environment_state", "action"],
            )
        )
        states = scene_states(frames, objects)
        rng = np.random.default_rng([seed, index])
        for seg in segments:
            start, end = int(seg["start"]), int(seg["end"])
            others = [t for t in candidates if t.id != seg["task"]]
            for task, t in achievements(states[start:end], others):
                options = suite.instructions(task)
                for k in rng.choice(len(options), size=min(paraphrases, len(options)), replace=False):
                    rows.append(
                        {
                            "episode_index": index,
                            "start_frame": start,
                            "end_frame": start + int(t),
                            "task": task.id,
                            "instruction": options[int(k)],
                            "original": False,
                            "achieved": True,
                        }
                    )
    return rows


def relabel(cfg: RelabelConfig) -> dict:
    import ray

    if not cfg.dataset:
        raise ValueError("which dataset? usage: bcz relabel dataset=PATH")
    cluster.check_address(cfg.ray)
    reader = DatasetReader(cfg.dataset)
    suite = TaskSuite.load(cfg.suite)
    suite.tasks(cfg.split)  # validates the split name
    episodes = []
    for i in range(reader.num_episodes):
        info = reader.info_of(i)
        episodes.append(
            {
                "index": i,
                "length": reader.episodes[i]["length"],
                "objects": info.get("objects") or [],
                "task": info.get("task", ""),
                "instruction": info.get("instruction") or reader.episodes[i]["tasks"][0],
                "success": info.get("success", False),
                "segments": info.get("segments"),
            }
        )
    batches = [
        episodes[i : i + cfg.episodes_per_task] for i in range(0, len(episodes), cfg.episodes_per_task)
    ]
    started_here = cluster.connect(cfg.ray, cfg.workers)
    start = time.perf_counter()
    rows: list[dict] = []
    try:
        work = ray.remote(num_cpus=1, max_retries=3)(relabel_episodes)
        suite_ref = ray.put(suite)
        pending = [
            work.remote(str(reader.root), b, suite_ref, cfg.split, cfg.paraphrases, cfg.seed) for b in batches
        ]
        with Progress(transient=True) as progress:
            bar = progress.add_task("relabel", total=len(episodes))
            while pending:
                [done], pending = ray.wait(pending, num_returns=1)
                batch_rows = ray.get(done)
                rows += batch_rows
                progress.advance(bar, sum(r["original"] for r in batch_rows))
    finally:
        cluster.disconnect(started_here)
    seconds = time.perf_counter() - start
    rows.sort(key=lambda r: (r["episode_index"], not r["original"], r["task"], r["instruction"]))
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("episode_index", pa.int64()),
                ("start_frame", pa.int64()),
                ("end_frame", pa.int64()),
                ("task", pa.string()),
                ("instruction", pa.string()),
                ("original", pa.bool_()),
                ("achieved", pa.bool_()),
            ]
        ),
    )
    write_parquet(reader.root, LABELS_PATH, table)
    return {"episodes": len(episodes), "rows": rows, "seconds": seconds}


def summary(result: dict, path: str) -> Table:
    rows = result["rows"]
    originals = [r for r in rows if r["original"]]
    new = [r for r in rows if not r["original"]]
    per_skill = collections.Counter(r["task"].split("/")[0] for r in new)
    tasks_per_skill = collections.defaultdict(set)
    for r in new:
        tasks_per_skill[r["task"].split("/")[0]].add((r["episode_index"], r["task"]))
    table = Table(title=f"bcz relabel -> {path}/{LABELS_PATH}")
    for col in ("skill", "hindsight demonstrations", "labels (with paraphrases)"):
        table.add_column(col, justify="left" if col == "skill" else "right")
    for skill in sorted(per_skill):
        table.add_row(skill, str(len(tasks_per_skill[skill])), str(per_skill[skill]))
    succeeded = sum(r["achieved"] for r in originals)
    eps = result["episodes"] / result["seconds"] if result["seconds"] else 0.0
    said = "" if len(originals) == result["episodes"] else f", {len(originals)} instructions"
    table.caption = (
        f"{result['episodes']} episodes{said} ({succeeded} succeeded at their own instruction), "
        f"{len(new)} new labels in {result['seconds']:.1f} s ({eps:.1f} episodes/s)"
    )
    return table


def main(cfg) -> None:
    config: RelabelConfig = OmegaConf.to_object(cfg)
    result = relabel(config)
    Console().print(summary(result, config.dataset))
