"""The teleoperator interface, beside the robot interface: a device that turns a person's input into
end-effector delta actions (robot.EE_ACTION_NAMES) and session events (start, save, discard, ...)."""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field

import numpy as np


class Event(enum.Enum):
    START_OR_SAVE = "start or save the episode"
    DISCARD = "discard the episode"
    NEW_SCENE = "new scene"
    TAKE_OVER = "take over / hand back"
    HELP = "help"
    QUIT = "quit"


@dataclass
class TeleopInput:
    """What the operator asked for since the last poll."""

    motion: np.ndarray = field(default_factory=lambda: np.zeros(6, dtype=np.float32))  # dx dy dz drx dry drz
    gripper_toggle: bool = False
    events: list[Event] = field(default_factory=list)

    @property
    def moving(self) -> bool:
        return bool(np.any(self.motion != 0) or self.gripper_toggle)


class Teleoperator(abc.ABC):
    name: str

    @abc.abstractmethod
    def connect(self) -> None: ...

    @abc.abstractmethod
    def poll(self) -> TeleopInput:
        """Everything received since the last call; never blocks."""

    @abc.abstractmethod
    def disconnect(self) -> None: ...

    def help(self) -> str:
        return ""

    def __enter__(self) -> Teleoperator:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()
