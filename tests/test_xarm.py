"""The xArm backend against a fake of the vendor SDK (the hardware boundary), and OpenCV cameras."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from data_collection.video_codec import write_mp4
from robot.cameras.opencv_camera import OpenCVCamera, OpenCVCameraConfig
from robot.safety import SafeRobot, SafetyConfig
from robot.xarm import XArmConfig, XArmRobot


class FakeXArmAPI:
    """The part of xarm.wrapper.XArmAPI the backend uses; a servo target is reached at once."""

    def __init__(self, ip: str, fail: str | None = None) -> None:
        self.ip, self.fail = ip, fail
        self.connected = True
        self.pose = [400.0, 0.0, 300.0, np.pi, 0.0, 0.0]  # mm, rad: gripper pointing down
        self.gripper = 850.0
        self.calls: list[tuple] = []

    def _code(self, name: str) -> int:
        self.calls.append((name,))
        return 1 if name == self.fail else 0

    def clean_error(self):
        return self._code("clean_error")

    def clean_warn(self):
        return self._code("clean_warn")

    def motion_enable(self, enable=True):
        return self._code("motion_enable")

    def set_mode(self, mode):
        self.calls.append(("set_mode", mode))
        return 0

    def set_state(self, state):
        self.calls.append(("set_state", state))
        return 0

    def set_gripper_enable(self, enable):
        return self._code("set_gripper_enable")

    def set_gripper_mode(self, mode):
        return self._code("set_gripper_mode")

    def get_position(self, is_radian=None):
        return self._code("get_position"), list(self.pose)

    def get_gripper_position(self):
        return 0, self.gripper

    def set_servo_cartesian(self, pose, is_radian=None):
        assert is_radian
        self.calls.append(("set_servo_cartesian", list(pose)))
        self.pose = list(pose)
        return 0

    def set_gripper_position(self, pos, wait=False):
        self.calls.append(("set_gripper_position", pos))
        self.gripper = pos
        return 0

    def disconnect(self):
        self.connected = False


@pytest.fixture
def camera_file(tmp_path):
    frames = np.zeros((5, 48, 64, 3), np.uint8)
    frames[:, :, :32] = [220, 30, 30]  # left half red
    return str(write_mp4(tmp_path / "cam.mp4", list(frames), fps=10))


def make_arm(camera_file, fail=None):
    fake = FakeXArmAPI("10.0.0.7", fail)
    cams = {"scene": OpenCVCameraConfig(device=camera_file, width=32, height=32)}
    arm = XArmRobot(XArmConfig(ip="10.0.0.7", cameras=cams), api_factory=lambda ip: fake)
    return arm, fake


def test_connect_puts_the_arm_in_cartesian_servo_mode(camera_file):
    arm, fake = make_arm(camera_file)
    arm.connect()
    assert ("set_mode", 1) in fake.calls and ("set_state", 0) in fake.calls
    arm.disconnect()
    assert ("set_state", 4) in fake.calls and not fake.connected


def test_observation_is_in_metres_quaternions_and_rgb(camera_file):
    arm, _ = make_arm(camera_file)
    arm.connect()
    obs = arm.get_observation()
    np.testing.assert_allclose(obs["state"][:3], [0.4, 0.0, 0.3], atol=1e-6)
    np.testing.assert_allclose(
        np.abs(obs["state"][3:7]), [1, 0, 0, 0], atol=1e-6
    )  # pi about x: pointing down
    assert obs["state"][7] == pytest.approx(0.085)
    assert obs["scene"].shape == (32, 32, 3) and obs["scene"][16, 4, 0] > 150 and obs["scene"][16, 28, 0] < 60
    arm.disconnect()


def test_actions_become_servo_targets_in_mm_with_rotation_and_gripper(camera_file):
    arm, fake = make_arm(camera_file)
    arm.connect()
    arm.send_action(np.array([0.01, -0.02, 0.005, 0, 0, 0.1, 1.0], np.float32))
    target = [c for c in fake.calls if c[0] == "set_servo_cartesian"][-1][1]
    np.testing.assert_allclose(target[:3], [410, -20, 305], atol=1e-3)
    yaw_before = p.getEulerFromQuaternion(p.getQuaternionFromEuler([np.pi, 0, 0]))
    quat = p.getQuaternionFromEuler(target[3:6])
    _, expected = p.multiplyTransforms(
        [0, 0, 0],
        p.getQuaternionFromAxisAngle([0, 0, 1], 0.1),
        [0, 0, 0],
        p.getQuaternionFromEuler(yaw_before),
    )
    assert abs(abs(np.dot(quat, expected)) - 1) < 1e-6
    assert ("set_gripper_position", 0.0) in fake.calls
    arm.send_action(np.array([0, 0, 0, 0, 0, 0, 1.0], np.float32))  # unchanged gripper: not re-sent
    assert sum(c[0] == "set_gripper_position" for c in fake.calls) == 1
    arm.disconnect()


def test_sdk_errors_name_the_call(camera_file):
    arm, _ = make_arm(camera_file, fail="motion_enable")
    with pytest.raises(OSError, match="motion_enable failed with code 1"):
        arm.connect()
    fake = FakeXArmAPI("10.0.0.9")
    fake.connected = False
    dead = XArmRobot(XArmConfig(ip="10.0.0.9", cameras={}), api_factory=lambda ip: fake)
    with pytest.raises(OSError, match=r"no xArm answers at 10\.0\.0\.9"):
        dead.connect()


def test_safety_layer_guards_the_real_arm_too(camera_file):
    arm, fake = make_arm(camera_file)
    safe = SafeRobot(arm, SafetyConfig(watchdog_timeout=5), control_hz=10)
    safe.connect()
    safe.get_observation()
    with pytest.raises(ValueError, match="non-finite"):
        safe.send_action(np.array([np.nan, 0, 0, 0, 0, 0, 0], np.float32))
    assert not [c for c in fake.calls if c[0] == "set_servo_cartesian"]
    safe.estop()
    hold = [c for c in fake.calls if c[0] == "set_servo_cartesian"][-1][1]
    np.testing.assert_allclose(hold[:3], [400, 0, 300], atol=1e-3)  # the hold target is where it is
    safe.disconnect()


def test_missing_camera_says_so():
    cam = OpenCVCamera(OpenCVCameraConfig(device="/no/such/camera.mp4"))
    with pytest.raises(OSError, match="could not be opened"):
        cam.connect()
