"""`bcz train` and `bcz finetune`: behavior cloning with a time or step budget, resumable.

GPU with bf16 autocast when one is there, CPU otherwise. Progress bar with loss and samples/s,
TensorBoard logs (`tensorboard --logdir OUTPUT/tb`), validation loss on held-out episodes, periodic
rollouts in the simulator, and checkpoints: OUTPUT/checkpoints/last (resumed from after an
interruption) plus a snapshot at every evaluation, for success-vs-training-time curves.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from conf.checks import at_least, fraction, positive
from policy.data import POLICY_FRAMES, DemoData, augment, config_from_data
from policy.ema import WeightAverage
from policy.offline import action_errors, why_no_rollouts
from policy.paraphrase import Paraphrases
from policy.policy import Policy, PolicyConfig, make_encoder
from policy.prefetch import Prefetcher
from policy.rollouts import RolloutConfig, evaluate_in_process
from policy.run_outputs import deployed, run_meta, save_checkpoint, summary_table
from policy.widen import with_modes, with_pooling
from sim.suite import TaskSuite

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    dataset: str = "datasets/tabletop"
    cache_dir: str | None = None  # decoded frames; None: ~/.cache/bcz (or $BCZ_CACHE), not the dataset
    output_dir: str | None = None  # None: Hydra's run directory
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    relabels: bool = True  # train on hindsight labels too (meta/labels.parquet, from `bcz relabel`)
    batch_size: int = 64
    lr: float = 6e-4
    weight_decay: float = 0.01
    warmup_steps: int = 500
    max_minutes: float | None = 90.0  # training-time budget (the CPU target); None: max_steps decides
    max_steps: int = 1_000_000
    val_fraction: float = 0.05
    val_every: int = 500  # steps
    log_every: int = 25
    rollouts: RolloutConfig = field(default_factory=RolloutConfig)
    checkpoint_every: int = 1000  # steps, into checkpoints/last
    snapshot_every_minutes: float = 0.0  # also keep checkpoints/min_XXX every N training minutes (0: never)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    threads: int | None = None  # torch CPU threads (default: all cores)
    init_from: str | None = None  # a checkpoint to start from (bcz finetune)
    mix_dataset: str | None = None  # finetune: also draw from this (old) dataset...
    mix_ratio: float = 0.5  # ...for this fraction of every batch
    paraphrase_set: str | None = None  # conf/paraphrase_sets/<name>.yaml: training-only phrasings
    paraphrase_prob: float = 0.5  # the chance a training sample is told one instead of the suite's
    policy_frames: str = "all"  # DAgger episodes, in either dataset: all | expert (from its first takeover)
    ema_decay: float = 0.0  # >0: snapshots, rollouts and final use this moving average of the weights

    def __post_init__(self) -> None:
        at_least(self, 1, "batch_size", "max_steps", "val_every", "log_every", "checkpoint_every", "threads")
        at_least(self, 0, "warmup_steps", "snapshot_every_minutes", "weight_decay")
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


def train(cfg: TrainConfig, output_dir: Path, console: Console | None = None) -> dict:
    console = console or Console()
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    suite = TaskSuite.load(cfg.policy.suite)
    if cfg.policy.reader is not None:
        raise ValueError("policy.reader is fit by `bcz fit-reader` on a trained policy, not by training")
    last = output_dir / "checkpoints" / "last"
    resume = (last / "train_state.pt").is_file()  # an interrupted run: continue where it stopped
    start_from = last if resume else cfg.init_from
    policy = Policy.from_pretrained(start_from).train() if start_from else None
    if resume:
        console.print(f"resuming from {last}")
    elif policy is not None:  # fine-tuning: policy.pooling / policy.modes widen a mean-pooled, one-mode one
        if policy.reader is not None:
            log.warning("%s has an instruction reader; fine-tuning drops it (bcz fit-reader)", start_from)
            policy.set_reader(None, None)
        policy = with_modes(with_pooling(policy, cfg.policy.pooling), cfg.policy.modes)
    if policy is None and cfg.policy.encoder == "onehot":
        cfg.policy.onehot_tasks = [t.id for t in suite.tasks("train")]
    encoder = policy.encoder if policy is not None else make_encoder(cfg.policy)
    actions = (policy.config if policy is not None else cfg.policy).actions
    paraphrases = None
    if cfg.paraphrase_set and encoder.name == "onehot":  # one-hot ids know only the suite's phrasings
        log.warning("paraphrase_set=%s ignored: a one-hot encoder has no words to vary", cfg.paraphrase_set)
    elif cfg.paraphrase_set:
        paraphrases = Paraphrases.load(cfg.paraphrase_set, suite)
    data = DemoData(
        cfg.dataset,
        encoder,
        cfg.policy.chunk,
        suite=suite,
        actions=actions,
        gripper=(policy.config if policy is not None else cfg.policy).gripper,
        relabels=cfg.relabels,
        val_fraction=cfg.val_fraction,
        seed=cfg.seed,
        cache_dir=cfg.cache_dir,
        paraphrases=paraphrases,
        paraphrase_prob=cfg.paraphrase_prob,
        policy_frames=cfg.policy_frames,
    )
    if policy is None:
        policy = Policy(config_from_data(cfg.policy, data), encoder.dim)
        per_step = data.actions != "delta"  # the targets' own (K, A) statistics; delta: the dataset's
        policy.set_statistics(data.cache.stats, data.action_statistics() if per_step else None)
    policy.check_features(data.features, "dataset")
    rollouts_every = cfg.rollouts.every_minutes
    no_sim = why_no_rollouts(policy)
    if no_sim:  # said once: what this run is judged by instead of success
        rollouts_every = 0
        console.print(
            f"no rollouts in the simulator: {no_sim}. Judging by validation loss and per-channel action "
            f"error on {len(data.val_episodes)} held-out episode(s) instead."
            if len(data.val_index[0])
            else f"no rollouts in the simulator: {no_sim}, and no held-out episodes (val_fraction="
            f"{cfg.val_fraction}): nothing will judge this run; set val_fraction=0.1"
        )
    mix = None
    if cfg.mix_dataset:
        mix = DemoData(
            cfg.mix_dataset,
            policy.encoder,
            cfg.policy.chunk,
            suite=suite,
            actions=policy.config.actions,
            gripper=policy.config.gripper,
            relabels=cfg.relabels,
            val_fraction=0.0,
            seed=cfg.seed,
            paraphrases=paraphrases,
            paraphrase_prob=cfg.paraphrase_prob,
            policy_frames=cfg.policy_frames,
        )
        policy.check_features(mix.features, "mixed-in dataset")
    policy.to(device).train()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    average = WeightAverage(policy, cfg.ema_decay) if cfg.ema_decay else None
    state = {"step": 0, "seconds": 0.0, "samples": 0, "evals": []}
    if resume:
        saved = torch.load(last / "train_state.pt", weights_only=False)
        optimizer.load_state_dict(saved["optimizer"])
        if average is not None and saved.get("ema"):
            average.load_state_dict(saved["ema"])
        state = saved["state"]
        torch.set_rng_state(saved["torch_rng"])
    rng = np.random.default_rng([cfg.seed, state["step"]])
    n_mix = round(cfg.batch_size * cfg.mix_ratio) if mix else 0

    def make_batch():
        batch = data.batch(rng, cfg.batch_size - n_mix)
        if mix:
            other = mix.batch(rng, n_mix)
            batch = {
                k: (
                    {c: torch.cat([v[c], other[k][c]]) for c in v}
                    if isinstance(v, dict)
                    else torch.cat([v, other[k]])
                )
                for k, v in batch.items()
            }
        return batch

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(output_dir / "tb"))
    budget = cfg.max_minutes * 60 if cfg.max_minutes else None
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    prefetch = Prefetcher(make_batch)
    val_rng = np.random.default_rng([cfg.seed, 99])
    next_eval = (len(state["evals"]) + 1) * rollouts_every * 60 if rollouts_every else None
    every = cfg.snapshot_every_minutes * 60
    next_snapshot = (math.floor(state["seconds"] / every) + 1) * every if every else None
    losses, wait_time, step_time = [], 0.0, 0.0
    progress = Progress(
        TextColumn("[bold]train"),
        BarColumn(),
        TextColumn("step {task.fields[step]}"),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[sps]} samples/s"),
        TimeElapsedColumn(),
        console=console,
    )
    total = budget or cfg.max_steps
    with progress:
        bar = progress.add_task(
            "train",
            total=total,
            completed=state["seconds"] if budget else state["step"],
            step=state["step"],
            loss="-",
            sps="-",
        )
        try:
            while state["step"] < cfg.max_steps and (budget is None or state["seconds"] < budget):
                tick = time.perf_counter()
                batch = prefetch.get()
                got = time.perf_counter()
                batch = _to(batch, device)
                frac = state["seconds"] / budget if budget else state["step"] / cfg.max_steps
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(cfg, state["step"], frac)
                with autocast:
                    loss, parts = policy.loss(
                        batch["images"],
                        batch["state"],
                        batch["cond"],
                        batch["actions"],
                        augment=augment,
                        goal=batch["goal"],
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
                optimizer.step()
                if average is not None:
                    average.update(policy)
                done = time.perf_counter()
                wait_time += got - tick
                step_time += done - tick
                state["step"] += 1
                state["seconds"] += done - tick
                state["samples"] += cfg.batch_size
                losses.append(loss.item())
                if state["step"] % cfg.log_every == 0:
                    sps = cfg.log_every * cfg.batch_size / step_time
                    writer.add_scalar("train/loss", np.mean(losses), state["step"])
                    for k, v in parts.items():
                        writer.add_scalar(f"train/{k}", v, state["step"])
                    writer.add_scalar("train/samples_per_s", sps, state["step"])
                    writer.add_scalar("train/data_wait_fraction", wait_time / step_time, state["step"])
                    writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], state["step"])
                    progress.update(
                        bar,
                        completed=state["seconds"] if budget else state["step"],
                        step=state["step"],
                        loss=f"{np.mean(losses):.4f}",
                        sps=f"{sps:.0f}",
                    )
                    state["last_loss"], state["samples_per_s"] = float(np.mean(losses)), sps
                    state["data_wait_fraction"] = wait_time / step_time
                    losses, wait_time, step_time = [], 0.0, 0.0
                if state["step"] % cfg.val_every == 0 and len(data.val_index[0]):
                    with deployed(policy, average):
                        state["val_loss"] = validate(policy, data, val_rng, cfg.batch_size, device)
                        if no_sim:
                            state["action_errors"] = action_errors(policy, data, device)
                    writer.add_scalar("val/loss", state["val_loss"], state["step"])
                    if no_sim:
                        for name, (value, _) in state["action_errors"].items():
                            writer.add_scalar(f"val/{name}", value, state["step"])
                if state["step"] % cfg.checkpoint_every == 0:
                    save_checkpoint(policy, optimizer, state, last, cfg, average)
                if next_snapshot is not None and state["seconds"] >= next_snapshot:
                    minutes = round(next_snapshot / 60)
                    with deployed(policy, average):
                        policy.save_pretrained(
                            output_dir / "checkpoints" / f"min_{minutes:03d}", extra=run_meta(cfg, state)
                        )
                    next_snapshot += every
                if next_eval is not None and state["seconds"] >= next_eval:
                    with deployed(policy, average):
                        run_rollouts(policy, cfg, state, writer, output_dir, console, device)
                    next_eval += rollouts_every * 60
        finally:
            prefetch.close()
    final = output_dir / "checkpoints" / "final"
    with deployed(policy, average):
        if rollouts_every and (not state["evals"] or state["evals"][-1]["step"] != state["step"]):
            run_rollouts(policy, cfg, state, writer, output_dir, console, device)
        if len(data.val_index[0]):
            state["val_loss"] = validate(policy, data, val_rng, cfg.batch_size, device)
            if no_sim:
                state["action_errors"] = action_errors(policy, data, device)
        policy.save_pretrained(final, extra=run_meta(cfg, state))
    save_checkpoint(policy, optimizer, state, last, cfg, average)
    writer.close()
    console.print(summary_table(state, final))
    return {**state, "checkpoint": str(final)}


def _to(batch: dict, device: torch.device) -> dict:
    if device.type == "cpu":
        return batch
    return {
        k: (
            {c: t.to(device, non_blocking=True) for c, t in v.items()}
            if isinstance(v, dict)
            else v.to(device, non_blocking=True)
        )
        for k, v in batch.items()
    }


@torch.no_grad()
def validate(policy: Policy, data: DemoData, rng: np.random.Generator, batch_size: int, device) -> float:
    policy.eval()
    losses = []
    for _ in range(8):
        b = _to(data.batch(rng, batch_size, split="val"), device)
        losses.append(float(policy.loss(b["images"], b["state"], b["cond"], b["actions"])[0]))
    policy.train()
    return float(np.mean(losses))


def run_rollouts(
    policy: Policy, cfg: TrainConfig, state: dict, writer, output_dir: Path, console, device
) -> None:
    policy.eval()
    result = evaluate_in_process(policy, cfg.rollouts)
    policy.train()
    entry = {"step": state["step"], "minutes": state["seconds"] / 60, **result}
    state["evals"].append(entry)
    for split, rate in result.items():
        writer.add_scalar(f"rollouts/success_{split}", rate, state["step"])
    snapshot = output_dir / "checkpoints" / f"step_{state['step']:07d}"
    policy.save_pretrained(snapshot, extra=run_meta(cfg, state))
    console.print(
        f"step {state['step']} ({entry['minutes']:.1f} min): rollout success "
        + ", ".join(f"{k} {v:.0%}" for k, v in result.items())
    )
    (output_dir / "evals.json").write_text(json.dumps(state["evals"], indent=2))


def main(cfg) -> None:
    config: TrainConfig = OmegaConf.to_object(cfg)
    output_dir = Path(config.output_dir or HydraConfig.get().runtime.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    train(config, output_dir)


def finetune(cfg) -> None:
    if not cfg.init_from:
        raise ValueError(
            "bcz finetune starts from a checkpoint: pass init_from=PATH (and dataset=NEW_DATASET)"
        )
    main(cfg)
