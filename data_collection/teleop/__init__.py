"""Teleoperators (keyboard, gamepad, SpaceMouse) and the `bcz teleop` recording session."""

from data_collection.teleop.teleoperator import Event, Teleoperator, TeleopInput

__all__ = ["Event", "TeleopInput", "Teleoperator"]
