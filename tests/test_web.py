"""The web page: message validation, the token rule, and the whole page in headless Chromium."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import threading
import time

import pytest

from deploy.loop import ControlLoop, LoopConfig
from deploy.session import RobotSession
from deploy.web.access import WebAccess, check_port_free, web_access
from deploy.web.app import BadMessage, make_app, parse
from evaluation.rollouts import env_config_for
from robot.safety import SafeRobot, SafetyConfig
from sim.sim_robot import SimRobot, SimRobotConfig

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.parametrize(
    "raw,error",
    [
        ("x" * 3000, "too large"),
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": "dance"}', "unknown message type 'dance'"),
        ('{"type": "instruction", "text": "   "}', "empty instruction"),
        ('{"type": "instruction", "text": 5}', 'needs a "text"'),
        (json.dumps({"type": "instruction", "text": "a" * 301}), "too long"),
        (json.dumps({"type": "instruction", "text": "a" * 100_000}), "too large"),
        ('{"type": "instruction", "text": "\\u0000\\ud800"}', "control character, U+0000"),
        ('{"type": "instruction", "text": "pick up \\ud800"}', "lone surrogate"),
        ('{"type": "instruction", "text": "pick up", "force": 1}', '"force" must be true or false'),
        ('{"type": "takeover", "on": "yes"}', "true or false"),
        ('{"type": "teleop", "motion": [0, 0, 9, 0, 0, 0]}', "six numbers in [-1, 1]"),
        ('{"type": "teleop", "motion": [0, 0, NaN, 0, 0, 0]}', "six numbers"),
        ('{"type": "teleop", "motion": [0, 0, 0, 0, 0, 0], "gripper": 0.5}', "0 (open) or 1"),
    ],
)
def test_malformed_messages_are_named(raw, error):
    with pytest.raises(BadMessage, match=re.escape(error)):
        parse(raw)


def test_valid_messages_pass():
    assert (
        parse('{"type": "instruction", "text": "pick up the red block"}')["text"] == "pick up the red block"
    )
    assert parse('{"type": "teleop", "motion": [0, 0.5, -1, 0, 0, 0], "gripper": 1}')["gripper"] == 1


def test_access_rule_token_hosts_and_origins():
    local = web_access("127.0.0.1", "auto", [], [])
    assert (
        local.token
        and len(local.token) >= 16
        and local.token != web_access("127.0.0.1", "auto", [], []).token
    )
    assert web_access("127.0.0.1", "off", [], []).token is None
    assert web_access("127.0.0.1", "s3cret", [], []).token_ok("s3cret")
    assert not local.token_ok(None) and not local.token_ok("guess")
    with pytest.raises(ValueError, match=r"web_token=off on host=192\.168\.1\.5"):
        web_access("192.168.1.5", "off", [], [])
    with pytest.raises(ValueError, match="web_hosts"):
        web_access("0.0.0.0", "auto", [], [])
    assert web_access("0.0.0.0", "auto", ["robot.lab"], []).host_ok("robot.lab:8000")
    assert local.host_ok("127.0.0.1:8000") and local.host_ok("localhost:8000") and local.host_ok("[::1]:8000")
    assert not local.host_ok("evil.example:8000") and not local.host_ok(None)  # DNS rebinding
    assert local.origin_ok("http://127.0.0.1:8000", "127.0.0.1:8000")  # the page's own origin
    assert local.origin_ok(None, "127.0.0.1:8000")  # not a browser: the token decides
    for foreign in ("http://evil.example", "http://127.0.0.1:9000", "null", "file://"):
        assert not local.origin_ok(foreign, "127.0.0.1:8000"), foreign
    allowed = WebAccess("t", origins={"http://dashboard.lab:3000"})
    assert allowed.origin_ok("http://dashboard.lab:3000", "127.0.0.1:8000")


def test_a_port_in_use_is_named():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(OSError, match=rf"port {port} on 127\.0\.0\.1 is already in use.*port={port + 1}"):
            check_port_free("127.0.0.1", port)
    check_port_free("127.0.0.1", port)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(checkpoint: str, record: str | None = None):
    """The robot (sim) on a policy behind the page, on a free loopback port, token "tok"."""
    import uvicorn

    from policy.policy import Policy

    policy = Policy.from_pretrained(checkpoint)
    sim = SimRobot(SimRobotConfig(env=env_config_for(policy), task="pick_up/red_block", seed=0, gui="false"))
    robot = SafeRobot(sim, SafetyConfig(watchdog_timeout=2.0), control_hz=10)
    robot.connect()
    loop = ControlLoop(robot, policy, LoopConfig(control_hz=10))
    session = RobotSession(robot, loop, view_hz=2, record=record)
    loop.start()
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(make_app(session, WebAccess("tok")), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", session
    finally:
        uv.should_exit = True
        thread.join(timeout=5)
        loop.stop()
        session.close()
        robot.disconnect()


@pytest.fixture
def server(tiny_checkpoint):
    with serving(tiny_checkpoint) as served:
        yield served


def launch(pw):
    return pw.chromium.launch(
        executable_path=CHROMIUM,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


def test_page_and_socket_need_the_token(server):
    import urllib.error
    import urllib.request

    url, _ = server
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url + "/")
    assert err.value.code == 403
    assert b"EMERGENCY STOP" in urllib.request.urlopen(url + "/?token=tok").read()
    rebound = urllib.request.Request(url + "/?token=tok", headers={"Host": "evil.example"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(rebound)  # DNS rebinding: the right token, a foreign Host
    assert err.value.code == 403


ATTACKER_PAGE = """<!doctype html><script>
window.result = "pending";
const ws = new WebSocket("ws://127.0.0.1:%d/ws?token=tok");
ws.onopen = () => { ws.send(JSON.stringify({type: "instruction", text: "knock everything over"}));
                    window.result = "open"; };
ws.onclose = () => { if (window.result === "pending") window.result = "refused"; };
</script>"""


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (installed by .ci/run)")
def test_a_page_from_another_origin_cannot_drive_the_robot(server):
    """Cross-site WebSocket hijacking: even knowing the token, a foreign page's socket is refused."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import sync_playwright

    url, session = server
    page_html = (ATTACKER_PAGE % int(url.rsplit(":", 1)[1])).encode()

    class Attacker(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page_html)

        def log_message(self, *args):
            pass

    evil = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    session.instruct("pick up the red block")
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_page()
            page.goto(f"http://localhost:{evil.server_address[1]}/")
            page.wait_for_function("window.result !== 'pending'", timeout=10000)
            assert page.evaluate("window.result") == "refused"
            browser.close()
    finally:
        evil.shutdown()
    time.sleep(0.3)
    assert session.loop.instruction == "pick up the red block"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (installed by .ci/run)")
def test_browser_instruction_moves_the_robot_and_estop_halts_it(server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, session = server
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        page.goto(url + "/?token=tok")
        page.wait_for_function("document.getElementById('state').textContent === 'idle'", timeout=20000)
        start = list(session.status()["ee"])

        page.fill("#instruction", "pick up the red block " * 14)  # refused: the page shows why
        page.click("#send")
        page.wait_for_function(
            "document.getElementById('error').textContent.startsWith('instruction too long')", timeout=10000
        )
        assert session.loop.instruction is None

        page.fill("#instruction", "pick up the red block")
        page.check("#force")  # insisting holds for this one instruction only
        page.click("#send")
        page.wait_for_function(
            "document.getElementById('current').textContent === 'pick up the red block'", timeout=10000
        )
        assert not page.is_checked("#force")
        assert session.loop.instruction == "pick up the red block"  # the typed text reached the policy
        page.wait_for_function("document.getElementById('source').textContent.includes('web 127.0.0.1')")
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


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (installed by .ci/run)")
def test_teleop_from_the_page_drives_the_arm_and_records_interventions(tiny_checkpoint, tmp_path):
    """Headless teleoperation: `bcz run web=true record=PATH`, take over on the page, drive with keys."""
    from playwright.sync_api import sync_playwright

    from data_collection.dataset import DatasetReader

    with serving(tiny_checkpoint, record=str(tmp_path / "rec")) as (url, session), sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        page.goto(url + "/?token=tok")
        page.wait_for_function("document.getElementById('state').textContent === 'idle'", timeout=20000)
        page.fill("#instruction", "pick up the red block")
        page.click("#send")
        page.wait_for_function("document.getElementById('current').textContent === 'pick up the red block'")
        page.check("#takeover")
        page.wait_for_function("document.getElementById('state').textContent.includes('(operator)')")
        page.wait_for_function("document.getElementById('scene').src.startsWith('data:image')")  # it sees
        page.locator("body").click()  # focus off the instruction box: keys drive the arm
        z0 = session.status()["ee"][2]
        page.keyboard.down("r")  # up
        time.sleep(1.5)
        page.keyboard.up("r")
        time.sleep(0.3)
        assert session.status()["ee"][2] > z0 + 0.03, "the page's keys did not move the arm"
        page.click("#stop")  # ends the episode: it is written
        page.wait_for_function("document.getElementById('events').textContent.includes('recorded episode')")
        browser.close()
    reader = DatasetReader(tmp_path / "rec")
    assert reader.num_episodes == 1 and reader.frames(0)["intervention"].any()
