"""pick up X: X is held at least 5 cm above where it rested."""

from __future__ import annotations

from sim.expert import Phase
from sim.predicates import lifted
from sim.skills.base import Skill, grasp
from sim.state import SceneState
from tasks.suite import TaskSpec


class PickUp(Skill):
    name = "pick_up"

    def satisfied(self, task: TaskSpec, state: SceneState) -> bool:
        return lifted(state[task.target.name], state)

    def plan(self, task: TaskSpec) -> list[Phase]:
        return grasp(task.target.name)
