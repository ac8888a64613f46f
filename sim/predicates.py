"""Geometric predicates over a `SceneState`, the vocabulary the skills' success checks are written in."""

from __future__ import annotations

import math

import numpy as np

from sim.state import ObjectState, SceneState

ON_TABLE_TOLERANCE = 0.012  # m between the base and its resting height
UPRIGHT_COS = math.cos(math.radians(25))
FALLEN_COS = math.cos(math.radians(60))
GRIPPER_CLOSED_BELOW = 0.07  # m; the fully open Panda gripper is 0.08 wide
GRASPED_WIDER_THAN = 0.02  # m; fingers closed on an object stop at 3.3-5.6 cm, on air at 0


def distance_xy(a: ObjectState, b: ObjectState) -> float:
    return float(np.linalg.norm(a.xy - b.xy))


def upright(obj: ObjectState) -> bool:
    return obj.tilt_cos > UPRIGHT_COS


def fallen(obj: ObjectState) -> bool:
    return obj.tilt_cos < FALLEN_COS


def on_table(obj: ObjectState) -> bool:
    """Resting upright on the table top (not lifted, not on another object)."""
    return abs(obj.lift) < ON_TABLE_TOLERANCE and upright(obj)


def held(obj: ObjectState, state: SceneState) -> bool:
    """Between closed-ish fingers: the grasp point is on the object and the gripper is not open."""
    near = np.linalg.norm(
        state.ee_position - obj.position - [0, 0, obj.geometry.grasp_z - obj.geometry.rest_z]
    )
    return bool(near < obj.geometry.radius + 0.02 and state.gripper_width < GRIPPER_CLOSED_BELOW)


def grasped(obj: ObjectState, state: SceneState) -> bool:
    """Held, and the fingers stopped on something rather than closing on air next to it."""
    return held(obj, state) and state.gripper_width > GRASPED_WIDER_THAN


def lifted(obj: ObjectState, state: SceneState, height: float = 0.05) -> bool:
    return obj.lift > height and held(obj, state)


def inside(obj: ObjectState, container: ObjectState) -> bool:
    """Within the container's rim, below its top edge, and resting on or in it rather than hovering."""
    geo = container.geometry
    within = distance_xy(obj, container) < geo.inner_radius
    floor = container.position[2] - geo.rest_z
    bottom = obj.position[2] - obj.geometry.rest_z
    return bool(within and floor - 0.005 < bottom < floor + geo.height * 0.8)


def stacked(top: ObjectState, bottom: ObjectState) -> bool:
    """`top` rests on `bottom`, which itself stands on the table."""
    expected_z = bottom.position[2] - bottom.geometry.rest_z + bottom.geometry.height + top.geometry.rest_z
    centred = distance_xy(top, bottom) < 0.6 * bottom.geometry.radius
    return bool(
        centred
        and abs(top.position[2] - expected_z) < ON_TABLE_TOLERANCE
        and upright(top)
        and on_table(bottom)
    )


def beside(obj: ObjectState, ref: ObjectState, direction: np.ndarray) -> bool:
    """`obj` stands on the table next to `ref`, offset along `direction` (a unit xy vector)."""
    offset = obj.xy - ref.xy
    along = float(offset @ direction)
    across = abs(float(offset[0] * direction[1] - offset[1] * direction[0]))
    gap = ref.geometry.radius + obj.geometry.radius
    return bool(0.6 * gap < along < gap + 0.10 and across < max(ref.geometry.radius, 0.05) and on_table(obj))


def near(obj: ObjectState, ref: ObjectState, margin: float = 0.04) -> bool:
    """Edges within `margin` of each other (a push has arrived)."""
    return distance_xy(obj, ref) < obj.geometry.radius + ref.geometry.radius + margin
