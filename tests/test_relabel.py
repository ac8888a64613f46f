"""Hindsight relabeling from recorded sim states, on Ray."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from data_collection.episode import encode_episode
from data_collection.layout import tabletop_features
from data_collection.relabel import RelabelConfig, achievements, relabel, scene_states
from data_collection.rollout import play_expert
from data_collection.video_codec import VideoConfig
from data_collection.writer import DatasetWriter
from sim.env import TabletopEnv
from sim.skills import SKILLS
from tests.conftest import blind_config


def record(env: TabletopEnv, played: str, said: str, seed: int):
    """Play `played` with the expert, but file the episode under task `said`, failed."""
    episode = play_expert(env, played, seed)
    spec = env.suite.resolve(said)
    episode.info = replace(
        episode.info, instruction=env.suite.instructions(spec)[0], task=spec.id, success=False
    )
    return episode


def test_failed_pick_up_that_ended_in_the_bowl_becomes_a_put_in_example(local_ray, tmp_path, suite):
    config = blind_config(object_set=True, object_poses=True)
    env = TabletopEnv(config, suite=suite, split="all")
    features = tabletop_features(
        env.arm.observation_features, env.arm.action_features["action"], VideoConfig(), 10
    )
    writer = DatasetWriter(tmp_path / "ds", features, 10, "test")
    episode = record(env, "put_in/red_block/yellow_bowl", "pick_up/red_block", seed=1)
    writer.add(encode_episode(episode, 10, VideoConfig()))
    held_out = record(
        env, "put_in/blue_block/green_bowl", "pick_up/blue_block", seed=2
    )  # a held-out combination
    writer.add(encode_episode(held_out, 10, VideoConfig()))
    env.close()

    result = relabel(RelabelConfig(dataset=str(tmp_path / "ds"), paraphrases=2))
    labels = pd.read_parquet(tmp_path / "ds" / "meta" / "labels.parquet")
    assert len(labels) == len(result["rows"])
    first = labels[labels.episode_index == 0]
    original = first[first.original].iloc[0]
    assert (
        original.task == "pick_up/red_block" and not original.achieved and original.end_frame == len(episode)
    )
    put_in = first[first.task == "put_in/red_block/yellow_bowl"]
    assert (
        len(put_in) == 2
        and put_in.achieved.all()
        and set(put_in.instruction) <= set(suite.instructions(suite.resolve("put_in/red_block/yellow_bowl")))
    )
    assert 0 < put_in.end_frame.iloc[0] <= len(episode)
    second = labels[labels.episode_index == 1]
    assert "put_in/blue_block/green_bowl" not in set(second.task)  # held out: never demonstrated
    assert all(suite.split_of(suite.resolve(t)) == "train" for t in labels[~labels.original].task)


def test_achievement_is_the_first_frame_the_check_passes(suite):
    env = TabletopEnv(blind_config(), suite=suite, split="all")
    episode = record(env, "pick_up/red_block", "pick_up/red_block", seed=0)
    env.close()
    states = scene_states(episode.columns, episode.info.objects)
    found = dict(achievements(states, [suite.resolve("pick_up/red_block")]))
    task = suite.resolve("pick_up/red_block")
    t = found[task]
    assert t > 5
    assert not any(SKILLS["pick_up"].satisfied(task, s) for s in states[:t])  # nothing earlier satisfied it
