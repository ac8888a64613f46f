"""Bad input to a running robot, from the socket and from the terminal: refused in one line, never moved on.

Each class of bad text goes to a robot standing still (no instruction); the refusal must reach the
sender, and afterwards the loop must have no instruction and the hand be where it was.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import time

import numpy as np
import pytest
from rich.console import Console

from deploy.reading import InstructionReading
from deploy.run import prompt
from policy.policy import Policy
from tasks.instruction_text import PrintableLogs
from tests.test_web import serving

BAD = {  # class -> (text, what the one-line refusal says)
    "NUL and a lone surrogate": ("\x00\ud800", "a control character, U+0000"),
    "lone surrogate": ("pick up the red block \ud800", "a lone surrogate"),
    "escape sequence": ("pick up \x1b[31mthe red block", "a control character, U+001B"),
    "bidirectional override": ("put the red block\u202e in the bowl", "a format character, U+202E"),
    "empty": ("   ", "empty instruction"),
    "over-long": ("put the red block in the green bowl " * 10, "too long (359 characters; at most 300)"),
    "nothing it was taught": ("hello there", "it is nothing I was taught to do. I know: block (red"),
    "an action it has no skill for": ("paint the red block blue", "it is nothing I was taught to do"),
    "a question": ("where is the red block?", "it is a question, not something to do"),
}


@pytest.fixture(scope="module")
def reading(tiny_checkpoint, suite) -> InstructionReading:
    return InstructionReading(Policy.from_pretrained(tiny_checkpoint), suite)


@pytest.fixture(scope="module")
def robot(tiny_checkpoint, reading):
    """One robot behind the page for the module: bad input leaves it as it was (the tests check that)."""
    with serving(tiny_checkpoint) as (url, session):
        session.reading = reading
        wait_until(lambda: session.loop.last_observation is not None)
        yield url, session


@pytest.fixture
def served(robot):
    url, session = robot
    yield url, session
    if session.loop.instruction is not None:  # a test that insisted: still again for the next one
        session.stop()
        time.sleep(0.3)


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def hand(session) -> np.ndarray:
    return np.asarray(session.loop.last_observation["state"][:3]).copy()


def assert_not_moved(session, before: np.ndarray) -> None:
    time.sleep(0.5)  # five ticks at 10 Hz
    assert session.loop.instruction is None and session.status()["state"] == "idle"
    np.testing.assert_allclose(hand(session), before, atol=1e-3)


@pytest.mark.parametrize("kind", list(BAD))
def test_the_socket_refuses_bad_text_and_the_robot_stays(served, kind):
    from websockets.sync.client import connect

    url, session = served
    text, refusal = BAD[kind]
    before = hand(session)
    with connect(url.replace("http", "ws") + "/ws?token=tok") as ws:
        ws.send(json.dumps({"type": "instruction", "text": text}))
        deadline = time.time() + 10
        while (msg := json.loads(ws.recv(timeout=10)))["type"] != "error":
            assert time.time() < deadline
    assert refusal in msg["message"] and "\n" not in msg["message"]
    assert_not_moved(session, before)


def test_the_socket_refuses_a_huge_message_and_force_starts_nonsense(served):
    from websockets.sync.client import connect

    url, session = served
    before = hand(session)
    with connect(url.replace("http", "ws") + "/ws?token=tok") as ws:
        ws.send(json.dumps({"type": "instruction", "text": "a" * 100_000}))
        while (msg := json.loads(ws.recv(timeout=10)))["type"] != "error":
            pass
        assert "too large" in msg["message"]
        assert_not_moved(session, before)
        ws.send(json.dumps({"type": "instruction", "text": "hello there", "force": True}))  # insisted on
        wait_until(lambda: session.loop.instruction == "hello there")


@pytest.mark.parametrize("kind", list(BAD))
def test_the_terminal_refuses_bad_text_and_the_robot_stays(served, kind, monkeypatch, capsys):
    _, session = served
    text, refusal = BAD[kind]
    raw = text.encode("utf-8", "surrogatepass")  # what a terminal sends; the surrogate as invalid UTF-8
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw + b"\nstatus\n"), encoding="utf-8"))
    before = hand(session)
    worker = threading.Thread(target=prompt, args=(session, Console(), threading.Event()))
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive()
    out = capsys.readouterr().out
    if kind != "empty":  # an empty line is skipped: nothing to refuse
        assert refusal in out
    assert "Traceback" not in out and "live figures" in out  # the prompt went on to the next line
    assert_not_moved(session, before)


def test_the_terminal_refuses_bytes_that_are_not_utf8_and_forces_on_request(served, monkeypatch, capsys):
    _, session = served
    lines = b"pick up the \xff\xfe block\nforce hello there\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines), encoding="utf-8"))
    prompt(session, Console(), threading.Event())
    assert "a lone surrogate (not valid Unicode), U+DCFF" in capsys.readouterr().out
    assert session.loop.instruction == "hello there"  # insisted on with the force prefix


def test_logging_someones_text_never_raises(capsys):
    """A strict UTF-8 stream, as a terminal's: the surrogate and the escape are written as escapes."""
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    handler = logging.StreamHandler(stream)
    handler.addFilter(PrintableLogs())
    log = logging.getLogger("bcz.test.printable")
    log.addHandler(handler)
    try:
        log.warning("refused %s from %s", "\x00\ud800\x1b[2J", "web")
    finally:
        log.removeHandler(handler)
    assert stream.buffer.getvalue().decode() == "refused \\x00\\ud800\\x1b[2J from web\n"
    assert "Traceback" not in capsys.readouterr().err


def test_an_episode_file_with_bad_text_is_refused_by_line(tmp_path, suite):
    from evaluation.evaluate import read_episode_file

    path = tmp_path / "episodes.jsonl"
    lines = [
        {"task": "pick_up/red_block", "instruction": "lift the red block"},
        {"task": "pick_up/red_block", "instruction": "lift the red block\u0007"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    with pytest.raises(ValueError, match=r"episodes.jsonl:2: instruction refused: .* U\+0007"):
        read_episode_file(str(path), suite, 0, 1)
    path.write_text(json.dumps(lines[0]) + "\n")
    assert [j.instruction for j in read_episode_file(str(path), suite, 0, 1)] == ["lift the red block"]
