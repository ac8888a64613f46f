"""`bcz tasks`: the suite's grid, split and phrasings at a glance; proposes a held-out split."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from tasks.suite import TaskSpec, TaskSuite


@dataclass
class TasksConfig:
    suite: str = "default"
    split: str = "all"  # train | held_out | all
    propose_held_out: float = 0.0  # >0: print a held-out list of about this fraction of the grid
    seed: int = 0


def propose_held_out(suite: TaskSuite, fraction: float, seed: int) -> list[TaskSpec]:
    """Hold out about `fraction` of each skill's tasks, never the last train task of a skill, object or
    word (BC-Z's rule: every part of a held-out task is seen in training, only the combination is new)."""
    rng = np.random.default_rng(seed)
    held: list[TaskSpec] = []
    for skill in suite.config.skills:
        tasks = [t for t in suite.grid if t.skill == skill]
        quota = round(fraction * len(tasks))
        for i in rng.permutation(len(tasks)):
            if sum(t.skill == skill for t in held) >= quota:
                break
            trial = TaskSuite.from_config(
                {
                    **OmegaConf.to_container(OmegaConf.structured(suite.config)),
                    "held_out": [t.id for t in [*held, tasks[i]]],
                }
            )
            if not trial.split_violations():
                held.append(tasks[i])
    return held


def run(cfg: TasksConfig) -> None:
    suite = TaskSuite.load(cfg.suite)
    console = Console()
    if cfg.propose_held_out > 0:
        held = propose_held_out(suite, cfg.propose_held_out, cfg.seed)
        console.print(
            f"# {len(held)} of {len(suite.grid)} tasks held out ({len(held) / len(suite.grid):.0%})"
        )
        print("held_out:\n" + "\n".join(f"  - {t.id}" for t in sorted(held)))
        return
    tasks = suite.tasks(cfg.split)
    table = Table(title=f"suite {cfg.suite!r}, split {cfg.split!r}: {len(tasks)} tasks")
    for col in ("task", "split", "example instruction"):
        table.add_column(col)
    for t in tasks:
        table.add_row(t.id, suite.split_of(t), suite.instructions(t)[0])
    console.print(table)
    counts = Table(title="tasks per skill")
    for col in ("skill", "train", "held_out"):
        counts.add_column(col)
    train, held = Counter(t.skill for t in suite.tasks("train")), Counter(t.skill for t in suite.held_out)
    for skill in suite.config.skills:
        counts.add_row(skill, str(train[skill]), str(held[skill]))
    counts.add_row("total", str(sum(train.values())), str(sum(held.values())))
    console.print(counts)


def main(cfg) -> None:
    run(OmegaConf.to_object(cfg))
