"""`bcz dagger`: on-policy corrections. The policy drives, the scripted expert labels every state it reaches.

Behavior cloning only ever sees states the expert visits; a policy that drifts 2 cm lands in states no
demonstration covers and stalls there. The scripted expert plans from privileged sim state, so it can
say what to do from *any* state. Each round:

1. Ray workers roll out the current policy (`bcz collect`'s machinery: job j is always the same
   episode, crashed workers are restarted and their episode retried). Every frame is recorded with
   the expert's action for that state as its label. When the policy strays (its motion differs from
   the expert's by more than `takeover_error` for `patience` steps in a row, or it disagrees on the
   gripper that long) the expert takes over for `takeover_steps` steps, as a human does in BC-Z's
   HG-DAgger; those frames are flagged `intervention`.
2. The episodes are appended to the dataset with `bcz/source = policy` (training uses every one of
   them, failed or not: the labels are right either way).
3. The policy is fine-tuned on the grown dataset, from the round's policy.
4. Success is measured: the round's own rollouts (with and without takeovers) and, with
   `eval_episodes`, a `bcz eval` of the new policy on the round's tasks.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from conf.checks import at_least, positive
from data_collection import cluster
from data_collection.collect import CollectConfig, check_same_kind, collect
from data_collection.dataset import DatasetReader
from data_collection.episode import Episode, encode_episode
from data_collection.layout import INFO_PATH
from data_collection.rollout import Driver, record_chain, record_episode
from data_collection.video_codec import VideoConfig
from evaluation.evaluate import EvalConfig, evaluate
from evaluation.rollouts import SimRollouts, env_config_for
from policy.policy import Policy
from policy.pose import GRIPPER
from policy.train import TrainConfig, train
from sim.chain import Chain
from sim.env import TabletopEnv
from sim.env_config import EnvConfig

SEED_BASE = 1_000_000  # DAgger episode seeds: far from collection (0, 1, ...) and evaluation (10,000 + ...)


@dataclass
class DaggerConfig:
    """Schema of `bcz dagger` (conf/dagger.yaml): rounds of policy rollouts, expert labels and fine-tuning."""

    checkpoint: str | None = None  # the policy to start from
    dataset: str = "datasets/tabletop"  # the labelled episodes are appended here
    output_dir: str | None = None  # rounds' checkpoints and dagger.json (default: Hydra's run directory)
    rounds: int = 3
    episodes_per_round: int = 100
    split: str = "train"  # tasks to roll out: train | held_out | all
    tasks: list[str] | None = None  # instead of the split: task ids or glob patterns
    env: EnvConfig = field(default_factory=EnvConfig)  # cameras are resized to the policy's
    takeover_error: float = 0.02  # m: policy and expert motion this far apart counts as straying
    patience: int = 3  # steps of straying (or gripper disagreement) before the expert takes over
    takeover_steps: int = 5  # steps the expert drives before handing back
    minutes_per_round: float = 10.0  # fine-tuning budget per round
    train: TrainConfig = field(default_factory=TrainConfig)  # fine-tuning settings (dataset, init set here)
    # N > 0: the policy drives whole chains of N instructions in one scene (sim/chain.py), the expert
    # labelling every state and taking over when it strays: the states after the policy's own successes
    # are the ones single episodes never show. The dataset then holds chains (`bcz collect chain=N`).
    chain: int = 0
    eval_episodes: int = 0  # per task of the round's tasks after each round (0: the rollouts only)
    workers: int = 2
    seed: int = 0
    ray: cluster.RayConfig = field(default_factory=cluster.RayConfig)

    def __post_init__(self) -> None:
        at_least(self, 1, "rounds", "episodes_per_round", "patience", "takeover_steps", "workers")
        at_least(self, 0, "eval_episodes", "chain")
        positive(self, "takeover_error", "minutes_per_round")


@dataclass
class Takeover:
    """When the expert takes the hand from the policy (simulated HG-DAgger intervention)."""

    error: float
    patience: int
    steps: int
    straying: int = 0
    left: int = 0

    def strays(self, proposed: np.ndarray, label: np.ndarray) -> tuple[bool, bool]:
        """Whether the policy's motion is too far from the expert's, and whether their grippers differ."""
        apart = bool(np.linalg.norm(proposed[:3] - label[:3]) > self.error)
        return apart, bool((proposed[GRIPPER] > 0.5) != (label[GRIPPER] > 0.5))

    def expert_drives(self, proposed: np.ndarray, label: np.ndarray) -> bool:
        """Whether the expert drives this step: it takes over after `patience` straying steps, for `steps`."""
        if self.left == 0:
            self.straying = self.straying + 1 if any(self.strays(proposed, label)) else 0
            if self.straying >= self.patience:
                self.left, self.straying = self.steps, 0
        if self.left > 0:
            self.left -= 1
            return True
        return False


def takeover_driver(env: TabletopEnv, policy: Policy, takeover: Takeover) -> Driver:
    """The policy drives one instruction from here, the expert labelling every frame with its own action
    for that state and taking the hand when the policy strays (`Takeover`)."""
    policy.reset()
    takeover.straying = takeover.left = 0  # each instruction starts with the policy driving
    expert = env.expert()

    def drive(obs: dict, info: dict, scene) -> tuple[np.ndarray, np.ndarray, bool]:
        """The expert's label, the action executed and whether the expert drove, for one step."""
        label = expert.act(scene)
        proposed = policy.select_action(obs, info["instruction"])
        expert_drives = takeover.expert_drives(proposed, label)
        if expert_drives:  # the policy's plans are stale once the expert has moved the hand
            policy.drop_plans()
        executed = label if expert_drives else proposed
        expert.follow(executed)
        return label, executed, expert_drives

    return drive


def play_policy(
    env: TabletopEnv, policy: Policy, task: str, seed: int, takeover: Takeover, job: int
) -> Episode:
    """One episode driven by `policy` (`takeover_driver`), every frame labelled with the expert's action
    for the state it shows."""
    return record_episode(env, task, seed, lambda: takeover_driver(env, policy, takeover), "policy", job)


def play_policy_chain(
    env: TabletopEnv, policy: Policy, first: str, seed: int, length: int, takeover: Takeover, job: int
) -> Episode:
    """A chain of instructions (`record_chain`) driven by `policy` (`takeover_driver`); the chain goes on
    after every success, the expert's help included."""
    chain = Chain(env, seed, length, env.split, first=env.suite.resolve(first))
    return record_chain(env, chain, lambda: takeover_driver(env, policy, takeover), "policy", job)


class DaggerWorker:
    """A Ray actor (the `worker` of `collect`): one policy, one simulator."""

    def __init__(
        self, checkpoint: str, env: EnvConfig, split: str, video: VideoConfig, takeover: tuple
    ) -> None:
        import torch

        torch.set_num_threads(1)  # one core per worker
        self.policy = Policy.from_pretrained(checkpoint)
        self.env = TabletopEnv(env, split=split)
        self.video, self.takeover = video, takeover

    def pid(self) -> int:
        """The worker's process id, handed to `collect`'s `on_commit` callback."""
        import os

        return os.getpid()

    def run(self, job: int, seed: int, task: str, dart: float, chain: int = 0):
        """One policy-driven episode (or chain), encoded for the dataset writer; `dart` goes unused."""
        if chain:
            episode = play_policy_chain(
                self.env, self.policy, task, seed, chain, Takeover(*self.takeover), job
            )
        else:
            episode = play_policy(self.env, self.policy, task, seed, Takeover(*self.takeover), job)
        return encode_episode(episode, self.env.config.robot.control_hz, self.video)


def dagger(cfg: DaggerConfig, output_dir: Path, console: Console | None = None) -> list[dict]:
    """Run the rounds (see the module docstring); returns each round's figures, also in dagger.json."""
    console = console or Console()
    if not cfg.checkpoint:
        raise ValueError("which policy? usage: bcz dagger checkpoint=PATH dataset=PATH")
    if not (Path(cfg.dataset) / INFO_PATH).exists() and not cfg.train.mix_dataset:
        raise ValueError(
            f"dataset={cfg.dataset} does not exist: append to the demonstrations' dataset, or start a new "
            "one for the policy episodes and mix the demonstrations in (train.mix_dataset=PATH)"
        )
    check_same_kind(Path(cfg.dataset), cfg.chain)  # before Ray starts: chains and single episodes apart
    policy = Policy.from_pretrained(cfg.checkpoint)  # fails fast on a bad path
    env = env_config_for(policy, cfg.env)
    checkpoint, rounds = str(cfg.checkpoint), []
    takeover = (cfg.takeover_error, cfg.patience, cfg.takeover_steps)
    started_here = cluster.connect(cfg.ray, max(cfg.workers, cfg.train.workers * (cfg.train.threads or 1)))
    try:
        for r in range(1, cfg.rounds + 1):
            have, first = _jobs_so_far(cfg.dataset)
            collect_cfg = CollectConfig(
                env=env,
                output=cfg.dataset,
                episodes=have + cfg.episodes_per_round,
                split=cfg.split,
                tasks=cfg.tasks,
                workers=cfg.workers,
                seed=SEED_BASE + cfg.seed,
                resume=True,
                ray=cfg.ray,
                chain=cfg.chain,
            )
            console.print(f"round {r}: {cfg.episodes_per_round} episodes driven by {checkpoint}")
            worker_args = (checkpoint, env, cfg.split, collect_cfg.video, takeover)
            jobs = range(first, first + cfg.episodes_per_round)  # new job ids: never taken for done
            result = collect(collect_cfg, worker=DaggerWorker, worker_args=worker_args, jobs=jobs)
            rollouts = _rollout_figures(cfg.dataset, result.committed)
            train_cfg = copy.deepcopy(cfg.train)
            train_cfg.dataset, train_cfg.init_from, train_cfg.ray = cfg.dataset, checkpoint, cfg.ray
            train_cfg.max_minutes, train_cfg.rollouts.every_minutes = cfg.minutes_per_round, 0
            train_cfg.output_dir = str(output_dir / f"round_{r}")
            trained = train(train_cfg, output_dir / f"round_{r}", console, SimRollouts(train_cfg.rollouts))
            checkpoint = trained["checkpoint"]
            entry = {"round": r, "checkpoint": checkpoint, **rollouts}
            if cfg.eval_episodes:
                eval_cfg = EvalConfig(
                    checkpoint=checkpoint,
                    env=cfg.env,
                    tasks=cfg.tasks,
                    splits=["train", "held_out"] if cfg.split == "all" else [cfg.split],
                    episodes_per_task=cfg.eval_episodes,
                    workers=cfg.workers,
                    videos=0,
                    ray=cfg.ray,
                )
                entry["eval"] = evaluate(eval_cfg, output_dir / f"round_{r}" / "eval", console)["success"]
            rounds.append(entry)
            (output_dir / "dagger.json").write_text(json.dumps(rounds, indent=2))
    finally:
        cluster.disconnect(started_here)
    console.print(summary(rounds))
    return rounds


def _jobs_so_far(dataset: str) -> tuple[int, int]:
    """Episodes in `dataset` and the next free job id (0, 0 for a dataset that does not exist yet: the
    policy episodes may go into a dataset of their own, mixed with the demonstrations while training)."""
    if not (Path(dataset) / INFO_PATH).exists():
        return 0, 0
    reader = DatasetReader(dataset)
    jobs = [int(reader.info_of(i).get("job", -1)) for i in range(reader.num_episodes)]
    return reader.num_episodes, 1 + max([*jobs, -1])


def _rollout_figures(dataset: str, committed: list[int]) -> dict:
    """Success of the round's policy-driven episodes, and how much of them the expert drove."""
    reader = DatasetReader(dataset)
    infos = [reader.info_of(i) for i in committed]
    flags = [np.asarray(reader.frames(i)["intervention"], dtype=bool).reshape(-1) for i in committed]
    alone = [i["success"] for i, f in zip(infos, flags, strict=True) if not f.any()]
    return {
        "episodes": len(committed),
        "success": float(np.mean([i["success"] for i in infos])) if infos else float("nan"),
        "success_without_takeover": float(np.mean(alone)) if alone else None,
        "episodes_with_takeover": sum(bool(f.any()) for f in flags),
        "expert_frames": float(np.mean(np.concatenate(flags))) if flags else float("nan"),
    }


def summary(rounds: list[dict]) -> Table:
    """The rounds' rollout figures and evaluations as a table."""
    table = Table(title="bcz dagger")
    cols = (
        "round",
        "rollouts",
        "rollout success (policy before the round)",
        "without takeover",
        "taken over",
        "expert-driven frames",
        "eval after the round",
    )
    for col in cols:
        table.add_column(col, justify="right")
    for e in rounds:
        ev = ", ".join(f"{k} {v:.0%}" for k, v in e.get("eval", {}).items()) or "-"
        table.add_row(
            str(e["round"]),
            str(e["episodes"]),
            f"{e['success']:.0%}",
            "-" if e["success_without_takeover"] is None else f"{e['success_without_takeover']:.0%}",
            str(e["episodes_with_takeover"]),
            f"{e['expert_frames']:.0%}",
            ev,
        )
    return table


def main(cfg) -> None:
    """Hydra entry point of `bcz dagger`."""
    config: DaggerConfig = OmegaConf.to_object(cfg)
    output_dir = Path(config.output_dir or HydraConfig.get().runtime.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    dagger(config, output_dir)
