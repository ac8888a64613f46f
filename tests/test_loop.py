"""The control loop: chunk execution, a fixed rate despite slow inference, instruction switching."""

from __future__ import annotations

import time

import numpy as np
import pytest

from deploy.loop import ChunkExecutor, ControlLoop, LoopConfig
from policy.policy import Policy, PolicyConfig
from policy.rollouts import env_config_for
from robot.safety import SafeRobot, SafetyConfig
from sim.robot import SimRobot, SimRobotConfig


def chunk(value: float, k: int = 4) -> np.ndarray:
    c = np.zeros((k, 7), np.float32)
    c[:, 0] = value + np.arange(k)
    c[:, 6] = 1.0
    return c


def test_first_executes_the_newest_chunk_aligned_in_time():
    ex = ChunkExecutor("first", 0.25, substeps=1, chunk=4)
    assert ex.action(0) is None
    ex.add(0, chunk(10))
    ex.add(2, chunk(20))  # planned from step 2's observation
    assert ex.action(3)[0] == pytest.approx(21)  # second action of the newest chunk
    assert ex.action(6) is None  # past its end: the caller holds


def test_ensemble_averages_and_substeps_split_actions():
    ex = ChunkExecutor("ensemble", 0.0, substeps=1, chunk=4)
    ex.add(0, chunk(10))
    ex.add(1, chunk(20))
    assert ex.action(1)[0] == pytest.approx((11 + 20) / 2)
    fast = ChunkExecutor("first", 0.0, substeps=3, chunk=4)
    fast.add(0, chunk(3))
    assert [fast.action(s)[0] for s in range(6)] == pytest.approx([1, 1, 1, 4 / 3, 4 / 3, 4 / 3])
    assert fast.action(0)[6] == 1.0  # the gripper is not divided


def tiny_policy() -> Policy:
    cfg = PolicyConfig(
        cameras=["scene", "wrist"],
        image_size=[32, 32],
        state_names=[f"s{i}" for i in range(8)],
        action_names=[f"a{i}" for i in range(7)],
    )
    cfg.vit.width, cfg.vit.depth, cfg.vit.heads, cfg.vit.stem_channels, cfg.vit.token_grid = (
        32,
        1,
        2,
        [8, 16],
        2,
    )
    return Policy(cfg, 384).eval()


class SlowPolicy:
    """The tiny policy, but every plan takes 0.35 s (three and a half ticks at 10 Hz)."""

    def __init__(self, policy: Policy) -> None:
        self.policy, self.config = policy, policy.config
        self.calls = 0

    def plan(self, obs, text):
        self.calls += 1
        time.sleep(0.35)
        return self.policy.plan(obs, text)

    def reset(self) -> None:
        self.policy.reset()


@pytest.fixture
def sim_robot():
    policy = tiny_policy()
    env = env_config_for(policy)
    sim = SimRobot(SimRobotConfig(env=env, task="pick_up/red_block", seed=0, gui="false"))
    robot = SafeRobot(sim, SafetyConfig(watchdog_timeout=2.0), control_hz=10)
    robot.connect()
    yield robot, policy
    robot.disconnect()


def test_slow_inference_never_stalls_control(sim_robot):
    robot, policy = sim_robot
    slow = SlowPolicy(policy)
    loop = ControlLoop(robot, slow, LoopConfig(control_hz=10))
    loop.set_instruction("pick up the red block")
    loop.start()
    time.sleep(3.0)
    loop.stop()
    fig = loop.figures()
    assert 9.0 < fig["rate_hz"] < 11.0
    assert fig["deadline_misses"] <= 2
    assert fig["inference_p50_ms"] > 300  # the planner really was slow...
    assert 3 <= slow.calls <= 10  # ...and ran beside the loop, not per tick


def test_new_instruction_switches_at_once(sim_robot):
    robot, policy = sim_robot
    loop = ControlLoop(robot, policy, LoopConfig(control_hz=10))
    loop.set_instruction("pick up the red block")
    for _ in range(5):
        loop.tick()
    time.sleep(0.1)
    assert loop.executor.chunks
    loop.set_instruction("knock over the green bottle")
    assert not loop.executor.chunks and loop.instruction == "knock over the green bottle"
    with pytest.raises(ValueError, match="empty instruction"):
        loop.set_instruction("  ")
    loop.stop()


def test_takeover_actions_replace_the_policy_and_are_flagged(sim_robot):
    robot, policy = sim_robot
    flags = []
    loop = ControlLoop(
        robot, policy, LoopConfig(control_hz=10), on_tick=lambda lp, o, a, human: flags.append(human)
    )
    loop.set_instruction("pick up the red block")
    loop.set_takeover(True)
    loop.teleop(np.array([0, 0, 0.02, 0, 0, 0], np.float32), gripper=0.0)
    start = robot.get_observation()["state"][2]
    for _ in range(5):
        loop.tick()
    assert robot.get_observation()["state"][2] - start > 0.06
    loop.set_takeover(False)
    loop.tick()
    assert flags == [True] * 5 + [False]
    loop.stop()


def test_thirty_hertz_splits_a_ten_hertz_policy(sim_robot):
    robot, policy = sim_robot
    loop = ControlLoop(robot, policy, LoopConfig(control_hz=30))
    assert loop.substeps == 3
    with pytest.raises(ValueError, match="whole multiple"):
        ControlLoop(robot, policy, LoopConfig(control_hz=25))
    loop.stop()


def test_instruction_naming_an_absent_object_says_so(sim_robot):
    robot, _ = sim_robot
    sim = robot.robot
    assert sim.set_instruction("pick up the red block") is None and sim.success() is False
    absent = next(c for c in ("purple", "orange", "pink", "yellow") if f"{c}_block" not in sim.objects)
    why = sim.set_instruction(f"pick up the {absent} block")
    assert why.startswith(f"no {absent} block on the table") and "red block" in why
    assert sim.success() is None
    assert "not a task of the suite" in sim.set_instruction("juggle the moon")
