"""Executing action chunks: absolute end-effector targets -> one delta action per control tick.

A chunk is K absolute targets (position, quaternion, gripper), one per policy step, plus the pose it
was planned from. Whatever the policy predicts (chunk-relative offsets or chained deltas), it hands the
executor absolute targets, so each tick re-aims at where the hand should be from where it is: tracking
lag and small errors are corrected at the next tick instead of accumulating along the chunk.

  ensemble  every chunk covering this tick votes, weight exp(-decay * age) (ACT's temporal ensembling);
            the newest chunk decides the gripper (open/close is never averaged)
  first     the newest chunk alone (with re-planning every few steps: a receding horizon)

With several control ticks per policy step (30 Hz control of a 10 Hz policy), the target moves from
the previous step's target to this step's in equal parts.
"""

from __future__ import annotations

import collections

import numpy as np

from policy.pose import action_towards, mean_target

EXECUTIONS = ("ensemble", "first")


class ChunkExecutor:
    def __init__(self, execution: str = "ensemble", decay: float = 1.0, substeps: int = 1, chunk: int = 10):
        if execution not in EXECUTIONS:
            raise ValueError(f"execution={execution!r}; valid: {', '.join(EXECUTIONS)}")
        self.execution, self.decay, self.substeps = execution, decay, substeps
        self.chunks: collections.deque[tuple[int, np.ndarray]] = collections.deque(maxlen=chunk)

    def clear(self) -> None:
        self.chunks.clear()

    def add(self, planned_at: int, targets: np.ndarray, start: np.ndarray) -> None:
        """`targets` (K, 8) planned at control tick `planned_at` from the pose `start` (8,)."""
        self.chunks.append((planned_at, np.vstack([start[None], targets])))

    @property
    def last_planned(self) -> int | None:
        return self.chunks[-1][0] if self.chunks else None

    def target(self, step: int) -> np.ndarray | None:
        """The (8,) target for control tick `step`, or None when no chunk covers it."""
        live = []
        for planned_at, path in self.chunks:
            k, sub = divmod(step - planned_at, self.substeps)
            if 0 <= k < len(path) - 1:
                frac = (sub + 1) / self.substeps
                point = path[k] + (path[k + 1] - path[k]) * frac
                point[3:7] /= np.linalg.norm(point[3:7])
                point[7] = path[k + 1, 7]
                live.append((k, point))
        if not live:
            return None
        if self.execution == "first":
            return live[-1][1]
        ages = np.array([k for k, _ in live], dtype=np.float64)
        return mean_target(np.stack([p for _, p in live]), np.exp(-self.decay * ages))

    def action(self, step: int, state: np.ndarray) -> np.ndarray | None:
        """The delta action for control tick `step` from the robot's current `state`, or None."""
        target = self.target(step)
        return None if target is None else action_towards(target, state)


class RawChunkExecutor:
    """Chunks of the dataset's own actions (policy.actions=raw), one row per control tick: the newest
    chunk's row (`first`), or the weighted mean of every live chunk's row (`ensemble`) with the newest
    chunk deciding the gripper channels (open/close is never averaged)."""

    def __init__(self, execution: str, decay: float, chunk: int, grippers: tuple[int, ...] = ()) -> None:
        if execution not in EXECUTIONS:
            raise ValueError(f"execution={execution!r}; valid: {', '.join(EXECUTIONS)}")
        self.execution, self.decay, self.grippers = execution, decay, list(grippers)
        self.chunks: collections.deque[tuple[int, np.ndarray]] = collections.deque(maxlen=chunk)

    def clear(self) -> None:
        self.chunks.clear()

    def add(self, planned_at: int, actions: np.ndarray, start: np.ndarray | None = None) -> None:
        self.chunks.append((planned_at, np.asarray(actions, dtype=np.float64)))

    @property
    def last_planned(self) -> int | None:
        return self.chunks[-1][0] if self.chunks else None

    def action(self, step: int, state: np.ndarray | None = None) -> np.ndarray | None:
        live = [(step - at, rows[step - at]) for at, rows in self.chunks if 0 <= step - at < len(rows)]
        if not live:
            return None
        newest = live[-1][1]
        if self.execution == "first":
            return newest.astype(np.float32)
        weights = np.exp(-self.decay * np.array([age for age, _ in live], dtype=np.float64))
        out = np.average(np.stack([row for _, row in live]), axis=0, weights=weights)
        out[self.grippers] = newest[self.grippers]
        return out.astype(np.float32)
