"""The Panda backend and the action limits, in a bare PyBullet world."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from robot.pybullet_arm import PandaArm, PandaConfig
from robot.robot import EE_ACTION_NAMES, EE_STATE_NAMES
from robot.safety import ActionLimits, UnsafeActionError


@pytest.fixture
def arm():
    client = p.connect(p.DIRECT)
    p.setGravity(0, 0, -9.81, physicsClientId=client)
    config = PandaConfig()
    for cam in config.cameras.values():
        cam.width, cam.height = 40, 30
    robot = PandaArm(config, client)
    robot.connect()
    yield robot
    robot.disconnect()
    p.disconnect(client)


def step(arm: PandaArm, action) -> np.ndarray:
    applied = arm.send_action(np.asarray(action, dtype=np.float32))
    for _ in range(arm.config.substeps):
        p.stepSimulation(physicsClientId=arm.client)
    return applied


def test_features_describe_the_observation(arm):
    obs = arm.get_observation()
    features = arm.observation_features
    assert set(obs) == set(features) == {"state", "scene", "wrist"}
    for name, f in features.items():
        assert obs[name].shape == f.shape and obs[name].dtype == np.dtype(f.dtype)
    assert features["state"].names == EE_STATE_NAMES
    assert arm.action_features["action"].names == EE_ACTION_NAMES


def test_connect_goes_home(arm):
    pos, _ = arm.ee_pose()
    np.testing.assert_allclose(pos, arm.config.home_position, atol=0.005)
    assert arm.gripper_width() == pytest.approx(arm.config.gripper_max_width, abs=1e-3)


def test_deltas_move_the_end_effector(arm):
    start, _ = arm.ee_pose()
    for _ in range(5):
        step(arm, [0.02, -0.01, -0.02, 0, 0, 0, 0])
    end, _ = arm.ee_pose()
    np.testing.assert_allclose(end - start, [0.1, -0.05, -0.1], atol=0.01)


def test_rotation_delta_turns_the_gripper(arm):
    from sim.state import yaw_of

    _, q0 = arm.ee_pose()
    for _ in range(4):
        step(arm, [0, 0, 0, 0, 0, 0.1, 0])
    _, q1 = arm.ee_pose()
    assert yaw_of(q1) - yaw_of(q0) == pytest.approx(0.4, abs=0.03)


def test_gripper_closes_and_opens(arm):
    for _ in range(5):
        step(arm, [0, 0, 0, 0, 0, 0, 1.0])
    assert arm.gripper_width() < 0.005
    for _ in range(5):
        step(arm, [0, 0, 0, 0, 0, 0, 0.0])
    assert arm.gripper_width() > 0.075


def test_workspace_box_bounds_the_target(arm):
    for _ in range(20):
        step(arm, [0, 0, -0.05, 0, 0, 0, 0])
    pos, _ = arm.ee_pose()
    assert pos[2] > arm.config.limits.workspace_low[2] - 0.01


def test_non_finite_action_never_reaches_the_motors(arm):
    before = [p.getJointState(arm.body, j, physicsClientId=arm.client)[0] for j in range(7)]
    with pytest.raises(UnsafeActionError, match="drz"):
        arm.send_action(np.array([0, 0, 0, 0, 0, np.inf, 0]))
    for _ in range(24):
        p.stepSimulation(physicsClientId=arm.client)
    after = [p.getJointState(arm.body, j, physicsClientId=arm.client)[0] for j in range(7)]
    np.testing.assert_allclose(after, before, atol=1e-3)


def test_limits_clip_and_report():
    limits = ActionLimits(max_delta_pos=0.05, max_delta_rot=0.3)
    clipped, was = limits.clip(np.array([0.2, -0.2, 0.01, 1.0, 0, 0, 2.0]))
    np.testing.assert_allclose(clipped, [0.05, -0.05, 0.01, 0.3, 0, 0, 1.0], atol=1e-6)
    assert was
    same, was = limits.clip(np.array([0.01, 0, 0, 0, 0, 0, 0.5]))
    assert not was and same[0] == pytest.approx(0.01)
