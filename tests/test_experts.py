"""Each skill's scripted expert succeeds on a seeded, fully randomized scene, in the policy's action space."""

from __future__ import annotations

import numpy as np
import pytest

from sim.env import TabletopEnv
from sim.expert import dart_noise
from sim.skills import SKILLS
from tests.conftest import blind_config

TASKS = {
    "pick_up": "pick_up/yellow_duck",
    "put_in": "put_in/blue_block/purple_tray",
    "push_to": "push_to/green_block/yellow_bowl",
    "stack_on": "stack_on/orange_block/red_block",
    "place_left_of": "place_left_of/purple_block/red_bottle",
    "place_right_of": "place_right_of/yellow_block/green_bottle",
    "knock_over": "knock_over/red_bottle",
}


def test_every_skill_has_a_test_task():
    assert set(TASKS) == set(SKILLS)


@pytest.fixture(scope="module")
def random_env(suite):
    env = TabletopEnv(blind_config(object_poses=True, object_set=True), suite=suite, split="all")
    yield env
    env.close()


@pytest.mark.parametrize("skill", sorted(TASKS))
def test_expert_succeeds(random_env, skill):
    env = random_env
    _, info = env.reset(seed=3, options={"task": TASKS[skill]})
    expert = env.expert()
    low, high = env.action_space.low, env.action_space.high
    for _ in range(env.config.max_steps):
        action = expert.act(env.scene_state())
        assert np.all(action >= low - 1e-6) and np.all(action <= high + 1e-6), "expert left the action space"
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    assert info["success"], f"{TASKS[skill]} failed in phase {expert.phase}"


def test_expert_recovers_under_dart_noise(random_env):
    env = random_env
    env.reset(seed=5, options={"task": "put_in/red_block/green_bowl"})
    expert, rng = env.expert(), np.random.default_rng(0)
    for _ in range(env.config.max_steps):
        _, _, terminated, truncated, info = env.step(
            dart_noise(expert.act(env.scene_state()), rng, 0.005, 0.025)
        )
        if terminated or truncated:
            break
    assert info["success"]
