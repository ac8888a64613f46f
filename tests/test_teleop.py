"""Teleoperation: the devices' input parsing, and whole `bcz teleop` sessions driven through a pty."""

from __future__ import annotations

import os
import pty
import select
import struct
import subprocess
import sys
import time

import numpy as np

from data_collection.dataset import DatasetReader
from data_collection.teleop.gamepad import GamepadTeleop
from data_collection.teleop.keyboard import KeyboardTeleop
from data_collection.teleop.spacemouse import SpaceMouseTeleop
from data_collection.teleop.teleoperator import Event

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_keyboard_keys_become_motion_and_events():
    read, write = os.pipe()
    keys = KeyboardTeleop(fd=read, step=0.01, turn=0.05)
    keys.connect()  # a pipe is no terminal: nothing to switch
    os.write(write, b"wwd r\x1b[Cq\rtx")
    got = keys.poll()
    np.testing.assert_allclose(got.motion, [-0.02, 0.02, 0.01, 0, 0, 0.05], atol=1e-7)
    assert got.gripper_toggle
    assert got.events == [Event.START_OR_SAVE, Event.TAKE_OVER, Event.DISCARD]
    assert not keys.poll().moving  # nothing new
    os.write(write, b"\x1b")
    assert keys.poll().events == [Event.QUIT]


class FakePad:
    """A gamepad at the hardware boundary (SDL would report these values)."""

    def __init__(self):
        self.axes, self.buttons = [0.0] * 6, [False] * 8

    def get_axis(self, i):
        return self.axes[i]

    def get_button(self, i):
        return self.buttons[i]

    def get_numbuttons(self):
        return len(self.buttons)


def test_gamepad_sticks_and_button_presses():
    pad = FakePad()
    teleop = GamepadTeleop(speed=0.03, device=pad)
    pad.axes[0], pad.axes[1], pad.axes[4] = 1.0, -0.05, -1.0  # right, (deadzone), up
    pad.buttons[0] = pad.buttons[7] = True
    got = teleop.poll()
    np.testing.assert_allclose(got.motion[:3], [0, 0.03, 0.03], atol=1e-7)
    assert got.gripper_toggle and got.events == [Event.START_OR_SAVE]
    again = teleop.poll()  # buttons still held: no new press
    assert not again.gripper_toggle and not again.events


class FakeHid:
    """A SpaceMouse at the HID boundary: queued raw reports."""

    def __init__(self, reports):
        self.reports = list(reports)

    def read(self, n):
        return self.reports.pop(0) if self.reports else []


def test_spacemouse_reports_become_motion():
    reports = [
        b"\x01" + struct.pack("<3h", 350, -350, 0),
        b"\x02" + struct.pack("<3h", 0, 0, 175),
        b"\x03\x01",
    ]
    got = SpaceMouseTeleop(speed=0.03, turn=0.15, device=FakeHid(reports)).poll()
    np.testing.assert_allclose(got.motion, [-0.03, 0.03, 0, 0, 0, -0.075], atol=1e-6)
    assert got.gripper_toggle


def drive(args: list[str], script: list, timeout: float = 120) -> tuple[int, str]:
    """Run `bcz` under a pseudo-terminal; str items are typed, numbers are pauses in seconds."""
    master, slave = pty.openpty()
    env = {**os.environ, "DISPLAY": "", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    out = b""

    def read_for(seconds: float) -> None:
        nonlocal out
        end = time.time() + seconds
        while time.time() < end:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    return

    def wait_for(text: str, seconds: float = 60) -> None:
        end = time.time() + seconds
        while text not in out.decode(errors="ignore") and time.time() < end:
            read_for(0.1)

    for item in script:
        if isinstance(item, tuple):
            wait_for(item[1])
        elif isinstance(item, str):
            os.write(master, item.encode())
        else:
            read_for(item)
    read_for(2)
    proc.wait(timeout=timeout)
    read_for(0.5)
    os.close(master)
    return proc.returncode, out.decode(errors="ignore")


def test_teleop_session_records_what_the_operator_does(tmp_path):
    out_dir = tmp_path / "demos"
    moves = ["w", 0.05] * 8 + ["f", 0.05] * 8 + [" ", 0.5]
    code, out = drive(
        [
            "teleop",
            f"output={out_dir}",
            "task=pick_up/red_block",
            "seed=0",
            "gui=false",
            f"hydra.run.dir={tmp_path}",
        ],
        [
            ("wait", "Enter to start"),
            "\r",
            ("wait", "instruction ["),
            "grab the red cube\r",
            ("wait", "recording"),
            *moves,
            "\r",
            ("wait", "saved episode 0"),
            "\x1b",
        ],
    )
    assert code == 0, out[-2000:]
    r = DatasetReader(out_dir)
    assert r.num_episodes == 1
    info = r.info_of(0)
    assert info["instruction"] == "grab the red cube" and info["source"] == "teleop"
    actions = r.frames(0)["action"]
    assert (actions[:, 0] < -0.005).sum() >= 4 and (
        actions[:, 2] < -0.005
    ).sum() >= 4  # away from camera, down
    assert actions[-1, 6] == 1.0  # the gripper was closed with space
    assert not r.frames(0)["intervention"].any()


def test_intervention_mode_marks_the_taken_over_frames(tmp_path):
    out_dir = tmp_path / "dagger"
    code, out = drive(
        [
            "teleop",
            f"output={out_dir}",
            "task=put_in/red_block/green_bowl",
            "seed=3",
            "driver=expert",
            "gui=false",
            f"hydra.run.dir={tmp_path}",
        ],
        [
            ("wait", "Enter to start"),
            "\r",
            ("wait", "instruction ["),
            "\r",
            ("wait", "recording"),
            1.0,
            "t",
            ("wait", "you are driving"),
            *(["r", 0.1] * 8),
            "t",
            ("wait", "handed back"),
            ("wait", "success True"),
            "\r",
            ("wait", "saved episode 0"),
            "\x1b",
        ],
    )
    assert code == 0, out[-2000:]
    r = DatasetReader(out_dir)
    flags = r.frames(0)["intervention"]
    assert r.info_of(0)["source"] == "policy" and r.info_of(0)["success"]
    taken = np.flatnonzero(flags)
    assert len(taken) >= 5 and flags[0] == 0 and flags[-1] == 0
    assert np.array_equal(taken, np.arange(taken[0], taken[-1] + 1))  # one contiguous takeover
    assert (r.frames(0)["action"][taken, 2] > 0.005).sum() >= 3  # the operator lifted the arm
