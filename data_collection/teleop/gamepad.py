"""Gamepad teleoperation through pygame's joystick API (SDL): sticks move, buttons act.

Left stick: planar motion (camera view); right stick vertical: up/down; right stick horizontal: turn;
A/cross: gripper; Start: start/save; B/circle: discard; Y/triangle: take over; Back: new scene.
Needs `pip install pygame` and a connected pad; `bcz teleop device=gamepad` says so otherwise.
"""

from __future__ import annotations

import numpy as np

from data_collection.teleop.teleoperator import Event, Teleoperator, TeleopInput

DEADZONE = 0.15
BUTTON_EVENTS = {7: Event.START_OR_SAVE, 1: Event.DISCARD, 3: Event.TAKE_OVER, 6: Event.NEW_SCENE}
GRIPPER_BUTTON = 0


class GamepadTeleop(Teleoperator):
    name = "gamepad"

    def __init__(self, speed: float = 0.03, turn: float = 0.15, device=None) -> None:
        self.speed, self.turn = speed, turn  # per control step at full deflection
        self.device = device  # a pygame Joystick (or anything with get_axis / get_button / get_numbuttons)
        self._previous: list[bool] = []

    def connect(self) -> None:
        if self.device is not None:
            return
        try:
            import pygame
        except ImportError as e:
            raise OSError("gamepad teleop needs pygame: pip install pygame") from e
        pygame.joystick.init()
        if pygame.joystick.get_count() == 0:
            raise OSError("no gamepad found; connect one or use device=keyboard")
        self.device = pygame.joystick.Joystick(0)

    def disconnect(self) -> None:
        self.device = None

    def poll(self) -> TeleopInput:
        try:
            import pygame

            pygame.event.pump()
        except ImportError:  # a device handed in directly (tests, other backends)
            pass
        d = self.device

        def axis(i: int) -> float:
            v = float(d.get_axis(i))
            return 0.0 if abs(v) < DEADZONE else v

        out = TeleopInput()
        out.motion[:] = [
            axis(1) * self.speed,
            axis(0) * self.speed,
            -axis(4) * self.speed,
            0,
            0,
            -axis(3) * self.turn,
        ]
        pressed = [bool(d.get_button(i)) for i in range(d.get_numbuttons())]
        was = self._previous or [False] * len(pressed)
        for i, (now, before) in enumerate(zip(pressed, was, strict=False)):
            if now and not before:  # on press, not while held
                if i == GRIPPER_BUTTON:
                    out.gripper_toggle = True
                elif i in BUTTON_EVENTS:
                    out.events.append(BUTTON_EVENTS[i])
        self._previous = pressed
        out.motion = out.motion.astype(np.float32)
        return out
