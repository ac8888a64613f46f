"""The interface every robot backend implements, simulated or real.

Shaped after LeRobot's `Robot`: connect, describe features, get an observation, send an action,
disconnect. Actions are one float vector (end-effector deltas, see `EE_ACTION_NAMES`) rather than a
dict of motor names, because every arm here is driven in Cartesian space and a policy emits vectors.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

# BC-Z's action: end-effector translation (m) and axis-angle rotation (rad), both in the robot base
# frame and per control step, then gripper closedness (0 = open, 1 = closed).
EE_ACTION_NAMES: tuple[str, ...] = ("dx", "dy", "dz", "drx", "dry", "drz", "gripper")
# Proprioception: end-effector position (m), orientation quaternion (x, y, z, w), finger opening (m).
EE_STATE_NAMES: tuple[str, ...] = (
    "ee_x",
    "ee_y",
    "ee_z",
    "ee_qx",
    "ee_qy",
    "ee_qz",
    "ee_qw",
    "gripper_width",
)


@dataclass(frozen=True)
class Feature:
    """Shape, dtype and, for vectors, the name of each element of one observation or action entry."""

    shape: tuple[int, ...]
    dtype: str
    names: tuple[str, ...] | None = None


class Robot(abc.ABC):
    """An arm with cameras. Backends live in their own folder (`robot/pybullet_arm`, ...)."""

    name: str

    @property
    @abc.abstractmethod
    def observation_features(self) -> dict[str, Feature]:
        """What `get_observation` returns: "state" (`EE_STATE_NAMES`) and one HWC uint8 image per camera."""

    @property
    @abc.abstractmethod
    def action_features(self) -> dict[str, Feature]:
        """What `send_action` takes: {"action": Feature((7,), "float32", EE_ACTION_NAMES)}."""

    @property
    @abc.abstractmethod
    def is_connected(self) -> bool: ...

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the connection (or spawn the simulated arm) and move to the home pose."""

    @abc.abstractmethod
    def get_observation(self) -> dict[str, np.ndarray]:
        """The latest state (float32, `EE_STATE_NAMES`) and one image per camera (`observation_features`)."""

    @abc.abstractmethod
    def send_action(self, action: np.ndarray) -> np.ndarray:
        """Command one control step; returns the action actually applied after safety clipping."""

    @abc.abstractmethod
    def disconnect(self) -> None: ...

    def __enter__(self) -> Robot:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.is_connected:
            self.disconnect()


class EndEffectorArm(Robot):
    """An arm driven by end-effector deltas with `self.cameras` (name -> camera with height and width):
    the features every backend of this project shares."""

    cameras: dict

    @property
    def observation_features(self) -> dict[str, Feature]:
        features = {"state": Feature((len(EE_STATE_NAMES),), "float32", EE_STATE_NAMES)}
        for name, cam in self.cameras.items():
            features[name] = Feature((cam.height, cam.width, 3), "uint8")
        return features

    @property
    def action_features(self) -> dict[str, Feature]:
        return {"action": Feature((len(EE_ACTION_NAMES),), "float32", EE_ACTION_NAMES)}
