"""Each skill's success check against real, settled PyBullet states: what must pass and what must fail."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from sim.skills import SKILLS
from sim.skills.place_beside import LEFT
from tests.conftest import place, settle


def satisfied(env) -> bool:
    return SKILLS[env.task.skill].satisfied(env.task, env.scene_state())


def reset(env, task: str) -> None:
    env.reset(seed=0, options={"task": task})
    assert not satisfied(env), f"{task} must not be satisfied at the start"


def move_gripper_away(env) -> None:
    """Park the open gripper high above the table, far from the objects."""
    for _ in range(12):
        pos, _ = env.arm.ee_pose()
        env.step(np.r_[np.clip(np.array([0.35, 0.0, 0.35]) - pos, -0.05, 0.05), 0, 0, 0, 0.0])


def test_put_in(blind_env):
    env = blind_env
    reset(env, "put_in/red_block/green_bowl")
    bowl = env.scene_state()["green_bowl"].position
    place(env, "red_block", [bowl[0] + 0.1, bowl[1], 0.02])  # beside the bowl
    settle(env)
    assert not satisfied(env)
    place(env, "red_block", [bowl[0], bowl[1], 0.06])  # dropped into it
    settle(env)
    assert satisfied(env)
    place(env, "red_block", [bowl[0], bowl[1], 0.25])  # hovering above the rim (mid-fall)
    assert not satisfied(env)


def test_stack_on(blind_env):
    env = blind_env
    reset(env, "stack_on/red_block/blue_block")
    base = env.scene_state()["blue_block"].position
    place(env, "red_block", [base[0], base[1] + 0.06, 0.02])  # side by side
    settle(env)
    assert not satisfied(env)
    place(env, "red_block", [base[0] + 0.005, base[1], 0.062])  # on top
    settle(env)
    assert satisfied(env)
    place(env, "blue_block", [base[0], base[1], 0.062])  # the wrong way round
    place(env, "red_block", [base[0], base[1], 0.02])
    settle(env)
    assert not satisfied(env)


@pytest.mark.parametrize("skill,sign", [("place_left_of", 1.0), ("place_right_of", -1.0)])
def test_place_beside(blind_env, skill, sign):
    env = blind_env
    reset(env, f"{skill}/red_block/green_bottle")
    bottle = env.scene_state()["green_bottle"].xy
    side = LEFT * sign
    place(env, "red_block", [*(bottle - side * 0.09), 0.02])  # the other side
    settle(env)
    assert not satisfied(env)
    place(env, "red_block", [*(bottle + side * 0.09), 0.02])
    settle(env)
    assert satisfied(env)
    place(env, "red_block", [*(bottle + side * 0.30), 0.02])  # same side but far away
    settle(env)
    assert not satisfied(env)


def test_push_to(blind_env):
    env = blind_env
    reset(env, "push_to/red_block/blue_bowl")
    bowl = env.scene_state()["blue_bowl"].xy
    place(env, "red_block", [bowl[0], bowl[1] - 0.12, 0.02])  # adjacent to the rim
    settle(env)
    assert satisfied(env)
    place(env, "red_block", [bowl[0], bowl[1] - 0.2, 0.02])  # still too far
    settle(env)
    assert not satisfied(env)


def test_knock_over(blind_env):
    env = blind_env
    reset(env, "knock_over/green_bottle")
    xy = env.scene_state()["green_bottle"].xy
    place(env, "green_bottle", [*xy, 0.08], euler=(0.3, 0.0, 0.0))  # leaning, rights itself
    settle(env)
    assert not satisfied(env)
    place(env, "green_bottle", [*xy, 0.03], euler=(np.pi / 2, 0.0, 0.0))  # lying on its side
    settle(env)
    assert satisfied(env)


def test_pick_up_needs_a_grasp(blind_env):
    env = blind_env
    reset(env, "pick_up/red_block")
    xy = env.scene_state()["red_block"].xy
    place(env, "red_block", [*xy, 0.12])  # in the air but not held: not picked up
    assert not satisfied(env)
    settle(env)
    assert not satisfied(env)
    expert = env.expert()
    for _ in range(60):
        _, _, terminated, _, info = env.step(expert.act(env.scene_state()))
        if terminated:
            break
    assert info["success"] and satisfied(env)
    state = env.scene_state()
    assert state["red_block"].lift > 0.05


def test_released_object_is_not_held(blind_env):
    """put_in fails while the gripper still holds the object inside the bowl, passes once released."""
    env = blind_env
    reset(env, "put_in/red_block/green_bowl")
    expert = env.expert()
    states = []
    for _ in range(80):
        s = env.scene_state()
        states.append((expert.phase, satisfied(env)))
        _, _, terminated, _, _ = env.step(expert.act(s))
        if terminated:
            break
    assert satisfied(env)
    assert all(
        not ok for phase, ok in states if phase in ("above", "descend", "close", "lift", "carry", "lower")
    )
    move_gripper_away(env)
    assert satisfied(env)
    assert p.isConnected(env.client)
