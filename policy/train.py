"""Behavior cloning with a time or step budget, resumable (`bcz train`, `bcz finetune`).

One run is a `Trainer`, in named steps as robomimic's `algo/bc.py` has them: `build` the policy, the
data and the optimizer; then per step `process_batch`, `forward` (the policy's loss,
`forward(batch) -> (loss, loss_dict)` as in LeRobot), `backward` (gradients, clipping, optimizer, weight
average) and `log`; on their schedules `validate`, `snapshot`, `evaluate` (rollouts) and `save`. A
variant overrides a step, not the loop.

GPU with bf16 autocast when one is there, CPU otherwise. Progress bar with loss and samples/s,
TensorBoard logs (`tensorboard --logdir OUTPUT/tb`), validation loss on held-out episodes, periodic
rollouts when the caller hands in a way to run them (`Rollouts`; the simulator's is
`evaluation.rollouts.SimRollouts`, so training never loads a simulator), and checkpoints:
OUTPUT/checkpoints/last (resumed from after an interruption) plus a snapshot at every evaluation and
every `snapshot_every_minutes`, for success-vs-training-time curves.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from policy.data import DemoData, batch_to, config_from_data, joined_batches
from policy.ema import WeightAverage
from policy.language import TextEncoder
from policy.offline import action_errors
from policy.paraphrase import Paraphrases
from policy.policy import Policy, PolicyConfig, make_encoder
from policy.prefetch import Prefetcher
from policy.replica import Replica
from policy.run_outputs import deployed, run_meta, save_checkpoint, summary_table
from policy.train_config import RolloutConfig, Rollouts, TrainConfig, lr_at
from tasks.suite import TaskSuite

__all__ = ["RolloutConfig", "Rollouts", "TrainConfig", "Trainer", "train", "training_data"]
log = logging.getLogger(__name__)


def train(
    cfg: TrainConfig, output_dir: Path, console: Console | None = None, rollouts: Rollouts | None = None
) -> dict:
    """Train (or resume) into `output_dir`; `rollouts` judges the run by success every
    `cfg.rollouts.every_minutes` (without one, by validation loss and per-channel action error).
    `cfg.workers` > 1: the same run on that many Ray Train workers (`policy.distributed`)."""
    if cfg.workers > 1:
        from policy.distributed import train_on_ray  # Ray is imported only when it is asked for

        return train_on_ray(cfg, output_dir, console or Console(), rollouts)
    return Trainer(cfg, output_dir, console or Console(), rollouts).run()


def training_data(
    cfg: TrainConfig,
    path: str,
    encoder: TextEncoder,
    suite: TaskSuite,
    policy: PolicyConfig,
    paraphrases: Paraphrases | None,
    val_fraction: float,
) -> DemoData:
    """The samples of the dataset at `path` for a policy configured as `policy` (its chunk, action mode
    and gripper channels), read as `cfg` says (relabels, paraphrases, DAgger frames, frame cache)."""
    return DemoData(
        path,
        encoder,
        policy.chunk,
        suite=suite,
        actions=policy.actions,
        gripper=policy.gripper,
        relabels=cfg.relabels,
        val_fraction=val_fraction,
        seed=cfg.seed,
        cache_dir=cfg.cache_dir,
        paraphrases=paraphrases,
        paraphrase_prob=cfg.paraphrase_prob,
        policy_frames=cfg.policy_frames,
    )


class Trainer:
    """One training run: `run()` builds it (or resumes it from `checkpoints/last`) and trains it to its
    budget. Counters live in `state` (step, seconds, samples, evals, last figures), saved with `last`."""

    def __init__(
        self,
        cfg: TrainConfig,
        output_dir: Path,
        console: Console,
        rollouts: Rollouts | None = None,
        replica: Replica | None = None,
    ) -> None:
        self.cfg, self.output_dir, self.console, self.rollouts = cfg, output_dir, console, rollouts
        self.replica = replica or Replica()
        self.last = output_dir / "checkpoints" / "last"
        self.state: dict = {"step": 0, "seconds": 0.0, "samples": 0, "evals": []}

    # ------------------------------------------------------------------ build
    def build(self) -> None:
        """The policy (new, fine-tuned or resumed), its data, the optimizer and the weight average."""
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = self.replica.device(cfg)
        if cfg.policy.reader is not None:
            raise ValueError("policy.reader is fit by `bcz fit-reader` on a trained policy, not by training")
        suite = TaskSuite.load(cfg.policy.suite)
        resume_from = self.resume_source()  # an interrupted run: continue where it stopped
        policy = self.starting_policy(resume_from or cfg.init_from, resume_from is not None)
        wanted = cfg.policy
        if policy is None and wanted.encoder == "onehot":
            wanted = dataclasses.replace(wanted, onehot_tasks=[t.id for t in suite.tasks("train")])
        encoder = policy.encoder if policy is not None else make_encoder(wanted)
        paraphrases = self.paraphrases(encoder, suite)
        shape = policy.config if policy is not None else wanted
        self.data = training_data(cfg, cfg.dataset, encoder, suite, shape, paraphrases, cfg.val_fraction)
        if policy is None:
            policy = Policy(config_from_data(wanted, self.data), encoder.dim)
            per_step = (
                self.data.actions != "delta"
            )  # the targets' own (K, A) statistics; delta: the dataset's
            policy.set_statistics(self.data.cache.stats, self.data.action_statistics() if per_step else None)
        policy.check_features(self.data.features, "dataset")
        self.no_sim = self.judged_without_rollouts(policy)
        self.mix = None
        if cfg.mix_dataset:
            self.mix = training_data(
                cfg, cfg.mix_dataset, policy.encoder, suite, policy.config, paraphrases, 0.0
            )
            policy.check_features(self.mix.features, "mixed-in dataset")
        self.policy = policy.to(self.device).train()
        self.model = self.replica.wrap(self.policy)
        self.optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.average = WeightAverage(policy, cfg.ema_decay) if cfg.ema_decay else None
        if resume_from is not None:
            self.restore(resume_from)
        self.rng = np.random.default_rng([cfg.seed, self.state["step"]])
        self.val_rng = np.random.default_rng([cfg.seed, 99])

    def resume_source(self) -> Path | None:
        """The checkpoint an interrupted run continues from: `last`, or a newer one the engine kept."""
        found = [p for p in (self.last, self.replica.checkpoint()) if p and (p / "train_state.pt").is_file()]
        return max(found, key=lambda p: json.loads((p / "config.json").read_text())["step"], default=None)

    def starting_policy(self, path: str | Path | None, resume: bool) -> Policy | None:
        """The checkpoint to start from (None: a new policy); a fine-tune drops its instruction reader,
        fit for the tasks it knew (`bcz fit-reader` fits one again)."""
        if path is None:
            return None
        policy = Policy.from_pretrained(path).train()
        if resume:
            self.console.print(f"resuming from {path}")
        elif policy.reader is not None:
            log.info(
                "%s has an instruction reader: trained without it "
                "(bcz finetune puts one back; after bcz train, bcz fit-reader)",
                path,
            )
            policy.set_reader(None, None)
        return policy

    def paraphrases(self, encoder: TextEncoder, suite: TaskSuite) -> Paraphrases | None:
        name = self.cfg.paraphrase_set
        if name and encoder.name == "onehot":  # one-hot ids know only the suite's phrasings
            log.warning("paraphrase_set=%s ignored: a one-hot encoder has no words to vary", name)
            return None
        return Paraphrases.load(name, suite) if name else None

    def judged_without_rollouts(self, policy: Policy) -> str | None:
        """Why this run cannot be judged by success (then by per-channel action error), said once."""
        cfg, data = self.cfg, self.data
        rollouts = self.rollouts
        why = rollouts.unavailable(policy) if rollouts is not None else "none was handed to train()"
        if why and (rollouts is not None or cfg.rollouts.every_minutes):
            self.console.print(
                f"no rollouts in the simulator: {why}. Judging by validation loss and per-channel "
                f"action error on {len(data.val_episodes)} held-out episode(s) instead."
                if len(data.val_index[0])
                else f"no rollouts in the simulator: {why}, and no held-out episodes (val_fraction="
                f"{cfg.val_fraction}): nothing will judge this run; set val_fraction=0.1"
            )
        return why

    def restore(self, path: Path) -> None:
        saved = torch.load(path / "train_state.pt", weights_only=False)
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.average is not None and saved.get("ema"):
            self.average.load_state_dict(saved["ema"])
        self.state = saved["state"]
        torch.set_rng_state(saved["torch_rng"])

    @property
    def global_batch(self) -> int:
        """Samples per step over all copies: `batch_size` each."""
        return self.cfg.batch_size * self.replica.world

    # ------------------------------------------------------------------ one step
    def make_batch(self) -> dict:
        """This copy's rows of the global batch (`batch_size` per copy): samples of the dataset, and
        `mix_ratio` of them from the mixed-in one (built in a background thread)."""
        size = self.global_batch
        own = size - (round(size * self.cfg.mix_ratio) if self.mix else 0)  # the dataset's, then the mix's
        rows = np.arange(size)[self.replica.rows()]
        batch = self.data.batch(self.rng, own, rows=rows[rows < own])
        if not self.mix:
            return batch
        return joined_batches(batch, self.mix.batch(self.rng, size - own, rows=rows[rows >= own] - own))

    def process_batch(self, batch: dict) -> dict:
        return batch_to(batch, self.device)

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        return self.model(batch, augment=True)

    def backward(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.policy.parameters(), 1.0)
        self.optimizer.step()
        if self.average is not None:
            self.average.update(self.policy)

    def set_lr(self) -> None:
        cfg, state = self.cfg, self.state
        progress = state["seconds"] / self.budget if self.budget else state["step"] / cfg.max_steps
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(cfg, state["step"], progress)

    def log(self, parts: dict[str, float]) -> None:
        """Every `log_every` steps: TensorBoard, the progress bar and the state's last figures (the global
        batch's loss and samples/s; every copy calls this, the main one writes)."""
        cfg, state, w = self.cfg, self.state, self.window
        sps = cfg.log_every * self.global_batch / w["step_time"]
        loss, step = self.replica.mean(float(np.mean(w["losses"]))), state["step"]
        parts = {k: self.replica.mean(v) for k, v in parts.items()}  # the global batch's, like the loss
        self.window = {"losses": [], "wait_time": 0.0, "step_time": 0.0}
        state["last_loss"], state["samples_per_s"] = loss, sps
        state["data_wait_fraction"] = w["wait_time"] / w["step_time"]
        state.update(self.replica.figures(self.model))
        if not self.replica.is_main:
            return
        self.writer.add_scalar("train/loss", loss, step)
        for k, v in parts.items():
            self.writer.add_scalar(f"train/{k}", v, step)
        self.writer.add_scalar("train/samples_per_s", sps, step)
        self.writer.add_scalar("train/data_wait_fraction", w["wait_time"] / w["step_time"], step)
        for name in ("allreduce_ms", "allreduce_exposed_ms"):
            if name in state:
                self.writer.add_scalar(f"train/{name}", state[name], step)
        self.writer.add_scalar("train/lr", self.optimizer.param_groups[0]["lr"], step)
        self.progress.update(self.done_so_far(), step, f"{loss:.4f}", f"{sps:.0f}")

    # ------------------------------------------------------------------ on their schedules
    def validate(self) -> None:
        """Validation loss on held-out episodes, 8 batches of the global batch's size (the same frames
        whatever the number of workers), and per-channel action error when not judged by rollouts; in the
        deployed weights."""
        policy, state = self.policy, self.state
        size = self.global_batch
        with deployed(policy, self.average), torch.no_grad():
            policy.eval()
            batches = [self.data.batch(self.val_rng, size, split="val") for _ in range(8)]
            losses = [float(policy(batch_to(b, self.device))[0]) for b in batches]
            policy.train()
            state["val_loss"] = float(np.mean(losses))
            if self.no_sim:
                state["action_errors"] = action_errors(policy, self.data, self.device)
        self.writer.add_scalar("val/loss", state["val_loss"], state["step"])
        if self.no_sim:
            for name, (value, _) in state["action_errors"].items():
                self.writer.add_scalar(f"val/{name}", value, state["step"])

    def snapshot(self, minutes: int) -> None:
        with deployed(self.policy, self.average):
            self.policy.save_pretrained(
                self.output_dir / "checkpoints" / f"min_{minutes:03d}", extra=run_meta(self.cfg, self.state)
            )

    def evaluate(self) -> None:
        """Rollouts in the deployed weights; the result joins `evals.json` and a snapshot is kept."""
        policy, state = self.policy, self.state
        with deployed(policy, self.average):
            policy.eval()
            result = self.rollouts(policy)
            policy.train()
            entry = {"step": state["step"], "minutes": state["seconds"] / 60, **result}
            state["evals"].append(entry)
            for split, rate in result.items():
                self.writer.add_scalar(f"rollouts/success_{split}", rate, state["step"])
            snapshot = self.output_dir / "checkpoints" / f"step_{state['step']:07d}"
            policy.save_pretrained(snapshot, extra=run_meta(self.cfg, state))
        self.console.print(
            f"step {state['step']} ({entry['minutes']:.1f} min): rollout success "
            + ", ".join(f"{k} {v:.0%}" for k, v in result.items())
        )
        (self.output_dir / "evals.json").write_text(json.dumps(state["evals"], indent=2))

    def save(self) -> None:
        """`last` (by the main copy), reported to the engine by every copy."""
        if self.replica.is_main:
            save_checkpoint(self.policy, self.optimizer, self.state, self.last, self.cfg, self.average)
        self.replica.report(self.state, self.last)

    # ------------------------------------------------------------------ the loop
    def done_so_far(self) -> float:
        return self.state["seconds"] if self.budget else self.state["step"]

    def run(self) -> dict:
        self.build()
        cfg, state, main = self.cfg, self.state, self.replica.is_main
        if main:
            from torch.utils.tensorboard import SummaryWriter  # slow to import; only a run needs it

            self.writer = SummaryWriter(str(self.output_dir / "tb"))
        self.budget = cfg.max_minutes * 60 if cfg.max_minutes else None
        every_eval = 0 if self.no_sim else cfg.rollouts.every_minutes * 60
        next_eval = (len(state["evals"]) + 1) * every_eval if every_eval else None
        every_snapshot = cfg.snapshot_every_minutes * 60
        next_snapshot = (
            (math.floor(state["seconds"] / every_snapshot) + 1) * every_snapshot if every_snapshot else None
        )
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda" else nullcontext()
        )
        self.window = {"losses": [], "wait_time": 0.0, "step_time": 0.0}
        state["global_batch"] = self.global_batch
        total = self.budget or cfg.max_steps
        self.progress = self.replica.progress(
            self.console, total, self.done_so_far(), state["step"], self.global_batch
        )
        prefetch = Prefetcher(self.make_batch)
        try:
            while state["step"] < cfg.max_steps and (self.budget is None or state["seconds"] < self.budget):
                tick = time.perf_counter()
                batch = prefetch.get()
                got = time.perf_counter()
                batch = self.process_batch(batch)
                self.set_lr()
                with autocast:
                    loss, parts = self.forward(batch)
                self.backward(loss)
                took = self.replica.agree(time.perf_counter() - tick)
                self.window["wait_time"] += got - tick
                self.window["step_time"] += took
                self.window["losses"].append(loss.item())
                state["step"] += 1
                state["seconds"] += took
                state["samples"] += self.global_batch
                if state["step"] % cfg.log_every == 0:
                    self.log(parts)
                due = []  # the main copy's work on its schedule (the same on every copy)
                if state["step"] % cfg.val_every == 0 and len(self.data.val_index[0]):
                    due.append(self.validate)
                if next_snapshot is not None and state["seconds"] >= next_snapshot:
                    due.append(partial(self.snapshot, round(next_snapshot / 60)))
                    next_snapshot += every_snapshot
                if next_eval is not None and state["seconds"] >= next_eval:
                    due.append(self.evaluate)
                    next_eval += every_eval
                for job in due if main else []:
                    job()
                checkpoint = state["step"] % cfg.checkpoint_every == 0
                if checkpoint:
                    self.save()
                if due or checkpoint:  # the other copies wait here, not in the next step's timer
                    self.replica.sync()
        finally:
            prefetch.close()
            if self.progress is not None:
                self.progress.close()
        return self.finish(every_eval)

    def finish(self, every_eval: float) -> dict:
        """Rollouts and validation of the last weights, `final` (deployed weights) and `last` (raw)."""
        state = self.state
        final = self.output_dir / "checkpoints" / "final"
        if self.replica.is_main:
            if every_eval and (not state["evals"] or state["evals"][-1]["step"] != state["step"]):
                self.evaluate()
            if len(self.data.val_index[0]):
                self.validate()
            with deployed(self.policy, self.average):
                self.policy.save_pretrained(final, extra=run_meta(self.cfg, state))
        self.save()
        if self.replica.is_main:
            self.writer.close()
            if self.replica.summary_here:
                self.console.print(summary_table(state, final))
        return {**state, "checkpoint": str(final)}
