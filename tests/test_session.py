"""The robot session as the terminal and the page see it: a scene for the instruction, live events."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import time
from pathlib import Path

import pybullet as p
import pytest

from deploy.loop import ControlLoop, LoopConfig
from deploy.session import RobotSession
from deploy.terminal import PromptConsole, prompt_logging
from evaluation.rollouts import env_config_for
from robot.safety import SafeRobot, SafetyConfig
from sim.sim_robot import SimRobot, SimRobotConfig, return_freed_memory
from tests.test_loop import tiny_policy


@pytest.fixture
def session():
    policy = tiny_policy()
    sim = SimRobot(SimRobotConfig(env=env_config_for(policy), task="pick_up/red_block", seed=0, gui="false"))
    robot = SafeRobot(sim, SafetyConfig(watchdog_timeout=2.0), control_hz=10)
    robot.connect()
    loop = ControlLoop(robot, policy, LoopConfig(control_hz=10))
    session = RobotSession(robot, loop, view_hz=0)
    loop.start()
    yield session
    loop.stop()
    robot.disconnect()


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def said(session: RobotSession, text: str) -> bool:
    return any(text in e for e in session.events)


def test_an_instruction_gets_a_scene_that_holds_what_it_names(session):
    sim = session.sim
    colour = next(
        c for c in ("purple", "orange", "yellow", "green", "blue") if f"{c}_block" not in sim.objects
    )
    text = f"please lift the {colour} cube"  # no phrasing of the suite: the closest task decides
    session.instruct(text, relayout=True)
    wait_for(lambda: f"{colour}_block" in sim.objects)
    wait_for(lambda: said(session, f"checking success as pick_up/{colour}_block"))
    assert said(session, "new scene for it") and said(session, "instruction from terminal: " + text)

    seed = sim.seed
    session.reset()  # a new scene for the same instruction
    wait_for(lambda: sim.seed > seed and said(session, "new scene for: " + text))
    assert session.loop.instruction == text and f"{colour}_block" in sim.objects

    session.instruct("wave hello")  # names no object: the scene stays, nothing to check
    wait_for(lambda: said(session, "names no object of the suite"))
    assert f"{colour}_block" in sim.objects and session.success is None


def test_done_and_still_trying_are_said_once(session):
    session.patience_s = 0.5
    session.instruct("put the red block in the green bowl", relayout=True)
    wait_for(lambda: said(session, "no success after"))
    assert session.success is False and "green_bowl" in session.sim.objects

    def drop_block_in_bowl() -> None:  # on the loop's thread, like every touch of the simulator
        env = session.sim.env
        block, bowl = env.scene.bodies["red_block"], env.scene.bodies["green_bowl"]
        (x, y, z), _ = p.getBasePositionAndOrientation(bowl, physicsClientId=env.client)
        p.resetBasePositionAndOrientation(block, [x, y, z + 0.06], [0, 0, 0, 1], physicsClientId=env.client)

    def lift_block_out() -> None:
        env = session.sim.env
        p.resetBasePositionAndOrientation(
            env.scene.bodies["red_block"], [0.3, -0.3, 0.03], [0, 0, 0, 1], physicsClientId=env.client
        )

    session.loop.request(drop_block_in_bowl)
    wait_for(lambda: said(session, "done in"))
    assert said(session, "holding until the next instruction") and session.status()["state"] == "done"
    time.sleep(0.3)  # the action already sent, and the observation after it
    ee = session.status()["ee"]
    time.sleep(0.5)  # held: the policy no longer moves the arm
    assert session.status()["ee"] == pytest.approx(ee, abs=1e-3)
    session.loop.request(lift_block_out)  # success flickers off and on again: said once all the same
    wait_for(lambda: session.success is False)
    session.loop.request(drop_block_in_bowl)
    wait_for(lambda: session.success is True)
    time.sleep(0.5)
    assert sum("done in" in e for e in session.events) == 1
    assert sum("no success after" in e for e in session.events) == 1
    assert session.status()["source"] == "terminal" and session.status()["success"] is True

    session.takeover(True)  # the operator's turn, then the policy's: the task is judged afresh,
    session.takeover(False)  # still done, so it holds again
    wait_for(lambda: sum("done in" in e for e in session.events) == 2)
    assert session.status()["state"] == "done"

    session.instruct("pick up the red block")  # told anew: it acts again
    wait_for(lambda: session.status()["state"] == "running")
    wait_for(lambda: max(abs(a - b) for a, b in zip(session.status()["ee"], ee, strict=True)) > 0.01)


class FakeTty:
    """A terminal's output stream (the one thing a test cannot have): records what was written."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def test_log_lines_are_printed_above_the_prompt_once():
    tty = FakeTty()
    console = PromptConsole(tty)
    console._reading = True  # as while input() waits
    with prompt_logging(console):
        logging.getLogger("deploy.session").info("done in 4.2 s: pick up the red block")
    assert tty.text.count("done in 4.2 s") == 1
    assert tty.text.startswith("\r\x1b[K")  # the prompt line is cleared first
    assert tty.text.endswith("bcz> ")  # and drawn again below the message
    logging.getLogger("deploy.session").info("after the prompt closed")
    assert "after the prompt closed" not in tty.text


def _resident_anon_mb() -> float:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(status["RssAnon"].split()[0]) / 1024


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc_trim and /proc are Linux's")
def test_a_new_scene_gives_freed_heap_back():
    """What a scene frees in the middle of the heap stays resident until `return_freed_memory`."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(4096) for _ in range(8000)]  # 32 MB of small blocks, each touched
    for block in blocks:
        ctypes.memset(block, 1, 4096)
    for block in blocks[:-1]:  # the last one stays: the heap's top cannot shrink past it by itself
        libc.free(block)
    before = _resident_anon_mb()
    return_freed_memory()
    after = _resident_anon_mb()
    libc.free(blocks[-1])
    assert before - after > 20, (before, after)


def test_a_robot_that_forgets_the_meshes_it_parsed_lays_out_the_same_scenes(monkeypatch):
    """Every few scenes the simulated robot empties PyBullet's cache of parsed meshes (a long run would
    otherwise keep every one of the clutter's 1000): the scenes after it are the ones it would have
    laid out anyway, pixel for pixel."""
    import sim.sim_robot as sim_robot

    def scenes(every: int) -> list[dict]:
        monkeypatch.setattr(sim_robot, "MESH_CACHE_SCENES", every)
        sim = SimRobot(SimRobotConfig(env=env_config_for(tiny_policy()), seed=3, gui="false"))
        sim.connect()
        shown = []
        for _ in range(5):
            sim.reset()
            shown.append(sim.get_observation())
        sim.disconnect()
        return shown

    forgetting, keeping = scenes(every=2), scenes(every=10**9)
    for a, b in zip(forgetting, keeping, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert (a[key] == b[key]).all(), key
