"""Where one copy of a training run sits among its data-parallel peers (`Replica`): alone in this process
(the default, `workers=1`), or one of N Ray Train workers (`policy.distributed.RayReplica`). The trainer
asks it the few things that differ: which share of the global batch to read, how to wrap the model, how
to agree on the clock, who writes, and where checkpoints are reported. Everything else, the step, the
losses, the schedule and the checkpoints, is the same code whichever way it runs."""

from __future__ import annotations

from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from policy.train_config import TrainConfig, pick_device


class TrainProgress:
    """The run's progress bar: step, loss, and samples/s of the global batch."""

    def __init__(self, console: Console, total: float, completed: float, step: int, batch: int) -> None:
        self.bar = Progress(
            TextColumn(f"[bold]train[/bold] (batch {batch})"),
            BarColumn(),
            TextColumn("step {task.fields[step]}"),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[sps]} samples/s"),
            TimeElapsedColumn(),
            console=console,
        )
        self.bar.start()
        self.task = self.bar.add_task("train", total=total, completed=completed, step=step, loss="-", sps="-")

    def update(self, completed: float, step: int, loss: str, sps: str) -> None:
        self.bar.update(self.task, completed=completed, step=step, loss=loss, sps=sps)

    def close(self) -> None:
        self.bar.stop()


class Replica:
    """A run on its own: rank 0 of 1, in this process."""

    rank, world = 0, 1
    summary_here = True  # the summary table is printed by the main copy (else by whoever started it)

    @property
    def is_main(self) -> bool:
        """Whether this copy writes: logs, TensorBoard, validation, rollouts, checkpoints, the summary."""
        return self.rank == 0

    def rows(self) -> slice:
        """This copy's rows of every global batch (interleaved, so each holds both datasets' samples)."""
        return slice(self.rank, None, self.world)

    def device(self, cfg: TrainConfig) -> torch.device:
        return pick_device(cfg.device)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module the step calls (data-parallel: one that averages gradients across copies)."""
        return model

    def agree(self, seconds: float) -> float:
        """A step's duration all copies count (the slowest one's), so their budgets and schedules match."""
        return seconds

    def sync(self) -> None:
        """Wait for every copy (after work only the main copy did)."""

    def mean(self, value: float) -> float:
        """The mean of a figure over all copies (the logged loss is the global batch's)."""
        return value

    def figures(self, model: torch.nn.Module) -> dict[str, float]:
        """What the data-parallel wrapper measured of its step (none alone)."""
        return {}

    def progress(
        self, console: Console, total: float, completed: float, step: int, batch: int
    ) -> TrainProgress | None:
        """The progress bar of the global batch's run (drawn by the main copy)."""
        return TrainProgress(console, total, completed, step, batch) if self.is_main else None

    def checkpoint(self) -> Path | None:
        """A newer `last` than the run directory's, kept by the engine that restarted this run."""
        return None

    def report(self, state: dict, checkpoint: Path) -> None:
        """Tell the engine a checkpoint was written (called by every copy at the same step)."""
