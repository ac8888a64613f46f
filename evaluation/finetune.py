"""`bcz finetune`: teach a checkpoint new tasks without it forgetting the old ones.

A fine-tune on new demonstrations alone forgets the old tasks (a third of the suite in 13 minutes). A
policy trained in this simulator knows its suite and its cameras, so the fine-tune regenerates
demonstrations of its old tasks there, on Ray workers, relabels them and mixes them into every batch
(`replay`, experience replay as in LIBERO's lifelong-learning study): the user needs none of the
original data. Given `mix_dataset` (the user's own old data), that is used instead. A checkpoint trained
on another robot's data has no simulator to replay in: it fine-tunes on the new data alone and says so
(`bcz interpolate` keeps old skills without data). How the choice was measured: docs/training.md.

The instruction reader (`policy/reader.py`) is put back on the fine-tuned policy as its last step
(`reader`): copied from the starting policy when the new data's tasks are all of the suite it reads and
its instructions are that suite's phrasings (seconds); otherwise fit on a suite that holds the new
tasks, on its phrasings and the new data's own instructions (~12 minutes on a CPU the first time,
seconds after: `fit_reader_cached`), so phrasings the new data never used keep reading as they did.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from rich.console import Console

from conf.checks import at_least
from data_collection.dataset import DatasetReader
from data_collection.layout import COLLECTION_PATH, LABELS_PATH
from evaluation.rollouts import SimRollouts, env_config_for, why_no_rollouts
from policy.fit_reader import fit_reader_cached, save_with_reader
from policy.policy import Policy
from policy.train import TrainConfig, train
from sim.env_config import EnvConfig
from tasks.suite import TaskSuite, normalize, suite_names


@dataclass
class ReplayConfig:
    """Demonstrations of the starting policy's own train tasks, regenerated in the simulator, written to
    OUTPUT/replay once (a resumed run reuses them)."""

    episodes: int = 600  # how many (0: no replay, the new data alone)
    seed: int = 9_000_000  # episode j plays seed + j, apart from bcz collect's 0, 1, 2, ...
    workers: int = 2  # Ray workers collecting and relabelling them

    def __post_init__(self) -> None:
        at_least(self, 0, "episodes")
        at_least(self, 1, "workers")


READER_CHOICES = ("auto", "copy", "none")


@dataclass
class FinetuneConfig(TrainConfig):
    """`bcz finetune`: a training run (`TrainConfig`) from the checkpoint `init_from`, plus the replay
    of its old tasks mixed in at `mix_ratio` when no `mix_dataset` is given."""

    replay: ReplayConfig = field(default_factory=ReplayConfig)
    reader: str = "auto"  # auto: copy the starting policy's reader, or fit one for new tasks | copy | none

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reader not in READER_CHOICES:
            raise ValueError(f"reader={self.reader!r}; valid: {', '.join(READER_CHOICES)}")

    def training(self, mix_dataset: str | None) -> TrainConfig:
        """The training run itself, mixing in `mix_dataset`."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(TrainConfig)}
        return TrainConfig(**{**fields, "mix_dataset": mix_dataset})


def replay_dataset(cfg: FinetuneConfig, base: Policy, output_dir: Path, console: Console) -> str | None:
    """The dataset to mix in: the user's `mix_dataset`, else the base's old tasks replayed in the
    simulator (collected and relabelled the first time), else None (said why)."""
    if cfg.mix_dataset:
        return cfg.mix_dataset
    if cfg.replay.episodes == 0:
        console.print("replay.episodes=0: fine-tuning on the new data alone; the old tasks may be forgotten")
        return None
    why = why_no_rollouts(base)
    if why:
        console.print(
            f"no replay of the old tasks: the simulator cannot play them for {cfg.init_from} ({why}); "
            "fine-tuning on the new data alone (pass mix_dataset=OLD_DATA, or keep old skills afterwards "
            "with bcz interpolate)"
        )
        return None
    root = output_dir / "replay"
    if not replay_complete(root, cfg.replay.episodes):
        collect_replay(cfg, base, root, console)
    return str(root)


def replay_complete(root: Path, episodes: int) -> bool:
    """Whether `root` holds all `episodes` replay episodes, relabelled (a resumed run reuses them)."""
    marker = root / COLLECTION_PATH
    if not marker.is_file() or not (root / LABELS_PATH).is_file():
        return False
    meta = json.loads(marker.read_text())
    return bool(meta.get("complete")) and meta.get("requested_episodes") == episodes


def collect_replay(cfg: FinetuneConfig, base: Policy, root: Path, console: Console) -> None:
    """Expert demonstrations of `base`'s suite's train tasks, seen through its cameras, then relabelled."""
    from data_collection.collect import CollectConfig, collect, summary
    from data_collection.relabel import RelabelConfig, relabel

    suite = base.config.suite
    console.print(
        f"replaying the old tasks: {cfg.replay.episodes} expert demonstrations of suite {suite!r}'s train "
        f"tasks into {root}, mixed into {cfg.mix_ratio:.0%} of every batch"
    )
    env = env_config_for(base, EnvConfig(suite=suite))
    collected = collect(
        CollectConfig(
            env=env,
            output=str(root),
            episodes=cfg.replay.episodes,
            split="train",
            workers=cfg.replay.workers,
            seed=cfg.replay.seed,
            resume=root.exists(),
            ray=cfg.ray,
        )
    )
    if collected.committed:
        console.print(summary(collected))
    relabel(RelabelConfig(dataset=str(root), suite=suite, workers=cfg.replay.workers, ray=cfg.ray))


def main(cfg) -> None:
    """Hydra entry point of `bcz finetune`: replay (or `mix_dataset`), then `bcz train` from `init_from`."""
    config: FinetuneConfig = OmegaConf.to_object(cfg)
    if not config.init_from:
        raise ValueError(
            "bcz finetune starts from a checkpoint: pass init_from=PATH (and dataset=NEW_DATASET)"
        )
    output_dir = Path(config.output_dir or HydraConfig.get().runtime.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    console = Console()
    base = Policy.from_pretrained(config.init_from)
    mix = replay_dataset(config, base, output_dir, console)
    result = train(config.training(mix), output_dir, console, rollouts=SimRollouts(config.rollouts))
    if base.reader is not None and config.reader != "none":
        put_reader_back(base, config, Path(result["checkpoint"]), console)


def instructions_by_task(dataset: str) -> dict[str, set[str]]:
    """Task id -> the instructions a dataset's episodes (and their chain segments) give it."""
    data = DatasetReader(dataset)
    said: dict[str, set[str]] = {}
    for i in range(data.num_episodes):
        info = data.info_of(i)
        for part in [info, *(info.get("segments") or [])]:
            if part.get("task"):
                said.setdefault(part["task"], set()).add(part.get("instruction") or "")
    return {task: texts - {""} for task, texts in said.items()}


def unheard(said: dict[str, set[str]], suite: TaskSuite) -> dict[str, list[str]]:
    """Of `said`, the instructions of `suite`'s train tasks that are not the suite's own phrasings of
    them (a teleoperator's words): what a reader is fit on besides the suite's."""
    train = {t.id: t for t in suite.tasks("train")}
    more = {}
    for task, texts in said.items():
        if task in train:
            own = {normalize(t) for t in suite.instructions(train[task])}
            more[task] = sorted(t for t in texts if normalize(t) not in own)
    return {task: texts for task, texts in more.items() if texts}


def suite_holding(tasks: set[str], first: str) -> str | None:
    """The suite whose tasks include all of `tasks`: `first`, else the first of conf/suites that does."""
    for name in [first, *suite_names()]:
        if tasks <= {t.id for t in TaskSuite.load(name).tasks("all")}:
            return name
    return None


def put_reader_back(base: Policy, cfg: FinetuneConfig, final: Path, console: Console) -> None:
    """Give the fine-tuned policy at `final` an instruction reader (`cfg.reader`, module docstring): the
    base's when the new data names only tasks it reads, in words it was fit on (or `reader=copy`); else
    one fit (or taken from the cache) on the suite holding the new tasks, with the new data's own words."""
    tuned, start = Policy.from_pretrained(final), time.monotonic()
    reader, reader_config = base.reader, base.config.reader
    fit: dict = {"from": str(final), "reader_from": cfg.init_from}
    said = instructions_by_task(cfg.dataset) if cfg.reader == "auto" else {}
    suite_name = base.config.reader.suite or base.config.suite
    new = set(said) - {t.id for t in TaskSuite.load(suite_name).tasks("all")}
    if new:
        suite_name = suite_holding(new, tuned.config.suite)
        if suite_name is None:
            console.print(
                f"no instruction reader: no suite in conf/suites holds the new tasks "
                f"({', '.join(sorted(new)[:3])} ...); fit one with bcz fit-reader reader.suite=YOUR_SUITE"
            )
            return
    more = unheard(said, TaskSuite.load(suite_name))
    if new or more:
        console.print(
            f"fitting an instruction reader on suite {suite_name!r}: {len(new)} new tasks, "
            f"{sum(map(len, more.values()))} phrasings of the new data's own (reader=copy skips)"
        )
        reader_config = dataclasses.replace(base.config.reader, suite=suite_name)
        reader, report, _ = fit_reader_cached(tuned.config.encoder, reader_config, console, more)
        fit = {"from": str(final), "suite": suite_name, "phrasings_of_the_data": more, "nearest_task": report}
    fit["seconds"] = round(time.monotonic() - start)
    save_with_reader(tuned, reader, reader_config, final, fit)
    how = "fit for the new data" if "suite" in fit else f"copied from {cfg.init_from}"
    console.print(f"{final}: instruction reader {how}")
