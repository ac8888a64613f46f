"""Robots: one abstract interface, one folder per backend, cameras, and the safety limits in front of them.

Importing the interface loads no backend (and no physics engine); a backend loads what it drives."""

from robot.robot import EE_ACTION_NAMES, EE_STATE_NAMES, Feature, Robot
from robot.safety import ActionLimits, UnsafeActionError

__all__ = ["EE_ACTION_NAMES", "EE_STATE_NAMES", "ActionLimits", "Feature", "Robot", "UnsafeActionError"]
