"""place X to the left / right of Y.

Left and right are as seen in the scene camera, which looks at the arm from the front of the table:
image left is the world's -y (the robot's own right). The user watches that view, so instructions
mean what they see.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.expert import nearest_yaw
from sim.predicates import beside
from sim.skills.base import PickAndPlace, Zone, hold_height, inside_workspace
from sim.state import ObjectState, SceneState
from tasks.suite import TaskSpec

LEFT = np.array([0.0, -1.0])
GAP = 0.035  # m between the two footprints when placed


class PlaceBeside(PickAndPlace):
    direction: ClassVar[np.ndarray]

    def relation(self, obj: ObjectState, ref: ObjectState) -> bool:
        return beside(obj, ref, self.direction)

    def goal_xy(self, task: TaskSpec, state: SceneState) -> np.ndarray:
        obj, ref = state[task.target.name], state[task.reference.name]
        return ref.xy + self.direction * (ref.geometry.radius + obj.geometry.radius + GAP)

    def goal(self, task: TaskSpec, state: SceneState) -> np.ndarray:
        return np.array([*self.goal_xy(task, state), hold_height(state, task.target.name) + 0.006])

    def place_yaw(self, task: TaskSpec, state: SceneState) -> float:
        # The hand is ~20 cm long along its finger axis: turn that axis across the offset direction so
        # the hand does not sweep into the reference object while lowering.
        d = self.direction
        return nearest_yaw(float(np.arctan2(d[1], d[0])), state.ee_yaw, np.pi)

    def feasible(self, task: TaskSpec, state: SceneState, workspace: tuple[np.ndarray, np.ndarray]) -> bool:
        return inside_workspace(self.goal_xy(task, state), workspace, margin=0.03)

    def keep_clear(self, task: TaskSpec, state: SceneState) -> list[Zone]:
        obj = state[task.target.name]
        return [*super().keep_clear(task, state), (self.goal_xy(task, state), obj.geometry.radius + 0.06)]

    def descents(self, task: TaskSpec, state: SceneState) -> list[np.ndarray]:
        return [state[task.target.name].xy]  # the hand comes down beside the reference, turned across it


class PlaceLeftOf(PlaceBeside):
    name = "place_left_of"
    direction = LEFT


class PlaceRightOf(PlaceBeside):
    name = "place_right_of"
    direction = -LEFT
