"""Keyboard teleoperation from a terminal: raw keystrokes, no window system needed (works over SSH).

Directions follow the scene camera's view, as the operator sees it: w/s move away from / towards the
camera, a/d move left / right in the image, r/f up / down, q/e turn the gripper, space opens or closes
it. Each key press (held keys auto-repeat) moves `step` metres; presses within one control step add up.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import tty

import numpy as np

from data_collection.teleop.teleoperator import Event, Teleoperator, TeleopInput

# world-frame unit motions; the scene camera looks along -x from the front of the table, image left is -y
MOTION_KEYS = {
    "w": (0, -1.0),
    "s": (0, 1.0),
    "a": (1, -1.0),
    "d": (1, 1.0),
    "r": (2, 1.0),
    "f": (2, -1.0),
    "q": (5, 1.0),
    "e": (5, -1.0),
}
ARROWS = {"A": "w", "B": "s", "D": "a", "C": "d"}  # ESC [ A..D
EVENT_KEYS = {
    "\r": Event.START_OR_SAVE,
    "\n": Event.START_OR_SAVE,
    "x": Event.DISCARD,
    "n": Event.NEW_SCENE,
    "t": Event.TAKE_OVER,
    "h": Event.HELP,
    "?": Event.HELP,
    "\x1b": Event.QUIT,
}
HELP = (
    "w/s away/towards camera · a/d left/right · r/f up/down · q/e turn · space gripper · "
    "Enter start/save · x discard · n new scene · t take over/hand back · Esc quit"
)


class KeyboardTeleop(Teleoperator):
    name = "keyboard"

    def __init__(self, fd: int | None = None, step: float = 0.01, turn: float = 0.05) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.step, self.turn = step, turn
        self._saved: list | None = None

    def connect(self) -> None:
        if os.isatty(self.fd):
            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)  # keys arrive one by one, unechoed; Ctrl-C still interrupts

    def disconnect(self) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def read_line(self, prompt: str) -> str:
        """Leave key-by-key mode to read a typed line (the instruction), then go back."""
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
        try:
            sys.stdout.write(prompt)
            sys.stdout.flush()
            chars = []
            while True:
                c = os.read(self.fd, 1).decode(errors="ignore")
                if c in ("\n", "\r", ""):
                    return "".join(chars).strip()
                chars.append(c)
        finally:
            if self._saved is not None:
                tty.setcbreak(self.fd)

    def _pending(self) -> str:
        data = b""
        while select.select([self.fd], [], [], 0)[0]:
            chunk = os.read(self.fd, 1024)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="ignore")

    def poll(self) -> TeleopInput:
        out = TeleopInput()
        keys = self._pending()
        i = 0
        while i < len(keys):
            key = keys[i]
            if key == "\x1b" and keys[i + 1 : i + 2] == "[" and keys[i + 2 : i + 3] in ARROWS:
                key, i = ARROWS[keys[i + 2]], i + 2
            if key.lower() in MOTION_KEYS:
                axis, sign = MOTION_KEYS[key.lower()]
                out.motion[axis] += sign * (self.turn if axis >= 3 else self.step)
            elif key == " ":
                out.gripper_toggle = not out.gripper_toggle
            elif key in EVENT_KEYS:
                out.events.append(EVENT_KEYS[key])
            i += 1
        out.motion = out.motion.astype(np.float32)
        return out

    def help(self) -> str:
        return HELP
