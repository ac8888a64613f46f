"""What a training run writes: `checkpoints/last` with its train state (resumed from), snapshots and
`final` in the weights they are deployed with, what each records about the run, and the summary table."""

from __future__ import annotations

import math
import os
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from rich.table import Table

from conf.files import write_atomically
from policy.ema import WeightAverage
from policy.policy import Policy

if TYPE_CHECKING:
    from policy.train_config import TrainConfig


def dataset_label(path: str) -> str:
    """How a checkpoint names its training data: the path relative to the working directory when the
    data lives under it, else the dataset's directory name (never this machine's absolute path)."""
    resolved, here = Path(os.path.normpath(Path(path).absolute())), Path.cwd()
    return str(resolved.relative_to(here)) if resolved.is_relative_to(here) else resolved.name


def run_meta(cfg: TrainConfig, state: dict) -> dict:
    """What a checkpoint records about the run that wrote it (config.json); a fine-tune that mixed
    in a second dataset names it and its share of every batch."""
    mixed = {}
    if cfg.mix_dataset:
        mixed = {"mix_dataset": dataset_label(cfg.mix_dataset), "mix_ratio": cfg.mix_ratio}
    return {
        "dataset": dataset_label(cfg.dataset),
        **mixed,
        "relabels": cfg.relabels,
        "step": state["step"],
        "train_minutes": state["seconds"] / 60,
        "samples": state["samples"],
        "init_from": cfg.init_from,
    }


def deployed(policy: Policy, average: WeightAverage | None):
    """The weights snapshots, rollouts, validation and `final` use: the moving average when there is one."""
    return average.applied(policy) if average is not None else nullcontext()


def save_checkpoint(
    policy: Policy, optimizer, state: dict, path: Path, cfg: TrainConfig, average: WeightAverage | None
) -> None:
    """`last`: the raw weights (training resumes from them), and in train_state.pt the optimizer, the
    counters, the RNG and the weight average."""
    policy.save_pretrained(path, extra=run_meta(cfg, state))
    saved = {"optimizer": optimizer.state_dict(), "state": state, "torch_rng": torch.get_rng_state()}
    saved["ema"] = average.state_dict() if average is not None else None
    write_atomically(path / "train_state.pt", lambda tmp: torch.save(saved, tmp))


def shown(value: float | None, spec: str) -> str:
    """A figure for the summary, or "-" where a run too short to log one has none."""
    return "-" if value is None or math.isnan(value) else format(value, spec)


def summary_table(state: dict, final: Path) -> Table:
    table = Table(title=f"training done -> {final}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("steps", f"{state['step']:,}"),
        ("samples seen", f"{state['samples']:,}"),
        ("global batch", f"{state.get('global_batch', '-')}"),
        ("training time", f"{state['seconds'] / 60:.1f} min"),
        ("last train loss", shown(state.get("last_loss"), ".4f")),
        ("validation loss", shown(state.get("val_loss"), ".4f")),
        ("samples/s (last window)", shown(state.get("samples_per_s"), ".0f")),
        ("data-wait share of step time", shown(state.get("data_wait_fraction"), ".1%")),
    ]
    if "allreduce_ms" in state:  # data-parallel workers: DDP's timing of the gradient all-reduce
        rows.append(("gradient all-reduce per step", f"{state['allreduce_ms']:.1f} ms"))
        rows.append(("  not hidden by the backward pass", f"{state['allreduce_exposed_ms']:.1f} ms"))
    errors = state.get("action_errors", {}).items()
    rows += [(f"held-out {name}", f"{e:.4g} (mean: {base:.4g})") for name, (e, base) in errors]
    for e in state["evals"][-1:]:
        rows += [(f"rollout success {k}", f"{v:.0%}") for k, v in e.items() if k not in ("step", "minutes")]
    for r in rows:
        table.add_row(*r)
    return table
