"""put X on Y: X rests on the flat top of Y (a coaster), within its rim, and the gripper has let go.

The example of docs/add_a_task.md: a skill the default simulator does not register. conf/suites/coasters.yaml
declares it (`implementation: sim.skills.put_on:PutOn`) together with the coaster it acts on.
"""

from __future__ import annotations

import numpy as np

from sim.predicates import distance_xy
from sim.skills.base import PickAndPlace, floor_under, hold_height, top_of
from sim.state import ObjectState, SceneState
from tasks.suite import TaskSpec

RIM = 0.8  # of the coaster's radius: how far from its centre the object's centre may rest
SEATED = 0.006  # m between the object's bottom and the coaster's top (half a 12 mm coaster: not the table)


class PutOn(PickAndPlace):
    name = "put_on"

    def relation(self, obj: ObjectState, ref: ObjectState) -> bool:
        """`obj` rests on `ref`'s top surface, its centre within the rim (no upright test: a duck's mesh
        stands with its own z axis sideways)."""
        within_rim = distance_xy(obj, ref) < RIM * ref.geometry.radius
        return bool(within_rim and abs(floor_under(obj) - top_of(ref)) < SEATED)

    def goal(self, task: TaskSpec, state: SceneState) -> np.ndarray:
        # let go 1 cm above the coaster's top, over its centre
        coaster = state[task.reference.name]
        return np.array([*coaster.xy, top_of(coaster) + hold_height(state, task.target.name) + 0.01])
