"""A snapshot of the world that success checks, experts and relabeling read: no live physics needed.

Success is a pure function of `SceneState`, so the same checks score a live episode and a recorded
one (hindsight relabeling replays recorded states through them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.objects import KINDS, ObjectKind


def yaw_of(quaternion: np.ndarray) -> float:
    """Rotation about world z of a body's x axis (meaningful for upright objects)."""
    x, y, z, w = quaternion
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def up_axis(quaternion: np.ndarray) -> np.ndarray:
    """World direction of the body's local z axis."""
    x, y, z, w = quaternion
    return np.array([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)])


@dataclass
class ObjectState:
    name: str  # "red_block": colour and kind, unique in a scene
    kind: str
    colour: str
    position: np.ndarray  # (3,) base origin, m
    orientation: np.ndarray  # (4,) quaternion x, y, z, w

    @property
    def geometry(self) -> ObjectKind:
        return KINDS[self.kind]

    @property
    def xy(self) -> np.ndarray:
        return self.position[:2]

    @property
    def yaw(self) -> float:
        return yaw_of(self.orientation)

    @property
    def tilt_cos(self) -> float:
        """cos of the angle between the object's up axis and the world's (1 = upright)."""
        return float(up_axis(self.orientation)[2])

    @property
    def lift(self) -> float:
        """Height of the base above where it rests on the table, m."""
        return float(self.position[2] - self.geometry.rest_z)


@dataclass
class SceneState:
    objects: dict[str, ObjectState]  # the suite's named objects in the scene (clutter excluded)
    ee_position: np.ndarray  # (3,) grasp point between the fingertips
    ee_orientation: np.ndarray  # (4,) quaternion x, y, z, w
    gripper_width: float  # m

    @property
    def ee_yaw(self) -> float:
        return yaw_of(self.ee_orientation)

    def __getitem__(self, name: str) -> ObjectState:
        return self.objects[name]
