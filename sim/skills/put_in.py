"""put X in Y: X rests inside container Y and the gripper has let go."""

from __future__ import annotations

import numpy as np

from sim.predicates import inside
from sim.skills.base import PickAndPlace, floor_under, hold_height
from sim.state import ObjectState, SceneState
from tasks.suite import TaskSpec


class PutIn(PickAndPlace):
    name = "put_in"

    def relation(self, obj: ObjectState, ref: ObjectState) -> bool:
        return inside(obj, ref)

    def goal(self, task: TaskSpec, state: SceneState) -> np.ndarray:
        # Lower until the object's bottom is 2 cm above the container's floor, then let go.
        container = state[task.reference.name]
        return np.array([*container.xy, floor_under(container) + 0.02 + hold_height(state, task.target.name)])
