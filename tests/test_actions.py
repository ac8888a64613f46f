"""Chunk-relative actions: the rotation algebra, the training labels, and the check that matters most:
executing the dataset's own labels through the policy's executor does what the expert did."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from data_collection.frames import FrameCache
from policy.data import DemoData
from policy.execution import ChunkExecutor
from policy.language import OneHotTaskEncoder
from policy.pose import (
    absolute_targets,
    action_towards,
    chained_targets,
    commanded_pose,
    quat_mul,
    quat_to_rotvec,
    rotvec_to_quat,
    start_target,
)
from sim.env import TabletopEnv
from sim.env_config import EnvConfig


def test_rotations_compose_like_the_robot_applies_them():
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = np.array(p.getQuaternionFromEuler(rng.normal(size=3)))
        r = rng.normal(size=3) * 0.3
        angle = np.linalg.norm(r)
        _, expected = p.multiplyTransforms(
            [0, 0, 0], p.getQuaternionFromAxisAngle(r / angle, angle), [0, 0, 0], q
        )
        assert abs(quat_mul(rotvec_to_quat(r), q) @ expected) == pytest.approx(1.0, abs=1e-6)
        np.testing.assert_allclose(quat_to_rotvec(rotvec_to_quat(r)), r, atol=1e-12)


def test_action_towards_a_target_reaches_it():
    state = np.array([0.4, 0.1, 0.3, *p.getQuaternionFromEuler([3.1, 0.05, 0.4]), 0.08])
    target = np.array([0.45, 0.05, 0.2, *p.getQuaternionFromEuler([3.14, 0.0, -0.2]), 1.0])
    a = action_towards(target, state)
    position, quaternion = commanded_pose(state, a.astype(np.float64))
    np.testing.assert_allclose(position, target[:3], atol=1e-6)
    assert abs(quaternion @ target[3:7]) == pytest.approx(1.0, abs=1e-6)
    assert a[6] == 1.0


def test_chained_deltas_and_relative_offsets_agree(tiny_dataset):
    """A chunk of per-step deltas and the same motion as offsets from the first pose give one path."""
    state = np.array([0.4, 0.0, 0.3, 1.0, 0.0, 0.0, 0.0, 0.08])
    deltas = np.zeros((4, 7))
    deltas[:, 0], deltas[:, 5], deltas[:, 6] = 0.01, 0.05, [0, 0, 1, 1]
    chained = chained_targets(deltas, state)
    relative = np.zeros((4, 7))
    relative[:, 0], relative[:, 5], relative[:, 6] = (
        0.01 * np.arange(1, 5),
        0.05 * np.arange(1, 5),
        deltas[:, 6],
    )
    np.testing.assert_allclose(absolute_targets(relative, state), chained, atol=1e-9)


@pytest.fixture(scope="module")
def labels(tiny_dataset, suite):
    encoder = OneHotTaskEncoder([t.id for t in suite.tasks("train")], suite)
    return DemoData(
        str(tiny_dataset), encoder, 10, suite=suite, relabels=False, val_fraction=0, progress=False
    )


def test_relative_labels_are_where_the_expert_sent_the_hand(labels):
    cache: FrameCache = labels.cache
    g, seg = 3, labels.segments[0]  # frame 3 of the first episode
    actions = labels.targets(np.array([g]), [seg])
    states, deltas = cache.columns["observation.state"], cache.columns["action"]
    absolute = absolute_targets(actions[0].astype(np.float64), np.asarray(states[g], np.float64))
    for k in range(10):
        position, _ = commanded_pose(
            np.asarray(states[g + k], np.float64), np.asarray(deltas[g + k], np.float64)
        )
        np.testing.assert_allclose(absolute[k, :3], position, atol=1e-5)
    np.testing.assert_allclose(actions[0, 0, :3], deltas[g, :3], atol=1e-6)  # the first is the expert's step
    end = np.array([len(cache.columns["action"]) - 1])
    last = labels.targets(end - 2, [labels.segments[-1]])
    np.testing.assert_allclose(last[0, 2:, :3], last[0, 2:3, :3].repeat(8, 0), atol=1e-6)  # then it holds


def test_replaying_the_labels_through_the_executor_redoes_the_demonstration(labels, suite):
    """An oracle that outputs the dataset's chunk labels at every step, executed the way the policy is,
    succeeds where the expert did: labels, timing and execution agree (the first rung of the ladder)."""
    config = EnvConfig()
    for cam in config.robot.cameras.values():
        cam.width = cam.height = 32
    env = TabletopEnv(config, suite=suite)
    reader = labels.cache.reader
    try:
        for ep in (0, 2):  # pick_up/red_block, pick_up/blue_block, as collected with seeds 0 and 2
            info = reader.info_of(ep)
            start, length = labels.cache.episode_starts[ep], reader.episodes[ep]["length"]
            segment = next(s for s in labels.segments if s.episode == ep)
            obs, _ = env.reset(seed=int(info["seed"]), options={"task": info["task"]})
            executor = ChunkExecutor("ensemble", 1.0, substeps=1, chunk=10)
            success = False
            for t in range(length - 1):
                chunk = labels.targets(np.array([start + t]), [segment])
                state = np.asarray(obs["state"], np.float64)
                executor.add(t, absolute_targets(chunk[0].astype(np.float64), state), start_target(state))
                obs, _, terminated, _, step_info = env.step(executor.action(t, state))
                success = success or step_info["success"]
                if terminated:
                    break
            assert info["success"] and success, (ep, info["task"])
    finally:
        env.close()
