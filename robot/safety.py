"""Safety: action limits applied before anything reaches the physics or a motor, and the safety
layer (`SafeRobot`) every deploy-time action source goes through.

Non-finite or malformed actions are refused (never clipped into something plausible); finite actions
beyond the per-step or speed limits are clipped, and the target pose is kept inside the workspace box.
An emergency stop and a watchdog hold the arm where it is.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from robot.robot import EE_ACTION_NAMES, Robot

log = logging.getLogger(__name__)


class UnsafeActionError(ValueError):
    """An action that must not be executed (wrong shape, NaN or infinite values)."""


@dataclass
class ActionLimits:
    """Per-step limits of a 7-D delta action (m, rad, gripper 0..1), and the workspace box (m)."""

    max_delta_pos: float = 0.05  # m per control step, per axis
    max_delta_rot: float = 0.30  # rad per control step, per axis
    workspace_low: list[float] = field(default_factory=lambda: [0.20, -0.40, 0.0])
    workspace_high: list[float] = field(default_factory=lambda: [0.80, 0.40, 0.45])

    @property
    def action_low(self) -> np.ndarray:
        """The (7,) float32 lower bound of an action: -max deltas, gripper 0."""
        p, r = self.max_delta_pos, self.max_delta_rot
        return np.array([-p, -p, -p, -r, -r, -r, 0.0], dtype=np.float32)

    @property
    def action_high(self) -> np.ndarray:
        """The (7,) float32 upper bound of an action: +max deltas, gripper 1."""
        p, r = self.max_delta_pos, self.max_delta_rot
        return np.array([p, p, p, r, r, r, 1.0], dtype=np.float32)

    def clip(self, action: np.ndarray) -> tuple[np.ndarray, bool]:
        """Validate and clip one action; returns (clipped action, whether anything was clipped)."""
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (len(EE_ACTION_NAMES),):
            raise UnsafeActionError(
                f"action has shape {a.shape}; expected ({len(EE_ACTION_NAMES)},) ordered as {EE_ACTION_NAMES}"
            )
        bad = [EE_ACTION_NAMES[i] for i in np.flatnonzero(~np.isfinite(a))]
        if bad:
            raise UnsafeActionError(f"action refused: non-finite value in {bad} ({a.tolist()})")
        p, r = self.max_delta_pos, self.max_delta_rot
        low = np.array([-p, -p, -p, -r, -r, -r, 0.0])
        clipped = np.minimum(np.maximum(a, low), -low + [0, 0, 0, 0, 0, 0, 1.0])
        return clipped.astype(np.float32), bool(np.any(clipped != a))

    def clamp_position(self, position: np.ndarray) -> np.ndarray:
        """`position` (m) moved into the workspace box."""
        return np.clip(position, self.workspace_low, self.workspace_high)

    def step_within(self, position: np.ndarray, step: np.ndarray) -> np.ndarray:
        """`step` (m) from `position` with no motion out of the workspace box. A position already past a
        wall may step back in but is not pulled in: a zero step stays zero, so holding there holds."""
        low = np.minimum(np.asarray(self.workspace_low) - position, 0.0)
        high = np.maximum(np.asarray(self.workspace_high) - position, 0.0)
        return np.clip(step, low, high)


def rounded(values: np.ndarray) -> str:
    """'[0.021, -0.004, ...]': millimetres and milliradians, not float32's 17 digits."""
    return "[" + ", ".join(f"{v:.3f}" for v in np.asarray(values, dtype=np.float64)) + "]"


class ClipReporter:
    """Logs the first clipped action of a run and counts the rest, so clipping is visible but not noisy."""

    def __init__(self, who: str) -> None:
        self.who = who
        self.count = 0

    def report(self, original: np.ndarray, clipped: np.ndarray) -> None:
        """Count one clipped action; the first of a run is logged with its values."""
        self.count += 1
        if self.count == 1:
            log.warning(
                "%s: action %s exceeded the limits and was clipped to %s (further clips are only counted)",
                self.who,
                rounded(original),
                rounded(clipped),
            )


@dataclass
class SafetyConfig:
    """What stands between any action source (policy, teleop, web page) and a robot."""

    limits: ActionLimits = field(default_factory=ActionLimits)  # per-step deltas and the workspace box
    max_speed: float = 0.35  # m/s of the end effector (the scripted experts move at up to 0.30)
    max_angular_speed: float = 1.5  # rad/s
    watchdog_timeout: float = 0.5  # s without a fresh action -> hold position


class SafeRobot(Robot):
    """Wraps a robot: refuses non-finite actions, clips to per-step and velocity limits, keeps the target
    inside the workspace box, holds position on an emergency stop and when actions stop arriving.

    Thread-safe: the control loop, the watchdog and a UI may all call it.
    """

    def __init__(self, robot, config: SafetyConfig, control_hz: float) -> None:
        self.robot = robot
        self.config = config
        self.control_hz = control_hz
        self.estopped = False
        self.watchdog_trips = 0
        self.clips = ClipReporter(f"safety({robot.name})")
        self._lock = threading.RLock()
        self._last_command: float | None = None  # monotonic time of the last action; None: none yet
        self._ee: np.ndarray | None = None
        self._gripper = 0.0
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    # ------------------------------------------------------------------ pass-through
    @property
    def name(self) -> str:
        return self.robot.name

    @property
    def observation_features(self):
        return self.robot.observation_features

    @property
    def action_features(self):
        return self.robot.action_features

    @property
    def is_connected(self) -> bool:
        return self.robot.is_connected

    def connect(self) -> None:
        """Connect the robot if needed and start the watchdog."""
        with self._lock:
            if not self.robot.is_connected:
                self.robot.connect()
            self._last_command = None  # the watchdog watches from the first action on
        self._stop.clear()
        self._watchdog = threading.Thread(target=self._watch, name="safety-watchdog", daemon=True)
        self._watchdog.start()

    def disconnect(self) -> None:
        """Stop the watchdog, then disconnect the robot."""
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=2)
        with self._lock:
            if self.robot.is_connected:
                self.robot.disconnect()

    def get_observation(self) -> dict[str, np.ndarray]:
        """The robot's observation; the hand position is kept for the workspace check."""
        with self._lock:
            obs = self.robot.get_observation()
        self._ee = np.asarray(obs["state"][:3], dtype=np.float64)
        return obs

    # ------------------------------------------------------------------ the checks
    def check(self, action: np.ndarray) -> np.ndarray:
        """The action that may be executed: validated, clipped per step, by speed, and to the workspace."""
        cfg = self.config
        applied, clipped = cfg.limits.clip(action)  # raises UnsafeActionError on NaN / inf / bad shape
        step = 1.0 / self.control_hz
        for sl, cap in ((slice(0, 3), cfg.max_speed * step), (slice(3, 6), cfg.max_angular_speed * step)):
            norm = float(np.linalg.norm(applied[sl]))
            if norm > cap:
                applied[sl] *= cap / norm
                clipped = True
        if self._ee is not None:  # not `clamp_position`: pulling a hand in turned a hold into a move
            inside = cfg.limits.step_within(self._ee, applied[:3])
            if not np.allclose(inside, applied[:3]):
                applied[:3] = inside
                clipped = True
        if clipped:
            self.clips.report(np.asarray(action), applied)
        return applied.astype(np.float32)

    def send_action(self, action: np.ndarray) -> np.ndarray:
        """Send `check(action)`, or hold while emergency-stopped; returns what the robot applied."""
        with self._lock:
            if self.estopped:
                return self._hold()
            applied = self.check(action)
            self._last_command = time.monotonic()
            self._gripper = float(applied[6])
            return self.robot.send_action(applied)

    def hold_action(self) -> np.ndarray:
        """Zero motion with the gripper as last commanded."""
        return np.array([0, 0, 0, 0, 0, 0, self._gripper], dtype=np.float32)

    def _hold(self) -> np.ndarray:
        return self.robot.send_action(self.hold_action())

    def estop(self) -> None:
        """Emergency stop: hold position now and ignore every action until `release()`."""
        with self._lock:
            self.estopped = True
            self._hold()
        log.warning("%s: EMERGENCY STOP engaged", self.name)

    def release(self) -> None:
        """Lift the emergency stop; actions are executed again (the watchdog's clock restarts)."""
        with self._lock:
            self.estopped = False
            self._last_command = time.monotonic()

    # ------------------------------------------------------------------ watchdog
    def _watch(self) -> None:
        period = self.config.watchdog_timeout / 2
        while not self._stop.wait(period):
            with self._lock:
                last = self._last_command
                stale = last is not None and time.monotonic() - last > self.config.watchdog_timeout
                if stale and self.robot.is_connected:
                    if self.watchdog_trips == 0:
                        log.warning(
                            "%s: no action for %.2f s, holding position",
                            self.name,
                            self.config.watchdog_timeout,
                        )
                    self.watchdog_trips += 1
                    self._hold()
