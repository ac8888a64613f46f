"""Each skill's scripted expert succeeds on a seeded, fully randomized scene, in the policy's action space."""

from __future__ import annotations

import numpy as np
import pytest

from sim.env import TabletopEnv
from sim.expert import dart_noise
from sim.predicates import grasped, held
from sim.skills.base import grasp_point
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


def test_every_skill_has_a_test_task(suite):
    assert set(TASKS) == set(suite.config.skills)  # put_on, which a suite file declares: test_declared_tasks


def run_out(env: TabletopEnv, expert) -> dict:
    """Let `expert` drive to the end of the episode; the last step's info."""
    for _ in range(env.config.max_steps):
        _, _, terminated, truncated, info = env.step(expert.act(env.scene_state()))
        if terminated or truncated:
            break
    return info


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


def test_grasp_yaw_turns_the_hand_only_as_far_as_the_grasp_needs():
    import math

    from sim.skills.base import grasp_yaw

    quarter, band = math.pi / 2, math.radians(30)
    assert grasp_yaw(math.radians(20), 0.0, quarter, band) == 0.0  # already within the band: no turn
    assert grasp_yaw(math.radians(40), 0.0, quarter, band) == pytest.approx(math.radians(10))
    assert grasp_yaw(math.radians(-40), 0.0, quarter, band) == pytest.approx(math.radians(-10))
    assert grasp_yaw(math.radians(70), 0.0, quarter, band) == 0.0  # a quarter turn away it is -20 degrees
    assert grasp_yaw(math.radians(80), 0.0, quarter, 0.0) == pytest.approx(math.radians(-10))  # no band


@pytest.mark.parametrize("kind", ["block", "duck"])
def test_objects_are_grasped_within_their_yaw_tolerance(suite, kind):
    """The tolerance the expert relies on holds: fingers turned that far from the object still lift it."""
    from robot.pybullet_arm.panda import yaw_quaternion
    from sim.expert import rotation_error

    env = TabletopEnv(blind_config(), suite=suite, split="all")
    try:
        _, info = env.reset(seed=4, options={"task": f"pick_up/yellow_{kind}"})
        obj = env.scene_state()[f"yellow_{kind}"]
        yaw = obj.yaw + obj.geometry.grasp_yaw_tolerance  # the worst turn the expert leaves
        for t in range(70):
            s = env.scene_state()
            goal = grasp_point(obj) if 25 <= t < 45 else np.array([*obj.position[:2], 0.2])
            move = np.clip(goal - s.ee_position, -0.02, 0.02)
            turn_to = np.clip(rotation_error(s.ee_orientation, yaw_quaternion(yaw)), -0.2, 0.2)
            _, _, terminated, _, info = env.step(np.array([*move, *turn_to, float(t >= 40)], np.float32))
            if terminated:
                break
        assert info["success"]
    finally:
        env.close()


def test_a_labelling_expert_picks_up_where_the_hand_already_is(random_env):
    """DAgger: a policy that has grasped and lifted the object on its own is told to carry it on, not to
    open the fingers and start the reach again (the plan's first phases are skipped when already done)."""
    env = random_env
    env.reset(seed=5, options={"task": "put_in/red_block/green_bowl"})
    expert = env.expert()
    for _ in range(40):  # someone (here the expert itself) grasps the block and lifts it off the table
        env.step(expert.act(env.scene_state()))
        if env.scene_state()["red_block"].lift > 0.02:
            break
    assert expert.skips == 0  # the expert's own episode never skips
    labeller = env.expert()  # a fresh plan, at its first phase, as DAgger's is when a policy drove
    label = labeller.act(env.scene_state())
    assert labeller.phase == "lift" and label[6] == 1.0 and labeller.skips == 3  # keep holding, go up
    assert run_out(env, labeller)["success"] and labeller.retries == 0  # on from the grasp, no reach again


def test_fingers_closed_on_air_beside_the_object_are_told_to_open(random_env):
    """A near miss is not a grasp: closed next to the block (within `held`'s reach of its grasp point),
    the label is still to open and reach for it."""
    env = random_env
    env.reset(seed=5, options={"task": "pick_up/red_block"})
    expert = env.expert()
    while expert.phase != "close":
        env.step(expert.act(env.scene_state()))
    for _ in range(3):  # 2.5 cm up, then close the fingers on air
        env.step(np.array([0, 0, 0.01, 0, 0, 0, 0], dtype=np.float32))
    for _ in range(10):
        env.step(np.array([0, 0, 0, 0, 0, 0, 1], dtype=np.float32))
    state = env.scene_state()
    assert held(state["red_block"], state) and not grasped(state["red_block"], state)
    labeller = env.expert()
    assert labeller.act(state)[6] == 0.0 and labeller.phase == "above" and labeller.skips == 0


def test_a_hand_coming_down_early_is_told_to_carry_on_down(random_env):
    """DAgger: a policy cuts the corner of the reach, coming down while still lining up. Inside the
    descent cone the label goes on down to the grasp point; outside it (or once the hand drifts out of
    it, the same labeller) the hand goes back up first."""
    env = random_env
    env.reset(seed=5, options={"task": "pick_up/red_block"})
    block = grasp_point(env.scene_state()["red_block"])
    labeller = env.expert()
    for offset, climbs in ((0.01, False), (0.06, True), (0.0, False)):
        _move_hand_to(env, block + np.array([offset, 0.0, 0.10]))
        labeller.follow(np.zeros(7))  # the hand came to rest there
        label = labeller.act(env.scene_state())
        assert labeller.phase == "above" and (label[2] > 0) == climbs and label[6] == 0.0


def _move_hand_to(env, position: np.ndarray) -> None:
    for _ in range(60):
        error = position - env.scene_state().ee_position
        if np.linalg.norm(error) < 0.004:
            return
        env.step(np.array([*np.clip(error, -0.02, 0.02), 0, 0, 0, 0], dtype=np.float32))
    raise AssertionError(f"the hand did not reach {position}")


@pytest.mark.parametrize(
    "task",
    [
        "pick_up/orange_duck",
        "put_in/red_block/green_bowl",
        "place_left_of/purple_block/purple_bottle",
        "stack_on/red_block/blue_block",
        "push_to/blue_block/yellow_bowl",
        "knock_over/red_bottle",
    ],
)
def test_the_expert_never_skips_in_its_own_episodes(random_env, task):
    env = random_env
    for seed in range(3):
        env.reset(seed=seed, options={"task": task})
        expert = env.expert()
        assert run_out(env, expert)["success"] and expert.skips == 0


def test_a_labelling_expert_pushes_on_from_where_the_hand_already_pushes(random_env):
    """DAgger on a pushing skill: a hand already low against the block is told to line up and push, not
    to go back up to carry height and come down again (which is how the plan starts)."""
    env = random_env
    env.reset(seed=2, options={"task": "push_to/green_block/yellow_bowl"})
    expert = env.expert()
    while expert.phase != "push":
        env.step(expert.act(env.scene_state()))
    for _ in range(3):
        env.step(expert.act(env.scene_state()))
    assert expert.skips == 0
    labeller = env.expert()
    labeller.act(env.scene_state())
    assert labeller.phase == "descend" and labeller.skips == 1
    assert run_out(env, labeller)["success"] and labeller.retries == 0


def test_a_labelling_expert_knocks_over_from_low_beside_the_bottle(random_env):
    env = random_env
    env.reset(seed=2, options={"task": "knock_over/red_bottle"})
    expert = env.expert()
    while expert.phase != "strike":
        env.step(expert.act(env.scene_state()))
    labeller = env.expert()
    labeller.act(env.scene_state())
    assert labeller.phase == "descend" and labeller.skips == 1  # no detour up to carry height
    assert run_out(env, labeller)["success"] and labeller.retries == 0


def test_the_expert_does_not_wait_out_a_timeout_standing_still(random_env):
    """At the edge of the arm's reach the hand stops a few mm short of the push's start; the expert used
    to wait there for the phase's timeout (35 idle frames per such demo: a lesson in stalling)."""
    env = random_env
    env.reset(seed=1, options={"task": "push_to/red_block/blue_bowl"})
    expert = env.expert()
    still, last = 0, None
    for _ in range(env.config.max_steps):
        state = env.scene_state()
        if last is not None and np.linalg.norm(state.ee_position - last) < 0.001:
            still += 1
        last = state.ee_position.copy()
        _, _, terminated, truncated, info = env.step(expert.act(state))
        if terminated or truncated:
            break
    assert info["success"] and still <= 3


def test_a_stuck_hand_has_reached_its_waypoint_but_a_paused_one_has_not(random_env):
    """Just outside a waypoint's tolerance, a hand that was sent on and did not move is as close as the
    arm gets; a hand that was not sent (a paused policy the expert labels) must still get there."""
    from sim.expert import Phase, ScriptedExpert, Waypoint

    env = random_env
    env.reset(seed=0, options={"task": "pick_up/red_block"})
    state = env.scene_state()
    goal = state.ee_position + np.array([0.0, 0.0, -0.0095])  # 9.5 mm away, tolerance 8 mm
    phases = [
        Phase("reach", lambda s: Waypoint(goal, s.ee_yaw, 0.0, tolerance=0.008)),
        Phase("next", lambda s: Waypoint(goal + 0.1, s.ee_yaw, 1.0)),
    ]
    for sent, phase in ((np.zeros(3), "reach"), (np.array([0.0, 0.0, -0.006]), "next")):
        expert = ScriptedExpert(phases)
        expert.act(state)
        expert.follow(np.concatenate([sent, np.zeros(4)]))  # what the hand was told in the last step
        expert.act(state)  # ...and it did not move
        assert expert.phase == phase
