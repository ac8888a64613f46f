"""A UFACTORY xArm (5/6/7, Lite 6) through its vendor SDK, xarm-python-sdk, with OpenCV cameras."""

from robot.xarm.xarm_robot import XArmConfig, XArmRobot

__all__ = ["XArmConfig", "XArmRobot"]
