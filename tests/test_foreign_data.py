"""Training on another robot's LeRobot dataset: packed files, mixed camera sizes, any action layout.

The fixture (tests/lerobot_layout.py) is written the way LeRobot 0.4 writes v3.0: several episodes
per data file and per mp4, a 48x64 and a 24x32 camera, a 2-D state and a 2-D action (a pusher) or an
SO-100-style `gripper.pos` channel (0 open, 100 closed).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from rich.console import Console

from data_collection.check import check
from data_collection.layout import feature_names
from evaluation.rollouts import SimRollouts
from policy.action_layout import ActionLayout, resolve_mode
from policy.data import DemoData
from policy.language import SentenceEncoder
from policy.policy import Policy
from policy.train import RolloutConfig, TrainConfig, train
from tests import lerobot_layout as lr

TINY = dict(width=32, depth=1, heads=2, stem_channels=[8, 16], token_grid=2)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return SentenceEncoder(cache=tmp_path_factory.mktemp("embeddings"))


def observation(rng: np.random.Generator) -> dict[str, np.ndarray]:
    obs = {"state": rng.normal(size=2).astype(np.float32)}
    for cam, (h, w) in lr.CAMERAS.items():
        obs[cam] = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return obs


def test_round_trip_check_cache_train_save_load_predict(tmp_path):
    root = lr.write(tmp_path / "pusher")
    assert check(root).ok
    cfg = TrainConfig(
        dataset=str(root),
        max_minutes=None,
        max_steps=30,
        batch_size=8,
        warmup_steps=2,
        val_every=10,
        val_fraction=0.25,
        rollouts=RolloutConfig(every_minutes=15),  # asked for, but this robot is not the simulator's
    )
    cfg.policy.vit = type(cfg.policy.vit)(**TINY)
    out = io.StringIO()
    result = train(cfg, tmp_path / "run", Console(file=out, width=200), rollouts=SimRollouts(cfg.rollouts))
    said = out.getvalue()
    assert "are another robot's" in said
    assert said.count("no rollouts in the simulator") == 1  # said once, with what judges it instead
    assert "per-channel action error on 1 held-out episode(s)" in said
    assert "held-out x abs error" in said and "held-out y abs error" in said  # in the summary table
    assert result["evals"] == [] and set(result["action_errors"]) == {"x abs error", "y abs error"}

    policy = Policy.from_pretrained(result["checkpoint"])
    assert policy.config.actions == "raw" and policy.layout.grippers == ()
    assert policy.config.proprio == ["x", "y"]  # joint-like targets need the whole state
    assert policy.config.image_size == [24, 32]  # the smaller camera's size; the 48x64 one is resized
    policy.reset()
    rng = np.random.default_rng(0)
    obs = observation(rng)
    first = policy.select_action(obs, lr.TASKS[0])
    assert first.shape == (2,) and np.isfinite(first).all()
    images = {c: torch.as_tensor(obs[c])[None] for c in policy.config.cameras}
    chunk = policy.predict_chunk(images, torch.as_tensor(obs["state"])[None], policy.embed([lr.TASKS[0]]))
    np.testing.assert_allclose(first, chunk[0, 0].numpy(), rtol=1e-5, atol=1e-6)  # the chunk's first row
    second = policy.select_action(observation(rng), lr.TASKS[0])  # no re-plan yet: the chunk's next row
    np.testing.assert_allclose(second, chunk[0, 1].numpy(), rtol=1e-5, atol=1e-6)


def test_a_gripper_is_found_by_name_and_predicted_as_one_of_its_levels(tmp_path, encoder):
    root = lr.write(tmp_path / "so100", gripper=True)
    data = DemoData(str(root), encoder, 5, val_fraction=0, progress=False)
    assert data.actions == "raw" and data.layout.grippers == (2,) and data.layout.levels == ((0.0, 100.0),)
    cfg = TrainConfig(dataset=str(root), max_minutes=None, max_steps=3, batch_size=4, warmup_steps=1)
    cfg.policy.vit = type(cfg.policy.vit)(**TINY)
    cfg.rollouts.every_minutes = 0
    result = train(cfg, tmp_path / "run", Console(file=io.StringIO()))
    assert "gripper.pos wrong open/closed" in result["action_errors"]
    policy = Policy.from_pretrained(result["checkpoint"])
    policy.reset()
    rng = np.random.default_rng(1)
    for _ in range(3):
        action = policy.select_action(observation(rng), lr.TASKS[1])
        assert action[2] in (0.0, 100.0)  # open or closed, never in between


def test_gripper_channels_can_be_named_or_turned_off():
    names = ["shoulder_pan.pos", "elbow_flex.pos", "gripper.pos"]
    assert ActionLayout.of(names, None, [[0, 100]]).grippers == (2,)
    assert ActionLayout.of(names, [], []).continuous == [0, 1, 2]
    assert ActionLayout.of(["left_gripper", "x", "right_gripper"], None, []).grippers == (0, 2)
    assert ActionLayout.of(["dx", "dy", "dz", "drx", "dry", "drz", "gripper"], None, []).levels == ((0, 1),)
    with pytest.raises(ValueError, match=r"policy.gripper names \['claw'\], not action channels"):
        ActionLayout.of(names, ["claw"], [])


def test_pose_actions_on_another_robot_say_what_to_use():
    assert resolve_mode("auto", ["x", "y"], ["x", "y"]) == "raw"
    with pytest.raises(
        ValueError, match=r"policy.actions=relative needs the end-effector layout.*use policy"
    ):
        resolve_mode("relative", ["x", "y"], ["x", "y"])
    with pytest.raises(ValueError, match=r"policy.actions='joints'; valid: auto, relative, delta, raw"):
        resolve_mode("joints", ["x"], ["x"])


def test_channel_names_as_lerobot_datasets_write_them():
    features = {
        "action": {"dtype": "float32", "shape": [3], "names": {"motors": ["waist", "elbow", "gripper"]}},
        "observation.state": {"dtype": "float32", "shape": [2], "names": None},
    }
    assert feature_names(features, "action") == ["waist", "elbow", "gripper"]  # converted from v2.x
    assert feature_names(features, "observation.state") == ["state_0", "state_1"]  # no names at all


def test_a_batch_that_cannot_be_built_stops_training_instead_of_hanging():
    from policy.prefetch import Prefetcher

    def broken():
        raise ValueError("frame 12 is unreadable")

    prefetch = Prefetcher(broken)
    with pytest.raises(ValueError, match="frame 12 is unreadable"):
        prefetch.get()
    prefetch.close()


def test_a_raw_action_policy_is_refused_by_the_control_loop(tmp_path):
    from deploy.loop import ControlLoop, LoopConfig

    root = lr.write(tmp_path / "pusher")
    cfg = TrainConfig(dataset=str(root), max_minutes=None, max_steps=1, batch_size=4, warmup_steps=1)
    cfg.policy.vit = type(cfg.policy.vit)(**TINY)
    cfg.rollouts.every_minutes = 0
    policy = Policy.from_pretrained(train(cfg, tmp_path / "run", Console(file=io.StringIO()))["checkpoint"])
    with pytest.raises(ValueError, match=r"raw actions \(policy.actions=raw\).*policy.actions=relative"):
        ControlLoop(None, policy, LoopConfig())
