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
from sim.predicates import grasped, held, upright
from sim.state import ObjectState, SceneState
from tasks.suite import TaskSpec

CARRY_Z = 0.20  # m: travel height, clear of the tallest object (the 14 cm bottle)
LOW_Z = CARRY_Z - 0.05  # m: a hand below this is already low (a policy the expert labels): no climb first
# The Panda hand is ~20 cm long along its finger axis and sits ~6 cm above the fingertips, so where it
# comes down to the table, tall objects must stand this far away (plus their radius), whatever the yaw.
HAND_REACH = 0.12
# A hand under travel height this well lined up on where it is going (horizontal offset per metre above
# the point) carries on down instead of climbing back first (`travel_over`).
DESCENT_CONE = 0.25
# A fresh layout keeps standing bottles HAND_REACH + radius from where the hand comes down; a chain
# can bring one closer (`tall_neighbour`). This margin keeps a few mm of settling in a fresh layout from
# ever turning the grasp.
NEIGHBOUR_MARGIN = 0.01
Zone = tuple[np.ndarray, float]  # (xy centre, radius) that clutter must stay out of
WaypointFn = Callable[[SceneState], Waypoint]


class Skill(abc.ABC):
    """A skill as the simulator implements it: success check, layout constraints and scripted expert
    (registered by name in `SKILLS`)."""

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
        """The target stands in the relation to the reference, and the fingers have let go of it."""
        obj = state[task.target.name]
        return self.relation(obj, state[task.reference.name]) and not held(obj, state)

    def descents(self, task: TaskSpec, state: SceneState) -> list[np.ndarray]:
        """The hand comes down at the target (to grasp) and at the reference (to place)."""
        return [state[task.target.name].xy, state[task.reference.name].xy]

    def plan(self, task: TaskSpec) -> list[Phase]:
        """Grasp the target, then place it at `goal` with `place_yaw`."""
        return grasp(task.target.name) + place(
            task.target.name, lambda s: self.goal(task, s), lambda s: self.place_yaw(task, s)
        )


def inside_workspace(xy: np.ndarray, workspace: tuple[np.ndarray, np.ndarray], margin: float = 0.0) -> bool:
    """Whether `xy` lies in the workspace's (low, high) box, widened by `margin` m on every side."""
    low, high = workspace
    return bool(np.all(xy >= low[:2] - margin) and np.all(xy <= high[:2] + margin))


def grasp_point(obj: ObjectState) -> np.ndarray:
    """Where the fingertips close on `obj`: over its centre, the kind's `grasp_z` above its surface."""
    geo = obj.geometry
    return obj.position + np.array([0.0, 0.0, geo.grasp_z - geo.rest_z])


def hold_height(s: SceneState, name: str) -> float:
    """How far above the held object's bottom the hand holds it: where a place lowers the hand to, over
    the surface it sets the object on. A grasp from the table holds at the kind's `grasp_z`; one from
    inside a bowl or off a stack can sit a few mm higher or lower, and placing by `grasp_z` then would
    press the object into the table and tip it over (seen in chains)."""
    obj = s[name]
    if not grasped(obj, s):
        return obj.geometry.grasp_z
    return float(s.ee_position[2] - (obj.position[2] - obj.geometry.rest_z))


def floor_under(obj: ObjectState) -> float:
    """Height of the surface the object stands on."""
    return float(obj.position[2] - obj.geometry.rest_z)


def top_of(obj: ObjectState) -> float:
    """Height of the object's top: where something set on it rests."""
    return floor_under(obj) + obj.geometry.height


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
        """Above the hand's current spot at travel height, yaw kept, gripper as given."""
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


def tall_neighbour(s: SceneState, name: str) -> float | None:
    """Direction (rad) from object `name` to the nearest standing tall object within a hand's reach of
    it, if any. Fresh layouts never have one (`sim/scene.py`); a chain can (a block placed beside a
    bottle), and the hand then grasps turned across it, as `place_left_of` lowers."""
    obj = s[name]
    near = [
        o
        for n, o in s.objects.items()
        if n != name
        and o.geometry.tall
        and upright(o)
        and np.linalg.norm(o.xy - obj.xy) < HAND_REACH + o.geometry.radius - NEIGHBOUR_MARGIN
    ]
    if not near:
        return None
    o = min(near, key=lambda o: float(np.linalg.norm(o.xy - obj.xy)))
    d = o.xy - obj.xy
    return float(np.arctan2(d[1], d[0]))


def grasp(target: str) -> list[Phase]:
    """Travel above the object, descend, close the fingers, lift; retry if the grasp did not hold."""

    def yaw(s: SceneState) -> float:
        """The grasp yaw: across a tall neighbour when one is near, else `grasp_yaw`."""
        obj = s[target]
        across = tall_neighbour(s, target)
        if across is not None:  # the hand's long axis across the line to it, so it clears
            return nearest_yaw(nearest_yaw(obj.yaw, across, obj.geometry.grasp_symmetry), s.ee_yaw, math.pi)
        return grasp_yaw(obj.yaw, s.ee_yaw, obj.geometry.grasp_symmetry, obj.geometry.grasp_yaw_tolerance)

    def above(s: SceneState) -> Waypoint:
        """Travel to above the grasp point, fingers open."""
        return Waypoint(travel_over(grasp_point(s[target]), s), yaw(s), 0.0, tolerance=0.02)

    def descend(s: SceneState) -> Waypoint:
        """Down to the grasp point, fingers open (6 mm tolerance)."""
        return Waypoint(grasp_point(s[target]), yaw(s), 0.0, tolerance=0.006)

    def close(s: SceneState) -> Waypoint:  # keep correcting towards the grasp point while closing
        return Waypoint(grasp_point(s[target]), yaw(s), 1.0)

    def holding(s: SceneState) -> bool:
        """Whether the fingers hold the target."""
        return grasped(s[target], s)

    def carrying(s: SceneState) -> bool:
        """Whether the target is held and lifted off its surface by more than 1 cm."""
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
        """Down to the goal, still holding."""
        return Waypoint(np.asarray(goal(s)), yaw(s), 1.0, tolerance=0.008)

    def release(s: SceneState) -> Waypoint:  # hold the goal, not wherever a perturbation left us
        return Waypoint(np.asarray(goal(s)), yaw(s), 0.0)

    return [
        Phase("carry", carry, check=lambda s: grasped(s[target], s), retry_from="above"),
        Phase("lower", lower),
        Phase("release", release, hold=3),
        Phase("retreat", rise(0.0)),
    ]


def held_other(task: TaskSpec, s: SceneState) -> str | None:
    """A graspable object other than the task's target that the fingers hold, if any."""
    for name, obj in s.objects.items():
        if name != task.target.name and obj.geometry.graspable and held(obj, s):
            return name
    return None


def free_hand(task: TaskSpec, skill: Skill) -> list[Phase]:
    """What the expert does first when the hand is not where a fresh scene leaves it (the last
    instruction's end, or a policy it labels): set down an object the task does not involve, then rise
    straight up out of a bowl, off a stack or from beside a pushed block before travelling. From the
    home pose, open and empty, every phase is skipped, so single-task demonstrations are unchanged."""

    def set_down(s: SceneState) -> Waypoint:  # onto the nearest free spot of the table
        name = held_other(task, s)
        if name is None:
            return Waypoint(s.ee_position.copy(), s.ee_yaw, 1.0)
        xy = free_spot(s, name, skill.descents(task, s))
        return Waypoint(travel_over(np.array([*xy, hold_height(s, name) + 0.006]), s), s.ee_yaw, 1.0)

    def let_go(s: SceneState) -> Waypoint:
        """Open the fingers where the hand is."""
        return Waypoint(s.ee_position.copy(), s.ee_yaw, 0.0)

    def settled(s: SceneState) -> bool:
        """High already, or holding the target, or low right where the task comes down (mid-task)."""
        if s.ee_position[2] >= LOW_Z or grasped(s[task.target.name], s):
            return True
        return any(float(np.linalg.norm(s.ee_position[:2] - d)) < 0.05 for d in skill.descents(task, s))

    def lower(s: SceneState) -> Waypoint:
        """Down to setting-down height over the free spot (or stay, when nothing is held)."""
        name = held_other(task, s)
        z = hold_height(s, name) + 0.006 if name else s.ee_position[2]
        return Waypoint(np.array([*s.ee_position[:2], z]), s.ee_yaw, 1.0, tolerance=0.008)

    empty = lambda s: held_other(task, s) is None  # noqa: E731
    return [
        Phase("set_down", set_down, skip_if=empty, prelude=True),
        Phase("lower_held", lower, skip_if=empty, prelude=True),
        Phase("let_go", let_go, hold=3, skip_if=empty, prelude=True),
        Phase("clear", rise(1.0 if not skill.grasps else 0.0), skip_if=settled, prelude=True),
    ]


def free_spot(s: SceneState, held_name: str, descents: list[np.ndarray]) -> np.ndarray:
    """Where to set a held object down: the table point nearest the hand, on a 2 cm grid over the
    workspace, with room from every other object and from where the next task's hand comes down."""
    held_r = s[held_name].geometry.radius
    xs, ys = np.meshgrid(np.arange(0.34, 0.67, 0.02), np.arange(-0.23, 0.24, 0.02))
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
    ok = np.ones(len(grid), bool)
    for name, obj in s.objects.items():
        if name != held_name:
            ok &= np.linalg.norm(grid - obj.xy, axis=1) > held_r + obj.geometry.radius + 0.04
    for d in descents:
        ok &= np.linalg.norm(grid - d, axis=1) > HAND_REACH
    if not ok.any():
        return s.ee_position[:2].copy()
    candidates = grid[ok]
    return candidates[np.argmin(np.linalg.norm(candidates - s.ee_position[:2], axis=1))]
