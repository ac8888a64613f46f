"""The xArm backend: the same end-effector delta actions as the simulated Panda, sent as Cartesian
servo targets (servo mode 1: the controller tracks the newest target, so a target equal to the current
pose holds the arm). Units are converted at this boundary: the SDK speaks mm and radians (we set
is_radian), the project speaks metres and radians.

Why the xArm: its SDK is pure Python over TCP (no real-time kernel, no compiled driver), it streams
Cartesian servo targets at our control rates, and the arms are affordable for a small lab. Franka
needs libfranka, a real-time kernel and the FCI licence; a franky backend would sit beside this one.

Needs `pip install xarm-python-sdk` and the arm's IP address. Tested here against a fake of the SDK;
it has not run on hardware (see the README).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from robot.cameras.opencv_camera import OpenCVCamera, OpenCVCameraConfig
from robot.quiet import pybullet as p
from robot.robot import EndEffectorArm
from robot.safety import ActionLimits

GRIPPER_RANGE = 850.0  # xArm gripper position units, fully open
GRIPPER_WIDTH = 0.085  # m, fully open


def _default_cameras() -> dict[str, OpenCVCameraConfig]:
    return {"scene": OpenCVCameraConfig(device="0"), "wrist": OpenCVCameraConfig(device="1")}


@dataclass
class XArmConfig:
    ip: str = "192.168.1.200"
    gripper: bool = True  # the xArm Gripper is attached
    limits: ActionLimits = field(default_factory=ActionLimits)  # workspace in metres, base frame
    cameras: dict[str, OpenCVCameraConfig] = field(default_factory=_default_cameras)


def _quat_from_rpy(rpy) -> np.ndarray:
    return np.asarray(p.getQuaternionFromEuler(list(rpy)))


def _rpy_from_quat(q) -> np.ndarray:
    return np.asarray(p.getEulerFromQuaternion(list(q)))


class XArmRobot(EndEffectorArm):
    name = "xarm"

    def __init__(self, config: XArmConfig, api_factory: Callable[[str], object] | None = None) -> None:
        self.config = config
        self.api_factory = api_factory  # default: xarm.wrapper.XArmAPI; tests pass a fake
        self.api = None
        self.cameras = {name: OpenCVCamera(cfg) for name, cfg in config.cameras.items()}
        self._gripper_command: float | None = None
        self._target: list[float] | None = None

    @property
    def is_connected(self) -> bool:
        return self.api is not None

    def _check(self, code, what: str) -> None:
        if code not in (0, None):
            raise OSError(
                f"xArm at {self.config.ip}: {what} failed with code {code} (see the SDK's API codes)"
            )

    def connect(self) -> None:
        factory = self.api_factory
        if factory is None:
            try:
                from xarm.wrapper import XArmAPI
            except ImportError as e:
                raise ImportError("the xArm backend needs the vendor SDK: pip install xarm-python-sdk") from e
            factory = lambda ip: XArmAPI(ip, is_radian=True)  # noqa: E731
        api = factory(self.config.ip)
        if not getattr(api, "connected", False):
            raise OSError(
                f"no xArm answers at {self.config.ip}; check the cable, the IP and that the controller is on"
            )
        api.clean_error()
        api.clean_warn()
        self._check(api.motion_enable(enable=True), "motion_enable")
        self._check(api.set_mode(1), "set_mode(1) (Cartesian servo)")
        self._check(api.set_state(0), "set_state(0)")
        if self.config.gripper:
            self._check(api.set_gripper_enable(True), "set_gripper_enable")
            self._check(api.set_gripper_mode(0), "set_gripper_mode")
        self.api = api
        self._target = None
        for cam in self.cameras.values():
            cam.connect()

    def disconnect(self) -> None:
        for cam in self.cameras.values():
            cam.disconnect()
        if self.api is not None:
            self.api.set_state(4)  # stop: the controller holds the arm
            self.api.disconnect()
        self.api = None

    def _pose(self) -> tuple[np.ndarray, np.ndarray]:
        code, pose = self.api.get_position(is_radian=True)
        self._check(code, "get_position")
        return np.asarray(pose[:3], dtype=np.float64) / 1000.0, _quat_from_rpy(pose[3:6])

    def _gripper_width(self) -> float:
        if not self.config.gripper:
            return 0.0
        code, pos = self.api.get_gripper_position()
        self._check(code, "get_gripper_position")
        return float(pos) / GRIPPER_RANGE * GRIPPER_WIDTH

    def get_observation(self) -> dict[str, np.ndarray]:
        pos, quat = self._pose()
        obs = {"state": np.concatenate([pos, quat, [self._gripper_width()]]).astype(np.float32)}
        for name, cam in self.cameras.items():
            obs[name] = cam.read()
        return obs

    def send_action(self, action: np.ndarray) -> np.ndarray:
        limits = self.config.limits
        applied, _ = limits.clip(action)
        if not np.any(applied[:6]) and self._target is not None:
            pose = self._target  # zero motion holds the last commanded pose
        else:
            pos, quat = self._pose()
            target = limits.clamp_position(pos + applied[:3])
            rotvec = applied[3:6].astype(np.float64)
            angle = float(np.linalg.norm(rotvec))
            if angle > 1e-9:
                delta = p.getQuaternionFromAxisAngle((rotvec / angle).tolist(), angle)
                _, quat = p.multiplyTransforms([0, 0, 0], delta, [0, 0, 0], quat.tolist())
            pose = [*(target * 1000.0).tolist(), *_rpy_from_quat(quat).tolist()]
        self._check(self.api.set_servo_cartesian(pose, is_radian=True), "set_servo_cartesian")
        self._target = pose
        if self.config.gripper and applied[6] != self._gripper_command:
            position = GRIPPER_RANGE * (1.0 - float(applied[6]))
            self._check(self.api.set_gripper_position(position, wait=False), "set_gripper_position")
            self._gripper_command = float(applied[6])
        return applied
