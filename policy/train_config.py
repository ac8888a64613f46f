"""What a training run is told (`TrainConfig`, `bcz train --help`), its learning-rate schedule and
device, and what it is handed to judge success with (`Rollouts`); `policy/train.py` runs it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import torch

from conf.checks import at_least, fraction, positive
from data_collection.cluster import RayConfig
from policy.data import POLICY_FRAMES
from policy.policy import Policy, PolicyConfig


@dataclass
class RolloutConfig:
    """Periodic rollouts while training (a few tasks per skill; `bcz eval` does the full evaluation)."""

    every_minutes: float = 15.0  # 0: never
    tasks_per_skill: int = 2
    episodes_per_task: int = 1
    splits: list[str] = field(default_factory=lambda: ["train", "held_out"])
    seed: int = 100_000  # far from the collection seeds (0, 1, 2, ...)


class Rollouts(Protocol):
    """How a run is judged by success: handed to `train` by whoever knows a world to run the policy in."""

    def unavailable(self, policy: Policy) -> str | None:
        """None when it can run `policy`; otherwise, in a few words, why not."""

    def __call__(self, policy: Policy) -> dict[str, float]:
        """Success rate per split."""


@dataclass
class TrainConfig:
    """A training run (`bcz train`, `bcz finetune`).

    Args, by purpose:
        data (dataset ... cache_dir): what is trained on and how it is read: hindsight labels, a second
            dataset mixed into every batch, training-only phrasings, DAgger frames, held-out episodes.
        model (policy, init_from): the policy to build, or the checkpoint to start from.
        optimization (batch_size ... seed): AdamW with linear warm-up and cosine decay over the budget.
        budget and hardware (max_minutes ... ray): when the run ends, and where it runs: this process,
            or `workers` data-parallel Ray Train workers (on CPUs, or one GPU each with `use_gpu`).
        outputs and schedules (output_dir ... rollouts): what is written and how often.
    """

    # Data
    dataset: str = "datasets/tabletop"
    relabels: bool = True  # train on hindsight labels too (meta/labels.parquet, from `bcz relabel`)
    mix_dataset: str | None = None  # finetune: also draw from this (old) dataset...
    mix_ratio: float = 0.5  # ...for this fraction of every batch
    paraphrase_set: str | None = None  # conf/paraphrase_sets/<name>.yaml: training-only phrasings
    paraphrase_prob: float = 0.5  # the chance a training sample is told one instead of the suite's
    policy_frames: str = "all"  # DAgger episodes, in either dataset: all | expert (from its first takeover)
    val_fraction: float = 0.05
    cache_dir: str | None = None  # decoded frames; None: ~/.cache/bcz (or $BCZ_CACHE), not the dataset
    # Model
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    init_from: str | None = None  # a checkpoint to start from (bcz finetune)
    # Optimization
    batch_size: int = 64
    lr: float = 6e-4
    weight_decay: float = 0.01
    warmup_steps: int = 500
    ema_decay: float = 0.0  # >0: snapshots, rollouts and final use this moving average of the weights
    seed: int = 0
    # Budget and hardware
    max_minutes: float | None = 90.0  # training-time budget (the CPU target); None: max_steps decides
    max_steps: int = 1_000_000
    device: str = "auto"  # auto | cpu | cuda
    threads: int | None = None  # torch CPU threads (default: all cores; per Ray worker: 1)
    # Data-parallel training on Ray Train (docs/training.md#several-workers): the global batch is
    # batch_size x workers; lr is not scaled with it (set it yourself, as in LeRobot and accelerate).
    workers: int = 1  # 1: this process alone, without Ray; N: N DDP workers (gloo, or NCCL with use_gpu)
    use_gpu: bool = False  # one GPU per Ray worker
    max_failures: int = 3  # Ray Train restarts after a worker dies, each from the last checkpoint
    ray: RayConfig = field(default_factory=RayConfig)
    # Outputs and schedules
    output_dir: str | None = None  # None: Hydra's run directory
    log_every: int = 25
    val_every: int = 500  # steps
    checkpoint_every: int = 1000  # steps, into checkpoints/last
    snapshot_every_minutes: float = 0.0  # also keep checkpoints/min_XXX every N training minutes (0: never)
    rollouts: RolloutConfig = field(default_factory=RolloutConfig)

    def __post_init__(self) -> None:
        at_least(self, 1, "batch_size", "max_steps", "val_every", "log_every", "checkpoint_every")
        at_least(self, 1, "threads", "workers")
        at_least(self, 0, "warmup_steps", "snapshot_every_minutes", "weight_decay", "max_failures")
        if self.use_gpu and self.device == "cpu":
            raise ValueError("use_gpu=true with device=cpu: drop one (use_gpu needs device=auto or cuda)")
        if self.use_gpu and self.workers == 1:
            raise ValueError(
                "use_gpu=true is for Ray workers (workers=N); one process on a GPU needs only device=auto"
            )
        positive(self, "lr", "max_minutes")
        fraction(self, "val_fraction", "mix_ratio", "paraphrase_prob")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay={self.ema_decay}: must be at least 0 (off) and below 1")
        if self.policy_frames not in POLICY_FRAMES:
            raise ValueError(f"policy_frames={self.policy_frames!r}; valid: {', '.join(POLICY_FRAMES)}")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device=cuda but no CUDA device is available; use device=auto or device=cpu")
    return torch.device(name)


def lr_at(cfg: TrainConfig, step: int, progress: float) -> float:
    """Linear warm-up, then cosine decay to 10% over the budget (time or steps)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
