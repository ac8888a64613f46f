"""Configuration of the simulated Panda: control timing, gains, limits and cameras."""

from __future__ import annotations

from dataclasses import dataclass, field

from robot.cameras.camera import CameraConfig
from robot.safety import ActionLimits


def _default_cameras() -> dict[str, CameraConfig]:
    return {
        # In front of the table looking back at the arm: every object stays in view while the arm works.
        "scene": CameraConfig(
            eye=[0.95, 0.0, 0.75], target=[0.47, 0.0, 0.02], up=[0.0, 0.0, 1.0], fov_deg=44.0
        ),
        # On the hand, looking down past the fingers (panda_hand frame: z along the fingers).
        "wrist": CameraConfig(
            mount="panda_hand", eye=[0.06, 0.0, 0.0], target=[0.0, 0.0, 0.2], up=[1.0, 0.0, 0.0], fov_deg=70.0
        ),
    }


@dataclass
class PandaConfig:
    control_hz: float = 10.0
    physics_hz: float = 240.0
    base_position: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    home_position: list[float] = field(default_factory=lambda: [0.40, 0.0, 0.30])  # end effector, m
    home_yaw: float = 0.0  # rad about the base z axis; 0 = fingers close along y
    arm_forces: list[float] = field(default_factory=lambda: [87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0])
    # Joint position gain: with 0.2 the arm tracks 95-99% of a 2 cm delta within one 0.1 s step (the 0.1
    # default reaches ~90%; 0.3 and above overshoot).
    arm_position_gain: float = 0.2
    gripper_force: float = 40.0  # N per finger
    gripper_max_width: float = 0.08  # m, fully open
    finger_friction: float = 1.5
    # PyBullet stops its IK early on a position-only residual, which leaves rotation-only targets
    # ~15% short; we always run this many iterations (~0.2 ms; reaches 95-99% of a step, 99% of a turn).
    ik_iterations: int = 30
    limits: ActionLimits = field(default_factory=ActionLimits)
    cameras: dict[str, CameraConfig] = field(default_factory=_default_cameras)

    @property
    def substeps(self) -> int:
        n = self.physics_hz / self.control_hz
        if abs(n - round(n)) > 1e-9 or n < 1:
            raise ValueError(
                f"physics_hz ({self.physics_hz}) must be a whole multiple of control_hz ({self.control_hz})"
            )
        return round(n)
