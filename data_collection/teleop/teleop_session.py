"""`bcz teleop`: drive the simulated arm, type the instruction, record episodes into a dataset.

Two modes:
  driver=none    the operator drives every step (episodes recorded with source "teleop");
  driver=expert  intervention mode (HG-DAgger, as BC-Z collected most of its data): the scripted
                 expert drives and the operator takes over at any moment with `t` and hands back with
                 `t` again; taken-over frames are marked `intervention` (source "policy"). Once a
                 trained policy exists it drives instead of the expert.
The robot runs at the control rate in real time. PyBullet's GUI opens where a display exists; a
status line in the terminal shows what is happening either way.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from omegaconf import OmegaConf

from data_collection.episode import EpisodeInfo, EpisodeRecorder, encode_episode
from data_collection.layout import tabletop_features
from data_collection.teleop.keyboard import KeyboardTeleop
from data_collection.teleop.teleoperator import Event, Teleoperator
from data_collection.video_codec import VideoConfig
from data_collection.writer import DatasetWriter
from sim.env import TabletopEnv, use_gui
from sim.env_config import EnvConfig

DEVICES = ("keyboard", "gamepad", "spacemouse", "auto")
DRIVERS = ("none", "expert")


@dataclass
class TeleopConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    output: str = "datasets/teleop"  # appended to when it exists
    task: str | None = None  # scene to set up (task id or instruction); None: a random task of `split`
    split: str = "train"
    device: str = "auto"  # keyboard | gamepad | spacemouse | auto (the first found; keyboard always works)
    driver: str = "none"  # none | expert (intervention mode)
    seed: int | None = None
    gui: str = "auto"
    video: VideoConfig = field(default_factory=VideoConfig)


def motion_device(name: str) -> Teleoperator | None:
    """The extra motion device, if any; the keyboard (in the terminal) is always there too."""
    if name not in DEVICES:
        raise ValueError(f"device={name!r}; valid: {', '.join(DEVICES)}")
    from data_collection.teleop.gamepad import GamepadTeleop
    from data_collection.teleop.spacemouse import SpaceMouseTeleop

    candidates = {
        "keyboard": [],
        "gamepad": [GamepadTeleop],
        "spacemouse": [SpaceMouseTeleop],
        "auto": [SpaceMouseTeleop, GamepadTeleop],
    }[name]
    for cls in candidates:
        device = cls()
        try:
            device.connect()
            return device
        except OSError:
            if name != "auto":
                raise
    return None


class TeleopSession:
    def __init__(self, cfg: TeleopConfig, keyboard: KeyboardTeleop, device: Teleoperator | None) -> None:
        if cfg.driver not in DRIVERS:
            raise ValueError(f"driver={cfg.driver!r}; valid: {', '.join(DRIVERS)}")
        self.cfg = cfg
        self.keyboard, self.device = keyboard, device
        gui = use_gui(str(cfg.gui).lower())
        self.env = TabletopEnv(cfg.env, split=cfg.split, task=cfg.task, render_mode="human" if gui else None)
        fps = cfg.env.robot.control_hz
        features = tabletop_features(
            self.env.arm.observation_features, self.env.arm.action_features["action"], cfg.video, fps
        )
        self.writer = DatasetWriter(cfg.output, features, fps, self.env.arm.name, resume=True)
        self.seed = cfg.seed if cfg.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        self.saved = 0

    def say(self, text: str) -> None:
        sys.stdout.write("\r\x1b[K" + text + "\n")
        sys.stdout.flush()

    def status(self, text: str) -> None:
        sys.stdout.write("\r\x1b[K" + text)
        sys.stdout.flush()

    def new_scene(self) -> None:
        self.obs, self.info = self.env.reset(seed=self.seed)
        self.seed += 1
        self.expert = self.env.expert() if self.cfg.driver == "expert" else None
        self.recorder: EpisodeRecorder | None = None
        self.gripper = 0.0
        self.taken_over = False
        self.say(
            f"scene ready: {self.info['task']} (suggested: {self.info['instruction']!r}); Enter to start"
        )

    def start(self) -> None:
        typed = self.keyboard.read_line(f"\r\x1b[Kinstruction [{self.info['instruction']}]: ")
        self.instruction = typed or self.info["instruction"]
        self.recorder = EpisodeRecorder(list(self.env.scene.bodies))
        self.say(
            f"recording {self.instruction!r}" + (" (expert driving; t to take over)" if self.expert else "")
        )

    def save(self) -> None:
        rec, self.recorder = self.recorder, None
        if rec is None or not len(rec):
            self.say("nothing recorded yet")
            return
        rec.add_final(self.obs, self.env.scene_state())
        source = "policy" if self.expert else "teleop"
        info = EpisodeInfo(
            self.instruction,
            self.info["task"],
            bool(self.info["success"]),
            source,
            rec.objects,
            seed=self.seed - 1,
        )
        episode = rec.finish(info)
        index = self.writer.add(encode_episode(episode, self.env.config.robot.control_hz, self.cfg.video))
        self.saved += 1
        taken = int(episode.columns["intervention"].sum())
        self.say(
            f"saved episode {index} ({len(episode)} frames, {taken} taken over, success={info.success}) "
            f"to {self.cfg.output}"
        )

    def step(self, command) -> None:
        """One control step: the operator's motion, or the driver's unless the operator has taken over."""
        if command.gripper_toggle:
            self.gripper = 1.0 - self.gripper
        human = self.expert is None or self.taken_over
        if human:
            action = np.concatenate([command.motion, [self.gripper]]).astype(np.float32)
        else:
            action = self.expert.act(self.env.scene_state())
            self.gripper = float(action[6] > 0.5)
        if self.recorder is not None:
            self.recorder.add(self.obs, action, self.env.scene_state(), intervention=self.taken_over)
        self.obs, _, _, _, self.info = self.env.step(action)

    def run(self) -> int:
        self.say(self.keyboard.help())
        self.new_scene()
        period = 1.0 / self.env.config.robot.control_hz
        while True:
            tick = time.perf_counter()
            command = self.keyboard.poll()
            if self.device is not None:
                extra = self.device.poll()
                command.motion += extra.motion
                command.gripper_toggle ^= extra.gripper_toggle
                command.events += extra.events
            for event in command.events:
                if event is Event.QUIT:
                    if self.recorder is not None:
                        self.say("quit: the episode in progress was not saved")
                    return self.saved
                if event is Event.HELP:
                    self.say(self.keyboard.help())
                elif event is Event.START_OR_SAVE:
                    if self.recorder is None:
                        self.start()
                    else:
                        self.save()
                        self.new_scene()
                elif event is Event.DISCARD:
                    if self.recorder is not None:
                        self.say("episode discarded")
                    self.new_scene()
                elif event is Event.NEW_SCENE:
                    self.new_scene()
                elif event is Event.TAKE_OVER and self.expert is not None and self.recorder is not None:
                    self.taken_over = not self.taken_over
                    self.say("you are driving" if self.taken_over else "handed back to the expert")
            self.step(command)
            who = "you" if self.expert is None or self.taken_over else "expert"
            rec = f"REC {len(self.recorder):4d}" if self.recorder is not None else "idle    "
            x, y, z = self.env.scene_state().ee_position
            self.status(
                f"{rec} | driver {who:6s} | ee ({x:.2f}, {y:.2f}, {z:.2f}) | "
                f"gripper {'closed' if self.gripper else 'open  '} | success {self.info['success']}"
            )
            time.sleep(max(0.0, period - (time.perf_counter() - tick)))


def main(cfg) -> None:
    config: TeleopConfig = OmegaConf.to_object(cfg)
    if not os.isatty(sys.stdin.fileno()):
        raise OSError("bcz teleop reads keys from an interactive terminal, and stdin is not one")
    device = motion_device(config.device)
    keyboard = KeyboardTeleop()
    with keyboard:
        session = TeleopSession(config, keyboard, device)
        try:
            saved = session.run()
        finally:
            if device is not None:
                device.disconnect()
            session.env.close()
    print(f"\n{saved} episode(s) saved to {config.output}")
