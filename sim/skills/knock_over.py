"""knock over X: a tall object ends lying down (tilted more than 60 degrees)."""

from __future__ import annotations

import numpy as np

from sim.expert import Phase, Waypoint
from sim.predicates import fallen
from sim.skills.base import LOW_Z, Skill, Zone, rise, travel_over
from sim.state import SceneState
from tasks.suite import TaskSpec

HIT_HEIGHT = 0.7  # fraction of the object's height where the hand strikes


def _direction(s: SceneState, name: str) -> np.ndarray:
    """Push away from the robot base, so the object falls where the arm is not."""
    xy = s[name].xy
    return xy / max(float(np.linalg.norm(xy)), 1e-9)


class KnockOver(Skill):
    name = "knock_over"
    grasps = False  # the closed fingers push

    def satisfied(self, task: TaskSpec, state: SceneState) -> bool:
        return fallen(state[task.target.name])

    def keep_clear(self, task: TaskSpec, state: SceneState) -> list[Zone]:
        obj = state[task.target.name]
        d = _direction(state, obj.name)
        return [
            (obj.xy - d * 0.09, 0.05),
            (obj.xy, obj.geometry.radius + 0.03),
            (obj.xy + d * (obj.geometry.height * 0.6), obj.geometry.height * 0.5),
        ]

    def descents(self, task: TaskSpec, state: SceneState) -> list[np.ndarray]:
        obj = state[task.target.name]
        return [obj.xy - _direction(state, obj.name) * (obj.geometry.radius + 0.05)]

    def plan(self, task: TaskSpec) -> list[Phase]:
        target = task.target.name

        def start(s: SceneState) -> np.ndarray:
            obj = s[target]
            return obj.xy - _direction(s, target) * (obj.geometry.radius + 0.05)

        def hit_z(s: SceneState) -> float:
            return s[target].geometry.height * HIT_HEIGHT

        def yaw(s: SceneState) -> float:
            d = _direction(s, target)
            return float(np.arctan2(d[1], d[0])) + np.pi / 2

        def strike_start(s: SceneState) -> np.ndarray:
            return np.array([*start(s), hit_z(s)])

        def above(s: SceneState) -> Waypoint:
            return Waypoint(travel_over(strike_start(s), s), yaw(s), 1.0, tolerance=0.02)

        def descend(s: SceneState) -> Waypoint:
            return Waypoint(strike_start(s), yaw(s), 1.0, tolerance=0.01)

        def strike(s: SceneState) -> Waypoint:
            through = s[target].xy + _direction(s, target) * 0.08
            return Waypoint(np.array([*through, hit_z(s)]), yaw(s), 1.0, speed=0.25)

        def low_at_start(s: SceneState) -> bool:  # a policy already there: no detour up (never the expert)
            near_start = np.linalg.norm(s.ee_position[:2] - start(s)) < 0.03
            return bool(near_start and s.ee_position[2] < LOW_Z)

        down = lambda s: fallen(s[target])  # noqa: E731
        return [
            Phase("above", above, skip_if=low_at_start),
            Phase("descend", descend),
            Phase("strike", strike, until=down, check=down, retry_from="above", timeout=30),
            Phase("retreat", rise(1.0)),
        ]
