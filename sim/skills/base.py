"""What a skill is: a success check, the layout its expert needs, and the expert's plan.

Shared motion pieces (travel high, grasp, carry, place) and the pick-and-place skill shape live here,
so each skill file only says what is particular to it.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from sim.expert import Phase, Waypoint, nearest_yaw, wrap
from sim.predicates import grasped, held
from sim.state import ObjectState, SceneState
from sim.suite import TaskSpec

CARRY_Z = 0.20  # m: travel height, clear of the tallest object (the 14 cm bottle)
LOW_Z = CARRY_Z - 0.05  # m: a hand below this is already low (a policy the expert labels): no climb first
# The Panda hand is ~20 cm long along its finger axis and sits ~6 cm above the fingertips, so where it
# comes down to the table, tall objects must stand this far away (plus their radius), whatever the yaw.
HAND_REACH = 0.12
# A hand under travel height this well lined up on where it is going (horizontal offset per metre above
# the point) carries on down instead of climbing back first (`travel_over`).
DESCENT_CONE = 0.25
Zone = tuple[np.ndarray, float]  # (xy centre, radius) that clutter must stay out of
WaypointFn = Callable[[SceneState], Waypoint]


class Skill(abc.ABC):
    name: ClassVar[str]
    grasps: ClassVar[bool] = True  # its expert closes the fingers on the target (not a push)

    @abc.abstractmethod
    def satisfied(self, task: TaskSpec, state: SceneState) -> bool:
        """Whether the scene shows the task done (a pure function of the state)."""

    @abc.abstractmethod
    def plan(self, task: TaskSpec) -> list[Phase]:
        """The scripted expert's phases."""

    def feasible(self, task: TaskSpec, state: SceneState, workspace: tuple[np.ndarray, np.ndarray]) -> bool:
        """Whether a sampled layout lets the expert do the task (e.g. a push has room)."""
        return True

    def keep_clear(self, task: TaskSpec, state: SceneState) -> list[Zone]:
        """Areas around the task objects that distractors must leave free."""
        return [(state[task.target.name].xy, state[task.target.name].geometry.radius + 0.06)]

    def descents(self, task: TaskSpec, state: SceneState) -> list[np.ndarray]:
        """Where the hand comes down to the table; tall objects keep `HAND_REACH` away from these."""
        return [state[task.target.name].xy]


class PickAndPlace(Skill):
    """Grasp the target, release it in some relation to the reference object, let go."""

    @abc.abstractmethod
    def relation(self, obj: ObjectState, ref: ObjectState) -> bool:
        """Whether `obj` stands in this skill's relation to `ref`."""

    @abc.abstractmethod
    def goal(self, task: TaskSpec, state: SceneState) -> np.ndarray:
        """Grasp-point position at which to let go."""

    def place_yaw(self, task: TaskSpec, state: SceneState) -> float:
        """Gripper yaw while carrying and lowering; by default keep the grasp yaw."""
        return state.ee_yaw

    def satisfied(self, task: TaskSpec, state: SceneState) -> bool:
        obj = state[task.target.name]
        return self.relation(obj, state[task.reference.name]) and not held(obj, state)

    def descents(self, task: TaskSpec, state: SceneState) -> list[np.ndarray]:
        return [state[task.target.name].xy, state[task.reference.name].xy]

    def plan(self, task: TaskSpec) -> list[Phase]:
        return grasp(task.target.name) + place(
            task.target.name, lambda s: self.goal(task, s), lambda s: self.place_yaw(task, s)
        )


def inside_workspace(xy: np.ndarray, workspace: tuple[np.ndarray, np.ndarray], margin: float = 0.0) -> bool:
    low, high = workspace
    return bool(np.all(xy >= low[:2] - margin) and np.all(xy <= high[:2] + margin))


def grasp_point(obj: ObjectState) -> np.ndarray:
    geo = obj.geometry
    return obj.position + np.array([0.0, 0.0, geo.grasp_z - geo.rest_z])


def floor_under(obj: ObjectState) -> float:
    """Height of the surface the object stands on."""
    return float(obj.position[2] - obj.geometry.rest_z)


def travel_over(point: np.ndarray, s: SceneState) -> np.ndarray:
    """Where a travel phase aims: above `point` at travel height, or at `point` itself when the hand is
    already coming down onto it (under travel height, inside the `DESCENT_CONE` over it). That is a
    policy cutting the corner, which a labelling expert (DAgger) is shown: "climb back to travel height
    first" there contradicts the demonstrations' descent. The aim follows the state, so a hand that
    drifts out of the cone is sent up again. The expert's own travel phases run at travel height, above
    the cone's top (a reached travel waypoint is within 2 cm plus the stall margin of it)."""
    height = float(s.ee_position[2] - point[2])
    offset = float(np.linalg.norm(s.ee_position[:2] - point[:2]))
    if s.ee_position[2] < CARRY_Z - 0.03 and height > 0 and offset <= DESCENT_CONE * height:
        return np.asarray(point, dtype=np.float64)
    return np.array([point[0], point[1], CARRY_Z])


def rise(gripper: float) -> WaypointFn:
    """Straight up from wherever the gripper is to the travel height."""

    def target(s: SceneState) -> Waypoint:
        x, y, _ = s.ee_position
        return Waypoint(np.array([x, y, CARRY_Z]), s.ee_yaw, gripper, tolerance=0.02)

    return target


def grasp_yaw(object_yaw: float, hand_yaw: float, symmetry: float, tolerance: float) -> float:
    """The hand yaw to grasp at: the current one when it is within `tolerance` of a grasp yaw of the
    object, else turned just far enough to get within it (a function of the state without jumps except
    at the symmetry's far end, so a policy can learn it)."""
    error = wrap(nearest_yaw(object_yaw, hand_yaw, symmetry) - hand_yaw)
    excess = abs(error) - tolerance
    return hand_yaw if excess <= 0 else hand_yaw + math.copysign(excess, error)


def grasp(target: str) -> list[Phase]:
    """Travel above the object, descend, close the fingers, lift; retry if the grasp did not hold."""

    def yaw(s: SceneState) -> float:
        obj = s[target]
        return grasp_yaw(obj.yaw, s.ee_yaw, obj.geometry.grasp_symmetry, obj.geometry.grasp_yaw_tolerance)

    def above(s: SceneState) -> Waypoint:
        return Waypoint(travel_over(grasp_point(s[target]), s), yaw(s), 0.0, tolerance=0.02)

    def descend(s: SceneState) -> Waypoint:
        return Waypoint(grasp_point(s[target]), yaw(s), 0.0, tolerance=0.006)

    def close(s: SceneState) -> Waypoint:  # keep correcting towards the grasp point while closing
        return Waypoint(grasp_point(s[target]), yaw(s), 1.0)

    def holding(s: SceneState) -> bool:
        return grasped(s[target], s)

    def carrying(s: SceneState) -> bool:
        return holding(s) and s[target].lift > 0.01

    # The skips never fire in the expert's own noise-free episodes (its fingers are open until `close`,
    # and the object on the table while closing); they make it label a policy's state, not its plan's step.
    return [
        Phase("above", above, skip_if=holding),
        Phase("descend", descend, skip_if=holding),
        Phase("close", close, hold=4, skip_if=carrying, timeout=12),
        Phase("lift", rise(1.0), check=holding, retry_from="above"),
    ]


def place(
    target: str, goal: Callable[[SceneState], np.ndarray], yaw: Callable[[SceneState], float]
) -> list[Phase]:
    """Carry the held object above `goal(s)` (a grasp-point position), lower it there and let go."""

    def carry(s: SceneState) -> Waypoint:  # a hand moving across while lifting is still told to rise
        return Waypoint(travel_over(np.asarray(goal(s)), s), yaw(s), 1.0, tolerance=0.015)

    def lower(s: SceneState) -> Waypoint:
        return Waypoint(np.asarray(goal(s)), yaw(s), 1.0, tolerance=0.008)

    def release(s: SceneState) -> Waypoint:  # hold the goal, not wherever a perturbation left us
        return Waypoint(np.asarray(goal(s)), yaw(s), 0.0)

    return [
        Phase("carry", carry, check=lambda s: grasped(s[target], s), retry_from="above"),
        Phase("lower", lower),
        Phase("release", release, hold=3),
        Phase("retreat", rise(0.0)),
    ]
