"""The camera interface and its config."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np


@dataclass
class CameraConfig:
    """A pinhole camera. `eye`, `target` and `up` are in the frame of `mount`.

    `mount` is "world" for a fixed camera or the name of a robot link (e.g. "panda_hand") for one
    that moves with the arm.
    """

    width: int = 64
    height: int = 64
    fov_deg: float = 45.0
    near: float = 0.01
    far: float = 3.0
    mount: str = "world"
    eye: list[float] = field(default_factory=lambda: [0.95, 0.0, 0.75])
    target: list[float] = field(default_factory=lambda: [0.47, 0.0, 0.02])
    up: list[float] = field(default_factory=lambda: [0.0, 0.0, 1.0])


class Camera(abc.ABC):
    """Returns RGB frames as HWC uint8 arrays."""

    width: int
    height: int

    @abc.abstractmethod
    def read(self) -> np.ndarray: ...
