"""The safety layer in simulation: refusals, per-step and velocity limits, workspace box, watchdog, e-stop."""

from __future__ import annotations

import time

import numpy as np
import pytest

from robot.safety import ActionLimits, SafeRobot, SafetyConfig, UnsafeActionError
from sim.sim_robot import SimRobot, SimRobotConfig
from tests.conftest import blind_config


@pytest.fixture
def robot():
    sim = SimRobot(SimRobotConfig(env=blind_config(), task="pick_up/red_block", seed=0, gui="false"))
    safe = SafeRobot(sim, SafetyConfig(max_speed=0.2, watchdog_timeout=0.3), control_hz=10)
    safe.connect()
    safe.get_observation()
    yield safe
    safe.disconnect()


def ee(robot: SafeRobot) -> np.ndarray:
    return robot.get_observation()["state"][:3].astype(np.float64)


def test_non_finite_actions_are_refused_and_never_sent(robot):
    before = ee(robot)
    steps = robot.robot.env.steps
    for bad in ([np.nan, 0, 0, 0, 0, 0, 0], [0, 0, 0, np.inf, 0, 0, 0], [0.1, 0.1]):
        with pytest.raises(UnsafeActionError):
            robot.send_action(np.array(bad, dtype=np.float32))
    assert robot.robot.env.steps == steps
    np.testing.assert_allclose(ee(robot), before, atol=1e-6)


def test_per_step_and_velocity_limits_clip(robot):
    applied = robot.send_action(np.array([0.5, 0, 0, 0, 0, 2.0, 0], dtype=np.float32))
    assert applied[0] == pytest.approx(0.02, abs=1e-6)  # 0.2 m/s at 10 Hz
    assert applied[5] == pytest.approx(0.15, abs=1e-6)  # 1.5 rad/s at 10 Hz


def test_workspace_box_stops_the_arm_at_its_wall(robot):
    robot.config.limits = ActionLimits(workspace_low=[0.2, -0.4, 0.15], workspace_high=[0.8, 0.4, 0.45])
    for _ in range(20):
        robot.get_observation()
        robot.send_action(np.array([0, 0, -0.05, 0, 0, 0, 0], dtype=np.float32))
    assert ee(robot)[2] == pytest.approx(0.15, abs=0.01)


def test_a_hand_outside_the_box_holds_still_and_may_not_go_further(robot):
    """A hand pushed just outside the box (by an object, or the IK's residual) holds where it is: the box
    stops motion out of it, and never becomes motion the operator did not ask for."""
    start = ee(robot)
    high = [0.8, float(start[1]) - 0.002, 0.45]  # the hand is 2 mm past the box's +y wall
    low = [0.2, min(-0.4, high[1] - 0.5), 0.0]
    robot.config.limits = ActionLimits(workspace_low=low, workspace_high=high)
    for _ in range(20):
        robot.get_observation()
        applied = robot.send_action(robot.hold_action())
        assert not np.any(applied[:6])
    np.testing.assert_allclose(ee(robot), start, atol=1e-3)
    applied = robot.send_action(np.array([0, 0.02, 0, 0, 0, 0, 0], dtype=np.float32))
    assert applied[1] == 0.0  # further out: stopped
    applied = robot.send_action(np.array([0, -0.02, 0, 0, 0, 0, 0], dtype=np.float32))
    assert applied[1] == pytest.approx(-0.02)  # back in: allowed


def test_emergency_stop_holds_until_released(robot):
    robot.estop()
    start = ee(robot)
    for _ in range(5):
        robot.get_observation()
        robot.send_action(np.array([0.02, 0, 0, 0, 0, 0, 0], dtype=np.float32))
    np.testing.assert_allclose(ee(robot), start, atol=2e-3)
    robot.release()
    for _ in range(5):
        robot.get_observation()
        robot.send_action(np.array([0.02, 0, 0, 0, 0, 0, 0], dtype=np.float32))
    assert ee(robot)[0] - start[0] > 0.05


def test_watchdog_holds_position_when_actions_stop(robot):
    time.sleep(0.7)  # connected, nothing asked yet (a policy loading): nothing to watch, nothing said
    assert robot.watchdog_trips == 0
    robot.send_action(np.array([0.02, 0, 0, 0, 0, 0, 0], dtype=np.float32))
    steps = robot.robot.env.steps
    time.sleep(1.0)  # the action source went quiet
    assert robot.watchdog_trips >= 2
    assert robot.robot.env.steps > steps  # the watchdog kept the arm commanded (holding)...
    a = ee(robot)
    time.sleep(0.7)
    np.testing.assert_allclose(ee(robot), a, atol=2e-3)  # ...where it was
