"""The control loop: a fixed control rate, with inference beside it so it never stalls control.

Every tick: read the observation, take the next action from the action chunks planned so far, send it
through the safety layer. A planner thread turns the latest observation and instruction into a chunk
whenever it is free (at most once per policy step); chunks are indexed by the control step whose
observation they saw, so a late chunk still lines up with time. `execution` (default: the policy's):
  first     execute the newest chunk, re-planning every `replan_every` policy steps (a receding horizon);
  ensemble  average every chunk covering this step, newer weighing more (ACT's temporal ensembling).
Chunks are absolute end-effector targets (`policy.execution`): every tick aims at the current target
from the measured pose. A policy trained at `fps` drives a faster loop by moving its target over
control_hz / fps ticks.
A human may take over at any moment (teleop motions replace the policy's); those ticks are flagged.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from conf.checks import at_least, positive
from policy.execution import ChunkExecutor, Regrasp
from policy.pose import start_target
from robot.safety import SafeRobot, UnsafeActionError

log = logging.getLogger(__name__)


@dataclass
class LoopConfig:
    """How `bcz run` drives the robot: the control rate and how planned chunks are executed."""

    control_hz: float = 10.0
    execution: str | None = None  # ensemble | first; None: as the policy was set up (chunk -> first)
    replan_every: int | None = None  # policy steps between plans with `first`; None: the policy's
    ensemble_decay: float = 1.0  # per policy step of a chunk's age
    regrasp: int | None = None  # reopen and lift after a grasp closes on air (times); None: the policy's
    stats_window: int = 300  # ticks the live figures are computed over

    def __post_init__(self) -> None:
        positive(self, "control_hz")
        at_least(self, 1, "replan_every", "stats_window")
        at_least(self, 0, "regrasp")


class Planner:
    """Runs the policy in its own thread on the latest observation it was given."""

    def __init__(
        self, plan: Callable[[dict, str], np.ndarray], on_chunk: Callable[[int, np.ndarray, dict], None]
    ) -> None:
        self.plan, self.on_chunk = plan, on_chunk
        self.latencies: collections.deque[float] = collections.deque(maxlen=300)
        self._job: tuple[dict, str, int] | None = None
        self._busy = False
        self._cv = threading.Condition()
        self._stop = False
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="planner", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """Whether a plan is running or waiting; the loop submits no new one then."""
        return self._busy or self._job is not None

    def submit(self, observation: dict, instruction: str, step: int) -> None:
        """Plan from this observation when free; replaces a request not yet started."""
        with self._cv:
            self._job = (observation, instruction, step)
            self._cv.notify()

    def cancel(self) -> None:
        """Drop the request not yet started (a plan already running still delivers its chunk)."""
        with self._cv:
            self._job = None

    def close(self) -> None:
        """Stop the thread after its current plan (waits at most 5 s)."""
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._job is None and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                (obs, text, step), self._job = self._job, None
                self._busy = True
            try:
                start = time.perf_counter()
                chunk = self.plan(obs, text)
                self.latencies.append(time.perf_counter() - start)
                self.on_chunk(step, chunk, obs)
            except Exception as e:  # surfaced by the loop: the robot holds, the UI shows the error
                log.exception("planner failed")
                self.error = e
            finally:
                self._busy = False


class LoopStats:
    """Live figures: achieved rate, tick jitter, inference latency, deadline misses."""

    def __init__(self, period: float, window: int) -> None:
        self.period = period
        self.starts: collections.deque[float] = collections.deque(maxlen=window)
        self.lateness: collections.deque[float] = collections.deque(maxlen=window)
        self.deadline_misses = 0
        self.ticks = 0

    def record(self, scheduled: float, started: float, finished: float) -> None:
        """One tick's scheduled, start and end times (perf_counter s); over a period is a deadline miss."""
        self.ticks += 1
        self.starts.append(started)
        self.lateness.append(started - scheduled)
        if finished - scheduled > self.period:
            self.deadline_misses += 1

    def snapshot(self, latencies: collections.deque[float] | None = None) -> dict[str, float]:
        """Ticks, deadline misses, achieved rate and jitter (ms), and inference latency percentiles."""
        out = {"ticks": self.ticks, "deadline_misses": self.deadline_misses}
        if len(self.starts) > 1:
            out["rate_hz"] = (len(self.starts) - 1) / (self.starts[-1] - self.starts[0])
            intervals = np.diff(np.asarray(self.starts))
            out["jitter_p50_ms"] = float(np.percentile(np.abs(intervals - self.period), 50) * 1e3)
            out["jitter_p99_ms"] = float(np.percentile(np.abs(intervals - self.period), 99) * 1e3)
        if latencies:
            lat = np.asarray(latencies) * 1e3
            for q in (50, 90, 99):
                out[f"inference_p{q}_ms"] = float(np.percentile(lat, q))
        return out


class ControlLoop:
    """Drives a (safety-wrapped) robot with a policy at a fixed rate, in its own thread."""

    def __init__(
        self,
        robot: SafeRobot,
        policy,
        config: LoopConfig,
        on_tick: Callable[[ControlLoop, dict, np.ndarray, bool], None] | None = None,
    ) -> None:
        self.robot, self.policy, self.config = robot, policy, config
        self.period = 1.0 / config.control_hz
        policy_hz = policy.config.fps if policy is not None else config.control_hz
        ratio = config.control_hz / policy_hz
        if abs(ratio - round(ratio)) > 1e-6 or ratio < 1:
            raise ValueError(
                f"control_hz={config.control_hz} must be a whole multiple of the policy's rate "
                f"({policy_hz} Hz)"
            )
        self.substeps = round(ratio)
        if policy is not None and policy.config.actions == "raw":
            raise ValueError(
                "this policy predicts another robot's raw actions (policy.actions=raw); the control loop "
                "drives an end-effector arm with pose targets: train it with policy.actions=relative"
            )
        chunk = policy.config.chunk if policy is not None else 1
        execution, replan, regrasp = config.execution, config.replan_every, config.regrasp
        if policy is not None:
            execution = execution or ("first" if policy.config.execution == "chunk" else "ensemble")
            replan = replan or policy.config.replan_every
            regrasp = policy.config.regrasp if regrasp is None else regrasp
        self.executor = ChunkExecutor(
            execution or "ensemble", config.ensemble_decay, self.substeps, chunk, Regrasp(regrasp or 0)
        )
        # ticks between plans: every policy step when ensembling, `replan_every` steps with `first`
        self.plan_every = self.substeps * (replan if execution == "first" and replan else 1)
        self.planner = Planner(policy.plan, self._on_chunk) if policy is not None else None
        self.stats = LoopStats(self.period, config.stats_window)
        self.on_tick = on_tick
        self.step = 0
        self.instruction: str | None = None
        self.holding = False  # the instruction is done: hold still until told anew
        self.takeover = False
        self._teleop = np.zeros(7, np.float32)
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_observation: dict | None = None
        self._requests: collections.deque[Callable[[], None]] = collections.deque()

    # ------------------------------------------------------------------ commands (any thread)
    def set_instruction(self, text: str) -> None:
        """Switch task now: the chunks of the old instruction are dropped."""
        if not text or not text.strip():
            raise ValueError("empty instruction: say what the robot should do")
        with self._lock:
            self.instruction = text.strip()
            self.holding = False
            self.executor.restart()
            if self.planner:
                self.planner.cancel()
        if self.policy is not None:
            self.policy.reset()

    def clear_instruction(self) -> None:
        """Stop acting: no instruction, the plans dropped; the robot holds."""
        with self._lock:
            self.instruction = None
            self.holding = False
            self.executor.restart()

    def hold(self, text: str) -> None:
        """Stop acting on the instruction `text`, which stays (its task is done); the gripper keeps its
        state. Nothing happens if the instruction has changed meanwhile. `resume`, or a new instruction
        (the same one set again too), acts again."""
        with self._lock:
            if self.instruction != text:
                return
            self.holding = True
            self.executor.clear()
            if self.planner:
                self.planner.cancel()

    def resume(self) -> None:
        """Act on the instruction again after `hold` (afresh: the plans from before it are dropped)."""
        with self._lock:
            if self.holding:
                self.holding = False
                self.executor.clear()

    def set_takeover(self, on: bool) -> None:
        """Hand the arm to the operator (`teleop`) or back; handing back drops the stale plans."""
        with self._lock:
            self.takeover = on
            self._teleop[:6] = 0.0
            if not on:
                self.executor.clear()

    def teleop(self, motion: np.ndarray, gripper: float | None = None) -> None:
        """The operator's command for the coming ticks (used while taken over)."""
        with self._lock:
            self._teleop[:6] = np.asarray(motion, dtype=np.float32)[:6]
            if gripper is not None:
                self._teleop[6] = float(gripper)

    def _on_chunk(self, step: int, chunk: np.ndarray, observation: dict) -> None:
        start = start_target(np.asarray(observation["state"], dtype=np.float64))
        with self._lock:
            self.executor.add(step, chunk, start)

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        """Run the loop in its own thread until `stop`."""
        self._running.set()
        self._thread = threading.Thread(target=self._run, name="control-loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop thread and the planner (each waited for at most 5 s)."""
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.planner is not None:
            self.planner.close()

    def run_for(self, seconds: float) -> None:
        """Run in this thread for `seconds` (benchmarks, scripts)."""
        self._running.set()
        end = time.perf_counter() + seconds
        self._run(until=end)

    def _run(self, until: float | None = None) -> None:
        next_tick = time.perf_counter()
        while self._running.is_set() and (until is None or next_tick < until):
            started = time.perf_counter()
            self.tick()
            finished = time.perf_counter()
            self.stats.record(next_tick, started, finished)
            next_tick += self.period
            if finished > next_tick:  # behind schedule: skip the missed slots rather than burst
                next_tick += self.period * int((finished - next_tick) / self.period + 1)
            time.sleep(max(0.0, next_tick - time.perf_counter()))

    def request(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the loop's thread before the next tick (for calls a simulator needs serialized)."""
        self._requests.append(fn)

    def tick(self) -> None:
        """One control step: observe, request a plan when one is due, send the operator's or the planned
        action (or hold) through the safety layer; a refused action holds."""
        while self._requests:
            self._requests.popleft()()
        obs = self.robot.get_observation()
        self.last_observation = obs
        with self._lock:
            text, human, step = (None if self.holding else self.instruction), self.takeover, self.step
            if human:
                action = self._teleop.copy()
            elif text:
                action = self.executor.action(step, obs["state"])
            else:
                action = None
            # a plan is due on the horizon, or when no chunk covers this tick (not while regrasping)
            last = self.executor.last_planned
            due = last is None or step - last >= self.plan_every or action is None
            due = due and not self.executor.recovering(step)
        if text and not human and self.planner is not None and due and not self.planner.busy:
            self.planner.submit(obs, text, step)
        if action is None:
            action = self.robot.hold_action()
        try:
            applied = self.robot.send_action(action)
        except UnsafeActionError as e:
            log.error("refused action %s: %s; holding", action.tolist(), e)
            applied = self.robot.send_action(self.robot.hold_action())
        if self.on_tick is not None:
            self.on_tick(self, obs, applied, human)
        self.step += 1

    def figures(self) -> dict[str, float]:
        """The live figures of `LoopStats.snapshot`, with the planner's inference latency."""
        return self.stats.snapshot(self.planner.latencies if self.planner else None)
