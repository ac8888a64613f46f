"""Scripted experts: a skill's plan is a list of phases, each aiming the gripper at a waypoint computed
from the live, privileged scene state, so the expert reacts when an object moves or a grasp slips.

The controller turns waypoints into the policy's own action space (end-effector deltas + gripper)
with capped speed and acceleration, so trajectories are smooth. DART-style noise perturbs what is
executed while the recorded label stays the expert's clean action.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from robot.pybullet_arm.panda import yaw_quaternion
from robot.quiet import pybullet as p
from sim.state import SceneState


@dataclass
class Waypoint:
    """Where a phase sends the hand: grasp-point position, yaw and gripper, with a tolerance and speed."""

    position: np.ndarray  # grasp point target, world frame, m
    yaw: float  # gripper yaw, rad
    gripper: float  # 0 open, 1 closed
    tolerance: float = 0.01  # m
    speed: float = 0.30  # m/s cap


@dataclass
class Phase:
    """One stage of a plan: a waypoint computed from the live state, and when the stage ends, retries or
    is skipped."""

    name: str
    target: Callable[[SceneState], Waypoint]
    hold: int = 0  # control steps to stay once reached (lets the fingers close or open)
    until: Callable[[SceneState], bool] | None = None  # ends the phase as soon as true
    check: Callable[[SceneState], bool] | None = None  # must be true when the phase ends...
    retry_from: str | None = None  # ...or the plan restarts from this phase
    timeout: int = 45  # control steps
    # Done already in this state (the hand is ahead of the plan: a policy the expert labels holds the
    # object it was about to reach for): go on to the next phase at once, without its check.
    skip_if: Callable[[SceneState], bool] | None = None
    # A phase for a hand that is not where a fresh scene leaves it (`free_hand`): skipping it is the
    # normal case, not counted in `ScriptedExpert.skips`.
    prelude: bool = False


def nearest_yaw(yaw: float, current: float, symmetry: float) -> float:
    """The yaw equivalent to `yaw` under `symmetry` that is closest to `current`."""
    return yaw + symmetry * round((current - yaw) / symmetry)


def wrap(angle: float) -> float:
    """`angle` (rad) wrapped into [-pi, pi)."""
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _clip_norm(v: np.ndarray, limit: float) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v if n <= limit else v * (limit / n)


def rotation_error(current: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-frame axis-angle vector that rotates `current` onto `target`."""
    inv = p.invertTransform([0, 0, 0], current)[1]
    _, q = p.multiplyTransforms([0, 0, 0], target, [0, 0, 0], inv)
    q = np.asarray(q)
    if q[3] < 0:
        q = -q
    angle = 2 * math.atan2(float(np.linalg.norm(q[:3])), float(q[3]))
    return np.zeros(3) if angle < 1e-9 else q[:3] / np.linalg.norm(q[:3]) * angle


class ScriptedExpert:
    """Runs one skill's phases for one task, closed loop on `SceneState`."""

    gain = 0.7  # fraction of the remaining error commanded per step
    max_accel = 2.0  # m/s^2
    max_rot_step = 0.2  # rad per step
    yaw_tolerance = 0.08  # rad
    # At the edge of its reach the hand stops a few mm outside a waypoint's tolerance (8.4 mm from the
    # push's start, tolerance 8 mm); waiting there for the phase's timeout put ~35 idle frames into 10%
    # of noise-free push demos. A hand within `stall_margin` of the tolerance that was sent at least
    # `stall_sent` and moved under `stall_moved` in the last step has reached the waypoint.
    stall_margin = 0.003  # m
    stall_sent = 0.002  # m
    stall_moved = 0.001  # m

    def __init__(self, phases: list[Phase], control_hz: float = 10.0, max_retries: int = 2) -> None:
        self.phases = phases
        self.dt = 1.0 / control_hz
        self.max_retries = max_retries
        self.reset()

    def reset(self) -> None:
        """Start the plan again from its first phase, retries and skips counted afresh."""
        self.index = 0
        self.steps_in_phase = 0
        self.held_for = 0
        self.retries = 0
        self.skips = 0  # phases skipped as already done (never in the expert's own episodes)
        self._last_step = np.zeros(3)
        self._position: np.ndarray | None = None  # the hand at the last step, and how far it moved since
        self._moved = math.inf

    @property
    def done(self) -> bool:
        """Whether every phase has ended; the expert then holds still."""
        return self.index >= len(self.phases)

    @property
    def phase(self) -> str:
        """The current phase's name; "done" at the end."""
        return "done" if self.done else self.phases[self.index].name

    def act(self, state: SceneState) -> np.ndarray:
        """The (7,) float32 action for `state`: a capped delta towards the current waypoint, gripper 0/1."""
        waypoint = self._advance(state)
        if waypoint is None:  # plan finished: stay still, keep the gripper as it is
            return np.array([0, 0, 0, 0, 0, 0, float(state.gripper_width < 0.07)], dtype=np.float32)
        return self._control(waypoint, state)

    def follow(self, executed: np.ndarray) -> None:
        """Someone else moved the hand (a policy the expert is labelling, DAgger): the next command's
        acceleration limit starts from that motion instead of the expert's own last command."""
        self._last_step = np.asarray(executed[:3], dtype=np.float64).copy()

    def _advance(self, state: SceneState) -> Waypoint | None:
        if self._position is not None:
            self._moved = float(np.linalg.norm(state.ee_position - self._position))
        self._position = state.ee_position.copy()
        for _ in range(len(self.phases) + 1):  # a phase may end immediately; never loop forever
            if self.done:
                return None
            phase = self.phases[self.index]
            if phase.skip_if and phase.skip_if(state):
                self.index, self.steps_in_phase, self.held_for = self.index + 1, 0, 0
                self.skips += 0 if phase.prelude else 1
                continue
            wp = phase.target(state)
            error = float(np.linalg.norm(wp.position - state.ee_position))
            reached = error < wp.tolerance or (error < wp.tolerance + self.stall_margin and self._stuck())
            reached = reached and abs(wrap(wp.yaw - state.ee_yaw)) < self.yaw_tolerance
            self.held_for = self.held_for + 1 if reached else 0
            finished = phase.until(state) if phase.until else self.held_for > phase.hold
            if not finished and self.steps_in_phase < phase.timeout:
                self.steps_in_phase += 1
                return wp
            self._next(phase, state)
        return None

    def _stuck(self) -> bool:
        """The hand was sent on (the last command, the expert's or, when labelling, the policy's) and did
        not move: as close as the arm gets. A paused policy is not stuck: its command was ~0."""
        sent = float(np.linalg.norm(self._last_step))
        return self.steps_in_phase > 0 and sent > self.stall_sent and self._moved < self.stall_moved

    def _next(self, phase: Phase, state: SceneState) -> None:
        self.steps_in_phase = self.held_for = 0
        if phase.check and not phase.check(state) and self.retries < self.max_retries:
            self.retries += 1
            self.index = [ph.name for ph in self.phases].index(phase.retry_from or self.phases[0].name)
        else:
            self.index += 1

    def _control(self, wp: Waypoint, state: SceneState) -> np.ndarray:
        desired = _clip_norm((wp.position - state.ee_position) * self.gain, wp.speed * self.dt)
        step = self._last_step + _clip_norm(desired - self._last_step, self.max_accel * self.dt * self.dt)
        self._last_step = step
        rot = _clip_norm(
            rotation_error(state.ee_orientation, yaw_quaternion(wp.yaw)) * self.gain, self.max_rot_step
        )
        return np.concatenate([step, rot, [wp.gripper]]).astype(np.float32)


def dart_noise(action: np.ndarray, rng: np.random.Generator, pos_std: float, rot_std: float) -> np.ndarray:
    """Perturb the executed action (DART): the expert then demonstrates recovery from the drift."""
    noisy = action.copy()
    noisy[:3] += rng.normal(0, pos_std, 3)
    noisy[3:6] += rng.normal(0, rot_std, 3)
    return noisy
