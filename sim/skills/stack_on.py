"""stack X on Y: X rests centred on top of Y, Y still on the table, gripper open."""

from __future__ import annotations

import numpy as np

from sim.expert import nearest_yaw
from sim.predicates import stacked
from sim.skills.base import PickAndPlace, hold_height, top_of
from sim.state import ObjectState, SceneState
from tasks.suite import TaskSpec


class StackOn(PickAndPlace):
    name = "stack_on"

    def relation(self, obj: ObjectState, ref: ObjectState) -> bool:
        return stacked(obj, ref)

    def goal(self, task: TaskSpec, state: SceneState) -> np.ndarray:
        base = state[task.reference.name]
        return np.array([*base.xy, top_of(base) + hold_height(state, task.target.name) + 0.006])

    def place_yaw(self, task: TaskSpec, state: SceneState) -> float:
        # line the faces up with the block below
        symmetry = state[task.target.name].geometry.grasp_symmetry
        return nearest_yaw(state[task.reference.name].yaw, state.ee_yaw, symmetry)
