"""FastAPI app: the page, and one WebSocket carrying status and frames out, commands in.

Listens on 127.0.0.1 unless told otherwise; any other address requires a token, which the page and
the socket must present (?token=...). Every incoming message is validated (size, JSON object, known
type, field types and ranges); a malformed one is answered with {"type": "error"} and changes nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import secrets
from importlib import resources

from fastapi import FastAPI, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, PlainTextResponse

from deploy.session import RobotSession

MAX_MESSAGE = 2048  # bytes
MAX_INSTRUCTION = 300  # characters


class BadMessage(ValueError):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise ValueError(
            f"listening on {host} exposes the robot beyond this machine: set web_token=... "
            "(clients then open the page with ?token=...), or keep host=127.0.0.1"
        )


def parse(raw: str) -> dict:
    """A validated command, or BadMessage saying what is wrong."""
    if len(raw.encode()) > MAX_MESSAGE:
        raise BadMessage(f"message too large ({len(raw.encode())} bytes; at most {MAX_MESSAGE})")
    try:
        msg = json.loads(raw)
    except json.JSONDecodeError as e:
        raise BadMessage(f"not JSON: {e.msg}") from e
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise BadMessage('expected a JSON object with a "type"')
    kind = msg["type"]
    if kind == "instruction":
        text = msg.get("text")
        if not isinstance(text, str) or not text.strip():
            raise BadMessage('"instruction" needs a non-empty "text"')
        if len(text) > MAX_INSTRUCTION:
            raise BadMessage(f"instruction too long ({len(text)} characters; at most {MAX_INSTRUCTION})")
    elif kind == "takeover":
        if not isinstance(msg.get("on"), bool):
            raise BadMessage('"takeover" needs "on": true or false')
    elif kind == "teleop":
        motion = msg.get("motion")
        if not (
            isinstance(motion, list)
            and len(motion) == 6
            and all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and -1 <= v <= 1
                for v in motion
            )
        ):
            raise BadMessage('"teleop" needs "motion": six numbers in [-1, 1]')
        if msg.get("gripper") is not None and msg["gripper"] not in (0, 1):
            raise BadMessage('"gripper" must be 0 (open) or 1 (closed)')
    elif kind not in ("estop", "release", "reset", "stop"):
        raise BadMessage(
            f"unknown message type {kind!r}; valid: instruction, estop, release, reset, stop, "
            "takeover, teleop"
        )
    return msg


def make_app(session: RobotSession, token: str | None = None, status_hz: float = 10.0) -> FastAPI:
    app = FastAPI(title="bcz robot", docs_url=None, redoc_url=None)
    page = resources.files("deploy.web").joinpath("index.html").read_text()

    def allowed(given: str | None) -> bool:
        return token is None or (given is not None and secrets.compare_digest(given, token))

    @app.get("/", response_class=HTMLResponse)
    def index(token: str | None = Query(default=None)):
        if not allowed(token):
            return PlainTextResponse("forbidden: open the page with ?token=<web_token>", status_code=403)
        return HTMLResponse(page)

    @app.websocket("/ws")
    async def socket(ws: WebSocket, token: str | None = Query(default=None)):
        if not allowed(token):
            await ws.close(code=1008)
            return
        await ws.accept()
        sender = asyncio.create_task(_push(ws, session, status_hz))
        try:
            while True:
                raw = await ws.receive_text()
                try:
                    msg = parse(raw)
                    _apply(session, msg)
                except (BadMessage, ValueError) as e:
                    await ws.send_text(json.dumps({"type": "error", "message": str(e)}))
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()

    return app


def _apply(session: RobotSession, msg: dict) -> None:
    kind = msg["type"]
    if kind == "instruction":
        session.instruct(msg["text"])
    elif kind == "estop":
        session.estop()
    elif kind == "release":
        session.release()
    elif kind == "reset":
        session.reset()
    elif kind == "stop":
        session.stop()
    elif kind == "takeover":
        session.takeover(msg["on"])
    elif kind == "teleop":
        session.teleop(msg["motion"], msg.get("gripper"))


async def _push(ws: WebSocket, session: RobotSession, hz: float) -> None:
    version = -1
    try:
        while True:
            await ws.send_text(json.dumps(session.status()))
            if session.frame_version != version:
                version = session.frame_version
                await ws.send_text(json.dumps({"type": "frames", "frames": session.frames}))
            await asyncio.sleep(1.0 / hz)
    except (WebSocketDisconnect, RuntimeError):
        return
