"""A running robot as the user interfaces see it: instructions in, status and camera frames out.

The terminal prompt and the web page both talk to a `RobotSession`; it owns the control loop and the
safety-wrapped robot, records episodes when asked (taken-over ticks flagged as interventions), and
keeps the latest JPEG frames for the page.
"""

from __future__ import annotations

import base64
import logging
import threading
import time

import cv2
import numpy as np

from data_collection.episode import EpisodeInfo, EpisodeRecorder, encode_episode
from data_collection.layout import tabletop_features
from data_collection.video_codec import VideoConfig
from data_collection.writer import DatasetWriter
from deploy.loop import ControlLoop
from deploy.reading import InstructionReading, NotUnderstood
from robot.safety import SafeRobot
from sim.sim_robot import SimRobot
from tasks.instruction_text import check_instruction, shown
from tasks.suite import TaskSpec

log = logging.getLogger(__name__)
TELEOP_STEP = 0.02  # m per policy step at full deflection (page keys send -1..1)
TELEOP_TURN = 0.1  # rad
FORCE = "force "  # an instruction starting so is started even when not understood


def jpeg(image: np.ndarray, scale: int = 1) -> str:
    """An RGB image as base64 JPEG text for the page, enlarged `scale` times (nearest neighbour); "" if
    encoding fails."""
    if scale > 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return base64.b64encode(data.tobytes()).decode() if ok else ""


class RobotSession:
    """What the terminal and the web page drive: the control loop and safe robot, the success check,
    recording and the frames shown."""

    def __init__(
        self,
        robot: SafeRobot,
        loop: ControlLoop,
        view_hz: float = 3.0,
        record: str | None = None,
        patience_s: float = 12.0,
        hold_when_done: bool = True,
        reading: InstructionReading | None = None,
    ) -> None:
        self.robot, self.loop, self.reading = robot, loop, reading
        self.read_as: TaskSpec | None = None  # the task the running instruction was read as
        self.hold_when_done = hold_when_done  # as an evaluation episode ends at success
        self.sim = robot.robot if isinstance(robot.robot, SimRobot) else None
        self.view_every = max(1, round(loop.config.control_hz / view_hz)) if view_hz > 0 else 0
        self.frames: dict[str, str] = {}
        self.frame_version = 0
        self.events: list[str] = []
        self.success: bool | None = None
        self.source: str | None = None  # who sent the running instruction: terminal, web <address>
        self.patience_s = patience_s  # say so when an instruction has not succeeded after this long
        self._tracked: str | None = None  # the instruction whose task the simulator checks
        self._regrasps = 0  # the loop's regrasps already said
        self._new_instruction()
        self._lock = threading.Lock()
        self.writer: DatasetWriter | None = None
        self.recorder: EpisodeRecorder | None = None
        if record:
            fps = loop.config.control_hz
            features = tabletop_features(
                robot.observation_features, robot.action_features["action"], VideoConfig(), fps
            )
            self.writer = DatasetWriter(record, features, fps, robot.name, resume=True)
        loop.on_tick = self._on_tick

    # ------------------------------------------------------------------ commands
    def instruct(
        self, text: str, source: str = "terminal", relayout: bool = False, force: bool = False
    ) -> None:
        """Switch to `text` now. With `relayout`, a scene lacking the named objects is rebuilt for them.

        Text that is no instruction (`check_instruction`: empty, too long, control characters) raises
        BadInstruction; one the reading cannot place (a question, nothing the suite knows) raises
        NotUnderstood, unless `force` or it starts with "force ". Either way the robot is untouched. An
        instruction whose colour word could be either of two colours is not started: the session asks
        which (`deploy.reading`)."""
        text = check_instruction(text)
        if text.lower().startswith(FORCE):
            force, text = True, check_instruction(text[len(FORCE) :])
        reading = self.reading.read(text) if self.reading is not None else None
        if reading is not None and reading.question:
            self.event(f"{reading.question} ({text!r} not started: say it with one of those colours)")
            return
        if reading is not None and reading.unplaced and not force:
            raise NotUnderstood(
                f"not started: {shown(text)}: {reading.unplaced}. {self.reading.known_things()}. "
                f"To make the robot try anyway: force {text}"
            )
        self.loop.set_instruction(text)
        self.read_as = reading.task if reading is not None else None
        if reading is not None and reading.colours:
            self.event("read " + ", ".join(f"{said!r} as {colour}" for said, colour in reading.colours))
        self._tracked = None  # until the simulator checks the new instruction's task
        self._save_episode()
        self.source = source
        if self.sim is not None:
            task = self.read_as
            self.loop.request(lambda: self._track_success_of(text, relayout, task))
        self.event(f"instruction from {source}: {text}")

    def _track_success_of(self, text: str, relayout: bool, task: TaskSpec | None = None) -> None:
        """Point the simulator's success check at `text` (read as `task`), saying so when it cannot judge
        it (loop thread)."""
        objects = list(self.sim.objects)
        self._tracked = text
        why = self.sim.set_instruction(text, relayout, task=task)
        if self.sim.objects != objects:
            self.event("new scene for it: " + ", ".join(o.replace("_", " ") for o in self.sim.objects))
        if why:
            self.event(why)
        self.success = None
        self._judge_afresh()  # a hold judged on the old scene, in the tick before this, is undone
        self._start_episode(text)  # here, on the loop's thread, once the scene is final

    COMMANDS = ("estop", "release", "reset", "stop")  # the argument-free ones, same in terminal and page

    def command(self, name: str) -> None:
        """Run one of COMMANDS by name (what the terminal and the page both receive)."""
        if name not in self.COMMANDS:
            raise ValueError(f"unknown command {name!r}; valid: {', '.join(self.COMMANDS)}")
        getattr(self, name)()

    def estop(self) -> None:
        """Emergency stop: the safety layer refuses motion until `release`."""
        self.robot.estop()
        self.event("EMERGENCY STOP (release to continue)")

    def release(self) -> None:
        """Lift the emergency stop; the instruction goes on."""
        self.robot.release()
        self.event("released")

    def reset(self) -> None:
        """A new scene; the instruction stays, and the scene holds the objects it names."""
        self._save_episode()
        text = self.loop.instruction
        if text:
            self.loop.set_instruction(text)  # the old scene's plans are dropped
        if self.sim is not None:
            self.loop.request(lambda: self._new_scene(text))
        else:
            self.event("reset: a real robot's scene is laid out by hand; the instruction stays")

    def _new_scene(self, text: str | None) -> None:
        task = (self.read_as or self.sim.env.suite.closest(text)) if text else None
        self.sim.reset(task)
        objects = ", ".join(o.replace("_", " ") for o in self.sim.objects)
        self.event(f"new scene{' for: ' + text if text else ''} ({objects})")
        if text:
            self._track_success_of(text, relayout=False, task=task)

    def stop(self) -> None:
        """Stop acting (hold position) without an emergency stop."""
        self._save_episode()
        self.loop.clear_instruction()
        self.event("stopped; waiting for an instruction")

    def takeover(self, on: bool) -> None:
        """Let the operator drive (`teleop`) or hand back to the policy, which then judges the task afresh."""
        self.loop.set_takeover(on)
        if not on:  # the operator may have undone (or done) the task: judge it afresh, acting meanwhile
            self.loop.request(self._judge_afresh)
        self.event("operator driving" if on else "policy driving")

    def _judge_afresh(self) -> None:
        """Act again (after a hold) and judge the task from now on (loop thread)."""
        self.loop.resume()
        self._new_instruction()

    def teleop(self, motion: list[float], gripper: float | None) -> None:
        """The page's motion keys, -1..1 per axis (x, y, z, roll, pitch, yaw), scaled to a step per control
        tick."""
        scale = np.array([TELEOP_STEP] * 3 + [TELEOP_TURN] * 3, dtype=np.float32) / self.loop.substeps
        self.loop.teleop(np.clip(np.asarray(motion, dtype=np.float32), -1, 1) * scale, gripper)

    def event(self, text: str) -> None:
        """Log `text` and keep it, time-stamped, among the last 50 events the page shows."""
        with self._lock:
            self.events.append(f"{time.strftime('%H:%M:%S')} {text}")
            self.events = self.events[-50:]
        log.info(text)

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        """Everything the page and the `status` command show, as one JSON-ready message."""
        obs = self.loop.last_observation
        if self.robot.estopped:
            state = "estop"
        else:
            state = "done" if self.loop.holding else "running" if self.loop.instruction else "idle"
        planner_error = self.loop.planner.error if self.loop.planner else None
        return {
            "type": "status",
            "instruction": self.loop.instruction,
            "source": self.source if self.loop.instruction else None,
            "read_as": self.read_as.id if self.loop.instruction and self.read_as else None,
            "state": state,
            "takeover": self.loop.takeover,
            "figures": self.loop.figures(),
            "ee": obs["state"][:3].round(4).tolist() if obs is not None else None,
            "gripper": round(float(obs["state"][7]), 4) if obs is not None else None,
            "success": self.success,
            "objects": self.sim.objects if self.sim is not None else [],
            "watchdog_trips": self.robot.watchdog_trips,
            "error": str(planner_error) if planner_error else None,
            "events": self.events[-8:],
            "recording": self.recorder is not None,
        }

    # ------------------------------------------------------------------ the loop's thread
    def _on_tick(self, loop: ControlLoop, obs: dict, applied: np.ndarray, human: bool) -> None:
        with self._lock:
            if self.recorder is not None and self.sim is not None:
                self.recorder.add(obs, applied, self.sim.env.scene_state(), intervention=human)
        if self.sim is not None and loop.instruction and loop.instruction == self._tracked:
            self._judge(loop.instruction)  # once the simulator checks this instruction's task
        if loop.executor.regrasps != self._regrasps:
            self._regrasps = loop.executor.regrasps
            self.event("the fingers closed on nothing: opening and trying again")
        if self.view_every and loop.step % self.view_every == 0:
            frames = {cam: jpeg(obs[cam], scale=4) for cam in obs if cam != "state"}
            if self.sim is not None:
                frames["view"] = jpeg(self.sim.frame())
            with self._lock:
                self.frames = frames
                self.frame_version += 1

    def _new_instruction(self) -> None:
        """Its clock starts; nothing has been said about it yet."""
        self._started, self._said_patience, self._said_done = time.monotonic(), False, False

    def _judge(self, instruction: str) -> None:
        """Say once when the task is done (and hold, with `hold_when_done`: the policy was never shown
        what follows success), and once when it is taking longer than `patience_s`."""
        done = self.sim.success()
        if done is None:
            return
        elapsed = time.monotonic() - self._started
        if done and not self._said_done:  # once: success flickers while a held block sways
            self._said_done = True
            if self.hold_when_done:
                self.loop.hold(instruction)
            holding = "; holding until the next instruction" if self.hold_when_done else ""
            self.event(f"done in {elapsed:.1f} s: {instruction}{holding}")
        elif not done and not self._said_patience and not self._said_done and elapsed > self.patience_s:
            self._said_patience = True
            self.event(f"no success after {elapsed:.0f} s: still trying; `reset` for a new scene")
        self.success = done

    def _start_episode(self, text: str) -> None:
        if self.writer is not None and self.sim is not None:
            self.recorder = EpisodeRecorder(self.sim.objects)
            self.recorder_instruction = text

    def _save_episode(self) -> None:
        with self._lock:
            rec, self.recorder = self.recorder, None
        if rec is None or self.writer is None or not len(rec):
            return
        spec = self.sim.spec if self.sim is not None else None
        info = EpisodeInfo(
            self.recorder_instruction, spec.id if spec else "", bool(self.success), "policy", rec.objects
        )
        index = self.writer.add(encode_episode(rec.finish(info), self.loop.config.control_hz, VideoConfig()))
        self.event(f"recorded episode {index} to {self.writer.root}")

    def close(self) -> None:
        """Save the episode being recorded, if any."""
        self._save_episode()
