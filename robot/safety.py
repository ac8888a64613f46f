"""Action limits applied before anything reaches the physics or a motor.

Non-finite or malformed actions are refused (never clipped into something plausible); finite actions
beyond the per-step limits are clipped, and the target pose is kept inside the workspace box.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from robot.robot import EE_ACTION_NAMES

log = logging.getLogger(__name__)


class UnsafeActionError(ValueError):
    """An action that must not be executed (wrong shape, NaN or infinite values)."""


@dataclass
class ActionLimits:
    max_delta_pos: float = 0.05  # m per control step, per axis
    max_delta_rot: float = 0.30  # rad per control step, per axis
    workspace_low: list[float] = field(default_factory=lambda: [0.20, -0.40, 0.0])
    workspace_high: list[float] = field(default_factory=lambda: [0.80, 0.40, 0.45])

    @property
    def action_low(self) -> np.ndarray:
        p, r = self.max_delta_pos, self.max_delta_rot
        return np.array([-p, -p, -p, -r, -r, -r, 0.0], dtype=np.float32)

    @property
    def action_high(self) -> np.ndarray:
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
        return np.clip(position, self.workspace_low, self.workspace_high)


class ClipReporter:
    """Logs the first clipped action of a run and counts the rest, so clipping is visible but not noisy."""

    def __init__(self, who: str) -> None:
        self.who = who
        self.count = 0

    def report(self, original: np.ndarray, clipped: np.ndarray) -> None:
        self.count += 1
        if self.count == 1:
            log.warning(
                "%s: action %s exceeded the limits and was clipped to %s (further clips are only counted)",
                self.who,
                np.round(original, 4).tolist(),
                np.round(clipped, 4).tolist(),
            )
