"""A camera rendered by PyBullet's software renderer (TinyRenderer), fixed or mounted on a link.

TinyRenderer's cost grows with triangle count, which is why the arm is loaded with low-poly meshes
(see `robot/pybullet_arm/assets.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from robot.cameras.camera import Camera, CameraConfig
from robot.quiet import pybullet as p


@dataclass
class Lighting:
    """TinyRenderer's light model; the scene randomizes it per episode."""

    direction: list[float] = field(default_factory=lambda: [0.6, 0.3, 1.0])
    colour: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])
    ambient: float = 0.55
    diffuse: float = 0.45
    specular: float = 0.05


class PyBulletCamera(Camera):
    def __init__(self, config: CameraConfig, client: int) -> None:
        self.config = config
        self.client = client
        self.width, self.height = config.width, config.height
        self.lighting = Lighting()
        self._mount: tuple[int, int] | None = None
        self._eye = np.asarray(config.eye, dtype=np.float64)
        self._target = np.asarray(config.target, dtype=np.float64)
        self._fov = config.fov_deg
        self._update_projection()
        self._world_view: list[float] | None = None

    def mount_on(self, body: int, link: int) -> None:
        """Attach to a link; eye/target/up are then read in that link's frame at every frame."""
        self._mount = (body, link)

    def jitter(self, eye_offset: np.ndarray, target_offset: np.ndarray, fov_offset: float) -> None:
        """Perturb the pose and field of view from the configured values (domain randomization)."""
        self._eye = np.asarray(self.config.eye) + eye_offset
        self._target = np.asarray(self.config.target) + target_offset
        self._fov = self.config.fov_deg + fov_offset
        self._update_projection()
        self._world_view = None

    def _update_projection(self) -> None:
        self._projection = p.computeProjectionMatrixFOV(
            self._fov, self.width / self.height, self.config.near, self.config.far
        )

    def view_matrix(self) -> list[float]:
        if self._mount is None:
            if self._world_view is None:
                self._world_view = p.computeViewMatrix(self._eye, self._target, self.config.up)
            return self._world_view
        body, link = self._mount
        pos, orn = p.getLinkState(body, link, computeForwardKinematics=True, physicsClientId=self.client)[4:6]
        rot = np.array(p.getMatrixFromQuaternion(orn)).reshape(3, 3)
        eye = np.asarray(pos) + rot @ self._eye
        return p.computeViewMatrix(eye, np.asarray(pos) + rot @ self._target, rot @ self.config.up)

    def read(self) -> np.ndarray:
        light = self.lighting
        _, _, rgba, _, _ = p.getCameraImage(
            self.width,
            self.height,
            self.view_matrix(),
            self._projection,
            lightDirection=light.direction,
            lightColor=light.colour,
            lightAmbientCoeff=light.ambient,
            lightDiffuseCoeff=light.diffuse,
            lightSpecularCoeff=light.specular,
            renderer=p.ER_TINY_RENDERER,
            flags=p.ER_NO_SEGMENTATION_MASK,
            physicsClientId=self.client,
        )
        return np.ascontiguousarray(np.reshape(rgba, (self.height, self.width, 4))[:, :, :3])
