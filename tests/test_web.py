"""The web page: message validation, the token rule, and the whole page in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time

import pytest

from deploy.loop import ControlLoop, LoopConfig
from deploy.session import RobotSession
from deploy.web.app import BadMessage, check_binding, make_app, parse
from policy.rollouts import env_config_for
from robot.safety import SafeRobot, SafetyConfig
from sim.robot import SimRobot, SimRobotConfig

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.parametrize(
    "raw,error",
    [
        ("x" * 3000, "too large"),
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": "dance"}', "unknown message type 'dance'"),
        ('{"type": "instruction", "text": "   "}', "non-empty"),
        ('{"type": "instruction", "text": 5}', "non-empty"),
        (json.dumps({"type": "instruction", "text": "a" * 301}), "too long"),
        ('{"type": "takeover", "on": "yes"}', "true or false"),
        ('{"type": "teleop", "motion": [0, 0, 9, 0, 0, 0]}', "six numbers in [-1, 1]"),
        ('{"type": "teleop", "motion": [0, 0, NaN, 0, 0, 0]}', "six numbers"),
        ('{"type": "teleop", "motion": [0, 0, 0, 0, 0, 0], "gripper": 0.5}', "0 (open) or 1"),
    ],
)
def test_malformed_messages_are_named(raw, error):
    with pytest.raises(
        BadMessage,
        match=error.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)"),
    ):
        parse(raw)


def test_valid_messages_pass():
    assert (
        parse('{"type": "instruction", "text": "pick up the red block"}')["text"] == "pick up the red block"
    )
    assert parse('{"type": "teleop", "motion": [0, 0.5, -1, 0, 0, 0], "gripper": 1}')["gripper"] == 1


def test_listening_beyond_loopback_needs_a_token():
    check_binding("127.0.0.1", None)
    check_binding("localhost", None)
    with pytest.raises(ValueError, match="web_token"):
        check_binding("0.0.0.0", None)
    check_binding("0.0.0.0", "s3cret")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tiny_checkpoint):
    import uvicorn

    from policy.policy import Policy

    policy = Policy.from_pretrained(tiny_checkpoint)
    sim = SimRobot(SimRobotConfig(env=env_config_for(policy), task="pick_up/red_block", seed=0, gui="false"))
    robot = SafeRobot(sim, SafetyConfig(watchdog_timeout=2.0), control_hz=10)
    robot.connect()
    loop = ControlLoop(robot, policy, LoopConfig(control_hz=10))
    session = RobotSession(robot, loop, view_hz=2)
    loop.start()
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(make_app(session, token="tok"), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", session
    uv.should_exit = True
    thread.join(timeout=5)
    loop.stop()
    robot.disconnect()


def test_page_and_socket_need_the_token(server):
    import urllib.error
    import urllib.request

    url, _ = server
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url + "/")
    assert err.value.code == 403
    assert b"EMERGENCY STOP" in urllib.request.urlopen(url + "/?token=tok").read()


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (installed by .ci/run)")
def test_browser_instruction_moves_the_robot_and_estop_halts_it(server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, session = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.goto(url + "/?token=tok")
        page.wait_for_function("document.getElementById('state').textContent === 'idle'", timeout=20000)
        start = list(session.status()["ee"])

        page.fill("#instruction", "pick up the red block")
        page.click("#send")
        page.wait_for_function(
            "document.getElementById('current').textContent === 'pick up the red block'", timeout=10000
        )
        assert session.loop.instruction == "pick up the red block"  # the typed text reached the policy
        deadline = time.time() + 15
        while (
            time.time() < deadline
            and session.loop.planner.latencies.maxlen
            and not session.loop.planner.latencies
        ):
            time.sleep(0.1)
        assert session.loop.planner.latencies, "the policy never ran"
        time.sleep(2.0)
        moved = session.status()["ee"]
        assert max(abs(a - b) for a, b in zip(moved, start, strict=True)) > 0.005, "the robot did not move"

        page.click("#estop")
        page.wait_for_function(
            "document.getElementById('state').textContent.startsWith('estop')", timeout=10000
        )
        time.sleep(0.5)
        held = session.status()["ee"]
        time.sleep(1.5)
        assert max(abs(a - b) for a, b in zip(session.status()["ee"], held, strict=True)) < 0.002, (
            "e-stop did not halt"
        )

        page.evaluate(
            "() => { const ws = new WebSocket(location.href.replace('http', 'ws').replace('/?', '/ws?'));"
            "ws.onopen = () => ws.send('{broken'); window._reply = null;"
            "ws.onmessage = (e) => { if (JSON.parse(e.data).type === 'error') window._reply = e.data; }; }"
        )
        page.wait_for_function("window._reply !== null", timeout=10000)
        assert "not JSON" in page.evaluate("window._reply")
        assert session.status()["state"] == "estop"  # the malformed message changed nothing
        page.screenshot(path=str(tmp_path / "page.png"))
        shutil.copy(tmp_path / "page.png", "/tmp/bcz_web_page.png")
        browser.close()
