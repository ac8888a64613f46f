"""Robots: one abstract interface, one folder per backend, cameras, and the safety limits in front of them."""

from robot.quiet import import_pybullet_quietly
from robot.robot import EE_ACTION_NAMES, EE_STATE_NAMES, Feature, Robot
from robot.safety import ActionLimits, UnsafeActionError

import_pybullet_quietly()  # before any backend (a submodule, imported after this) loads it

__all__ = ["EE_ACTION_NAMES", "EE_STATE_NAMES", "ActionLimits", "Feature", "Robot", "UnsafeActionError"]
