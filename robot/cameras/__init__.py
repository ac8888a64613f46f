"""Cameras: one abstract interface; a PyBullet renderer now, OpenCV devices for real arms later."""

from robot.cameras.camera import Camera, CameraConfig
from robot.cameras.pybullet_camera import Lighting, PyBulletCamera

__all__ = ["Camera", "CameraConfig", "Lighting", "PyBulletCamera"]
