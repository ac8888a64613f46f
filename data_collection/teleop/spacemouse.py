"""3Dconnexion SpaceMouse teleoperation over HID (the `hidapi` package): 6-DoF motion, two buttons.

Reports: id 1 = translation x, y, z; id 2 = rotation rx, ry, rz (little-endian int16, about +-350 at
full deflection); id 3 = buttons (left toggles the gripper, right starts/saves the episode).
Needs `pip install hidapi` and a connected device; `bcz teleop device=spacemouse` says so otherwise.
"""

from __future__ import annotations

import struct

import numpy as np

from data_collection.teleop.teleoperator import Event, Teleoperator, TeleopInput

VENDORS = (0x256F, 0x046D)  # 3Dconnexion, Logitech (older SpaceMouse models)
FULL_SCALE = 350.0
DEADZONE = 0.08


class SpaceMouseTeleop(Teleoperator):
    name = "spacemouse"

    def __init__(self, speed: float = 0.03, turn: float = 0.15, device=None) -> None:
        self.speed, self.turn = speed, turn
        self.device = device  # an opened hid.device (or anything with a non-blocking read(n))
        self._translation = np.zeros(3)
        self._rotation = np.zeros(3)
        self._buttons = 0

    def connect(self) -> None:
        if self.device is not None:
            return
        try:
            import hid
        except ImportError as e:
            raise OSError("SpaceMouse teleop needs hidapi: pip install hidapi") from e
        found = [
            d
            for d in hid.enumerate()
            if d["vendor_id"] in VENDORS and "space" in (d.get("product_string") or "").lower()
        ]
        if not found:
            raise OSError("no SpaceMouse found; connect one or use device=keyboard")
        self.device = hid.device()
        self.device.open_path(found[0]["path"])
        self.device.set_nonblocking(True)

    def disconnect(self) -> None:
        if self.device is not None and hasattr(self.device, "close"):
            self.device.close()
        self.device = None

    def poll(self) -> TeleopInput:
        out = TeleopInput()
        while True:
            report = bytes(self.device.read(13))
            if not report:
                break
            if report[0] in (1, 2) and len(report) >= 7:
                values = np.array(struct.unpack("<3h", report[1:7]), dtype=np.float64) / FULL_SCALE
                values[np.abs(values) < DEADZONE] = 0.0
                if report[0] == 1:
                    self._translation = values
                else:
                    self._rotation = values
            elif report[0] == 3 and len(report) >= 2:
                pressed = report[1] & ~self._buttons
                out.gripper_toggle ^= bool(pressed & 1)
                if pressed & 2:
                    out.events.append(Event.START_OR_SAVE)
                self._buttons = report[1]
        tx, ty, tz = np.clip(self._translation, -1, 1)
        rz = np.clip(self._rotation[2], -1, 1)
        # device axes (x right, y towards the user, z down) to the scene camera's view of the table
        out.motion[:] = [ty * self.speed, tx * self.speed, -tz * self.speed, 0, 0, -rz * self.turn]
        out.motion = out.motion.astype(np.float32)
        return out
