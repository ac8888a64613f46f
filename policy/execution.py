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

A `Regrasp` (off unless its `retries` > 0) watches the fingers: when a grasp closes on nothing, it opens
them and lifts the hand, then lets the policy plan afresh from what the cameras show then.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from policy.pose import HEIGHT, TARGET_GRIPPER, WIDTH, action_towards, mean_target, start_target

EXECUTIONS = ("ensemble", "first")


@dataclass(frozen=True)
class Regrasp:
    """Open and rise after a grasp that closed on air, then hand back to the policy for a new plan.

    The policy never reopens fingers that closed on nothing (demonstrations never miss), so one miss
    ends the episode. A close only counts as a grasp when it was commanded with the hand low: pushes
    close the fingers at travel height. Air is told apart from an object by the finger gap alone (a
    gripper's width is proprioception on any arm): fingers on a block or duck stop at 3.3-5.6 cm, so
    a grasped object that slips out later counts too.
    """

    retries: int = 0  # per instruction (or episode); 0: off
    below: float = 0.08  # m: a close commanded with the hand lower than this is a grasp
    air: float = 0.01  # m: closed fingers narrower than this hold nothing
    rise: float = 0.08  # m the hand is sent up, fingers open (the robot's step limit paces it)
    steps: int = 6  # policy steps before the policy plans again


class ChunkExecutor:
    """Absolute end-effector chunks -> one delta action per control tick (see the module docstring),
    for the pose action modes; `Regrasp` recovers from a grasp on air."""

    def __init__(
        self,
        execution: str = "ensemble",
        decay: float = 1.0,
        substeps: int = 1,
        chunk: int = 10,
        regrasp: Regrasp | None = None,
    ):
        if execution not in EXECUTIONS:
            raise ValueError(f"execution={execution!r}; valid: {', '.join(EXECUTIONS)}")
        self.execution, self.decay, self.substeps = execution, decay, substeps
        self.regrasp = regrasp or Regrasp()
        self.regrasps = 0  # regrasps so far, over every instruction (the deploy layer reports them)
        self.chunks: collections.deque[tuple[int, np.ndarray]] = collections.deque(maxlen=chunk)
        self.restart()

    def clear(self) -> None:
        """Forget the plans, and a regrasp under way (someone else moves the arm, or it holds)."""
        self.chunks.clear()
        self._closed_low: bool | None = None  # None: fingers commanded open; else: was the close low
        self._recover: tuple[int, np.ndarray] | None = None  # (until tick, target) while regrasping

    def restart(self) -> None:
        """A new instruction or episode: plans forgotten, every regrasp available again."""
        self.clear()
        self.retries_left = self.regrasp.retries

    def add(self, planned_at: int, targets: np.ndarray, start: np.ndarray) -> None:
        """`targets` (K, 8) planned at control tick `planned_at` from the pose `start` (8,); a plan
        made before a regrasp ends is dropped (it saw the missed grasp)."""
        if self._recover is None or planned_at >= self._recover[0]:
            self.chunks.append((planned_at, np.vstack([start[None], targets])))

    def recovering(self, step: int) -> bool:
        """Regrasping at this tick: no plan is needed."""
        recover = self._recover  # read once: another thread may clear it
        return recover is not None and step < recover[0]

    @property
    def last_planned(self) -> int | None:
        """The control tick the newest chunk was planned at (None: nothing planned)."""
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
        target = self._regrasped(step, state, self.target(step))
        return None if target is None else action_towards(target, state)

    def _regrasped(self, step: int, state: np.ndarray, target: np.ndarray | None) -> np.ndarray | None:
        """`target`, or the regrasp's own while one is under way; starts one if a low grasp closed on air."""
        if self.recovering(step):
            return self._recover[1]
        if target is None or self.regrasp.retries == 0:
            return target
        if target[TARGET_GRIPPER] < 0.5:
            self._closed_low = None
        elif self._closed_low is None:
            self._closed_low = bool(state[HEIGHT] < self.regrasp.below)
        if self._closed_low and state[WIDTH] < self.regrasp.air and self.retries_left > 0:
            self.retries_left -= 1
            self.regrasps += 1
            self._closed_low = None
            self.chunks.clear()
            lifted = start_target(state)  # where the hand is, fingers open
            lifted[HEIGHT] += self.regrasp.rise
            self._recover = (step + self.regrasp.steps * self.substeps, lifted)
            return lifted
        return target


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
        """Forget the planned chunks."""
        self.chunks.clear()

    def add(self, planned_at: int, actions: np.ndarray, start: np.ndarray | None = None) -> None:
        """`actions` (K, A) planned at control tick `planned_at`; `start` is ignored (raw rows are
        absolute)."""
        self.chunks.append((planned_at, np.asarray(actions, dtype=np.float64)))

    @property
    def last_planned(self) -> int | None:
        """The control tick the newest chunk was planned at (None: nothing planned)."""
        return self.chunks[-1][0] if self.chunks else None

    def recovering(self, step: int) -> bool:
        """Always False: raw actions have no regrasp."""
        return False  # another robot's raw actions: no regrasp

    def action(self, step: int, state: np.ndarray | None = None) -> np.ndarray | None:
        """The (A,) float32 action for control tick `step`, or None when no chunk covers it."""
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
