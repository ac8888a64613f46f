"""The Franka Panda from pybullet_data, driven by end-effector deltas through inverse kinematics."""

from robot.pybullet_arm.config import PandaConfig
from robot.pybullet_arm.panda import PandaArm

__all__ = ["PandaArm", "PandaConfig"]
