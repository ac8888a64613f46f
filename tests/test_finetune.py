"""`bcz finetune` keeps the old tasks by replaying them in the simulator (evaluation/finetune.py)."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch
from rich.console import Console

from data_collection.dataset import DatasetReader
from data_collection.episode import encode_episode
from data_collection.layout import tabletop_features
from data_collection.rollout import play_expert
from data_collection.video_codec import VideoConfig
from data_collection.writer import DatasetWriter
from evaluation import finetune as ft
from policy.fit_reader import save_with_reader
from policy.policy import Policy
from policy.reader import ReaderConfig, fit_reader
from sim.env import TabletopEnv
from sim.env_config import EnvConfig
from tests.conftest import tiny_train_config
from tests.test_cli import bcz


def finetune_config(dataset, checkpoint, **fields) -> ft.FinetuneConfig:
    base = tiny_train_config(dataset, init_from=str(checkpoint), max_steps=6, lr=1e-4)
    values = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
    return ft.FinetuneConfig(**{**values, **fields})


def test_the_old_tasks_are_replayed_once_and_mixed_in(
    tiny_dataset, tiny_checkpoint, tmp_path, local_ray, suite, monkeypatch
):
    cfg = finetune_config(tiny_dataset, tiny_checkpoint, replay=ft.ReplayConfig(episodes=4, seed=50))
    base = Policy.from_pretrained(tiny_checkpoint)
    mix = ft.replay_dataset(cfg, base, tmp_path, Console())
    assert mix == str(tmp_path / "replay")
    replay = DatasetReader(mix)
    train_tasks = {t.id for t in suite.tasks("train")}
    assert replay.num_episodes == 4
    assert {replay.info_of(i)["task"] for i in range(4)} <= train_tasks  # the base's old tasks
    assert replay.info["features"]["observation.images.scene"]["shape"][:2] == list(base.config.image_size)
    assert ft.replay_complete(tmp_path / "replay", 4)  # relabelled and whole

    def collect_again(*_):
        raise AssertionError("a complete replay is reused, not collected again")

    monkeypatch.setattr(ft, "collect_replay", collect_again)
    assert ft.replay_dataset(cfg, base, tmp_path, Console()) == mix
    assert cfg.training(mix).mix_dataset == mix  # trained on (the CLI test below trains on it)


@pytest.mark.parametrize("fields", [{"mix_dataset": "OLD"}, {"replay": ft.ReplayConfig(episodes=0)}])
def test_own_old_data_or_no_replay_collects_nothing(tiny_dataset, tiny_checkpoint, tmp_path, fields):
    cfg = finetune_config(tiny_dataset, tiny_checkpoint, **fields)
    mix = ft.replay_dataset(cfg, Policy.from_pretrained(tiny_checkpoint), tmp_path, Console())
    assert mix == fields.get("mix_dataset")
    assert not (tmp_path / "replay").exists()


@pytest.fixture(scope="module")
def base_with_reader(tiny_checkpoint, tmp_path_factory) -> Policy:
    """The tiny checkpoint with a (barely fit) instruction reader of the default suite."""
    base = Policy.from_pretrained(tiny_checkpoint)
    config = ReaderConfig(width=32, heads=2, per_task=2, batch_size=64, steps=5)
    reader, report = fit_reader(base.config.encoder, config, Console(quiet=True))
    path = tmp_path_factory.mktemp("base") / "with_reader"
    save_with_reader(
        base, reader, dataclasses.replace(config, suite="default"), path, {"nearest_task": report}
    )
    return Policy.from_pretrained(path)


def pink_dataset(root) -> str:
    """One expert episode of a task the default suite lacks (the extended suite's pink block), at 32x32."""
    config = EnvConfig(suite="extended")
    for cam in config.robot.cameras.values():
        cam.width = cam.height = 32
    env = TabletopEnv(config)
    features = tabletop_features(
        env.arm.observation_features, env.arm.action_features["action"], VideoConfig(), 10
    )
    writer = DatasetWriter(root, features, 10, env.arm.name)
    writer.add(encode_episode(play_expert(env, "pick_up/pink_block", 0), 10, VideoConfig()))
    env.close()
    return str(root)


def test_the_reader_is_copied_for_old_tasks_and_fit_for_new_ones(
    base_with_reader, tiny_checkpoint, tiny_dataset, tmp_path
):
    said = ["put the red brick inside the green basin", "pick up the pink cube"]
    final = tmp_path / "old_tasks"
    shutil.copytree(tiny_checkpoint, final)  # stands for the fine-tune's final weights
    cfg = finetune_config(tiny_dataset, "base")
    ft.put_reader_back(base_with_reader, cfg, final, Console(quiet=True))
    copied = Policy.from_pretrained(final)
    assert copied.config.reader == base_with_reader.config.reader
    torch.testing.assert_close(copied.embed(said), base_with_reader.embed(said))  # read as before

    final = tmp_path / "new_tasks"
    shutil.copytree(tiny_checkpoint, final)
    cfg = finetune_config(pink_dataset(tmp_path / "pink"), "base")
    ft.put_reader_back(base_with_reader, cfg, final, Console(quiet=True))
    refit = Policy.from_pretrained(final)
    assert refit.config.reader.suite == "extended" and refit.meta["reader_fit"]["suite"] == "extended"
    assert refit.config.reader.width == base_with_reader.config.reader.width  # the same reader, refit
    assert not torch.allclose(refit.embed(said), base_with_reader.embed(said))

    final = tmp_path / "copied_anyway"  # reader=copy copies, new tasks or not
    shutil.copytree(tiny_checkpoint, final)
    ft.put_reader_back(base_with_reader, dataclasses.replace(cfg, reader="copy"), final, Console(quiet=True))
    assert Policy.from_pretrained(final).config.reader == base_with_reader.config.reader


def test_a_new_task_from_the_cli_collect_finetune_and_evaluate_old_and_new(tiny_checkpoint, tmp_path):
    """docs/add_a_task.md on tiny sizes: demonstrations of a skill and an object kind that a suite file
    declares (collected, and later evaluated, on Ray workers that must find them too), a fine-tune that
    replays the old tasks, and the evaluation of both."""
    small = [f"env.robot.cameras.{c}.{k}=32" for c in ("scene", "wrist") for k in ("width", "height")]
    new_task = ["env.suite=coasters", "tasks=[put_on/red_block/blue_coaster]"]
    done = bcz("collect", *new_task, "episodes=2", f"output={tmp_path / 'new'}", "workers=1", *small)
    assert done.returncode == 0, done.stderr
    tuned = tmp_path / "tuned"
    done = bcz(
        "finetune",
        f"init_from={tiny_checkpoint}",
        f"dataset={tmp_path / 'new'}",
        "max_minutes=null",
        "max_steps=3",
        "batch_size=8",
        "rollouts.every_minutes=0",
        "replay.episodes=2",
        "replay.workers=1",
        f"output_dir={tuned}",
    )
    assert done.returncode == 0, done.stderr
    assert "replaying the old tasks: 2 expert demonstrations" in done.stdout
    final = tuned / "checkpoints" / "final"
    assert Policy.from_pretrained(final).meta["mix_dataset"].endswith("replay")
    for name, tasks in {"new": new_task, "old": ["tasks=[pick_up/red_block]"]}.items():
        out = tmp_path / f"eval_{name}"
        done = bcz(
            "eval",
            f"checkpoint={final}",
            *tasks,
            "episodes_per_task=1",
            "videos=0",
            "workers=1",
            f"output_dir={out}",
        )
        assert done.returncode == 0, done.stderr
        episodes = json.loads((out / "eval.json").read_text())["episodes_detail"]
        assert [e["task"] for e in episodes] == [tasks[-1].removeprefix("tasks=[").removesuffix("]")]


def test_a_reader_is_fit_on_the_new_datas_own_words_for_train_tasks_only(suite):
    said = {
        "pick_up/red_block": {"pick up the red block", "Hoist the red cube", "grab the red block"},
        "pick_up/orange_block": {"hoist the orange cube"},  # held out: the reader never fits on it
        "knock_over/red_bottle": {"knock over the red bottle"},  # the suite's own words only
    }
    assert ft.unheard(said, suite) == {"pick_up/red_block": ["Hoist the red cube"]}
