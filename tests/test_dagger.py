"""`bcz dagger`: the policy drives, the expert labels what it reaches and takes over when it strays."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from data_collection.dataset import DatasetReader
from evaluation.dagger import DaggerConfig, Takeover, dagger
from policy.data import DemoData
from policy.language import OneHotTaskEncoder
from policy.policy import Policy
from policy.train import TrainConfig


def test_takeover_after_patience_steps_then_hands_back():
    t = Takeover(error=0.02, patience=2, steps=3)
    expert = np.array([0.01, 0, 0, 0, 0, 0, 1.0])
    close = np.array([0.015, 0, 0, 0, 0, 0, 1.0])
    far = np.array([0.05, 0, 0, 0, 0, 0, 1.0])
    wrong_gripper = np.array([0.01, 0, 0, 0, 0, 0, 0.0])
    assert not t.expert_drives(close, expert)
    assert not t.expert_drives(far, expert)  # one step astray is tolerated
    assert t.expert_drives(far, expert)  # the second takes the hand
    assert [t.expert_drives(close, expert) for _ in range(3)] == [True, True, False]
    assert not t.expert_drives(wrong_gripper, expert)
    assert t.expert_drives(wrong_gripper, expert)  # holding the gripper wrong counts as straying too


def test_a_round_appends_labelled_policy_episodes_and_fine_tunes(
    tiny_dataset, tiny_checkpoint, tmp_path, local_ray, suite
):
    dataset = tmp_path / "ds"
    shutil.copytree(tiny_dataset, dataset)
    before = DatasetReader(dataset).num_episodes
    cfg = DaggerConfig(
        checkpoint=tiny_checkpoint,
        dataset=str(dataset),
        rounds=1,
        episodes_per_round=2,
        tasks=["pick_up/red_block"],
        minutes_per_round=1.0,
        workers=2,
    )
    cfg.env.max_steps = 25
    cfg.train.max_steps, cfg.train.batch_size, cfg.train.warmup_steps = 4, 8, 1
    rounds = dagger(cfg, tmp_path / "out")

    reader = DatasetReader(dataset)
    assert reader.num_episodes == before + 2
    new = [reader.info_of(i) for i in range(before, before + 2)]
    assert all(i["source"] == "policy" and i["task"] == "pick_up/red_block" for i in new)
    assert all(i["seed"] >= 1_000_000 for i in new)  # seeds apart from collection and evaluation
    frames = reader.frames(before)
    assert len(frames["action"]) == reader.episodes[before]["length"]
    # an untrained policy strays at once: the expert took over at some point and its frames are flagged
    assert np.any(np.concatenate([reader.frames(i)["intervention"] for i in range(before, before + 2)]))

    assert json.loads((tmp_path / "out" / "dagger.json").read_text()) == rounds
    assert rounds[0]["episodes"] == 2 and 0.0 <= rounds[0]["expert_frames"] <= 1.0
    tuned = Policy.from_pretrained(rounds[0]["checkpoint"])
    assert tuned.meta["init_from"] == tiny_checkpoint and tuned.meta["step"] == 4

    # the policy episodes are training segments whatever their outcome: their labels are the expert's
    encoder = OneHotTaskEncoder([t.id for t in suite.tasks("train")], suite)
    common = {"suite": suite, "relabels": False, "val_fraction": 0, "progress": False}
    data = DemoData(str(dataset), encoder, 10, **common)
    assert {before, before + 1} <= {s.episode for s in data.segments}
    # policy_frames="expert": each starts where the expert first took the hand (its chunk labels are the
    # expert's own path from there), and an episode it never took over teaches nothing
    expert = DemoData(str(dataset), encoder, 10, policy_frames="expert", **common)
    for ep in (before, before + 1):
        driven = np.flatnonzero(np.asarray(reader.frames(ep)["intervention"]).reshape(-1))
        starts = [s.start for s in expert.segments if s.episode == ep]
        assert starts == ([int(driven[0])] if len(driven) else [])
    demos = [s for s in expert.segments if s.episode < before]
    assert demos and all(s.start == 0 for s in demos)  # demonstrations are untouched


def test_policy_episodes_can_go_into_a_dataset_of_their_own(
    tiny_dataset, tiny_checkpoint, tmp_path, local_ray
):
    """A round may start a new dataset and fine-tune on it mixed with the demonstrations, leaving those
    untouched (the corrections then weigh as much as `mix_ratio` says, not as their share of frames)."""
    before = DatasetReader(tiny_dataset).num_episodes
    cfg = DaggerConfig(
        checkpoint=tiny_checkpoint,
        dataset=str(tmp_path / "corrections"),
        rounds=1,
        episodes_per_round=2,
        tasks=["pick_up/red_block"],
        workers=2,
    )
    cfg.env.max_steps = 15
    cfg.train.max_steps, cfg.train.batch_size, cfg.train.warmup_steps = 2, 8, 1
    cfg.train.mix_dataset, cfg.train.val_fraction = str(tiny_dataset), 0.0
    rounds = dagger(cfg, tmp_path / "out")

    reader = DatasetReader(tmp_path / "corrections")
    assert reader.num_episodes == 2 and {reader.info_of(i)["source"] for i in range(2)} == {"policy"}
    assert DatasetReader(tiny_dataset).num_episodes == before
    meta = Policy.from_pretrained(rounds[0]["checkpoint"]).meta
    assert meta["step"] == 2 and meta["mix_dataset"] == tiny_dataset.name and meta["mix_ratio"] == 0.5


def test_a_new_dataset_without_demonstrations_mixed_in_is_refused(tiny_checkpoint, tmp_path):
    cfg = DaggerConfig(checkpoint=tiny_checkpoint, dataset=str(tmp_path / "typo"))
    with pytest.raises(ValueError, match=r"does not exist.*train\.mix_dataset"):
        dagger(cfg, tmp_path / "out")


def test_an_unknown_policy_frames_value_is_refused():
    with pytest.raises(ValueError, match=r"policy_frames='some'; valid: all, expert"):
        TrainConfig(policy_frames="some")
