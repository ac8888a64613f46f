"""FastAPI app: the page, and one WebSocket carrying status and frames out, commands in.

Who may connect is `deploy.web.access` (token, served host names, the page's own origin). Every
incoming message is validated (size, JSON object, known type, field types and ranges); a malformed one
is answered with {"type": "error"} and changes nothing. Instructions are tagged with the client that
sent them, and the page shows it.
"""

from __future__ import annotations

import asyncio
import json
import math
from importlib import resources

from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, PlainTextResponse

from deploy.session import RobotSession
from deploy.web.access import WebAccess
from tasks.instruction_text import check_instruction

MAX_MESSAGE = 2048  # bytes


class BadMessage(ValueError):
    """A page message that is not a valid command; the page is told why, the robot is not touched."""

    pass


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
        if not isinstance(msg.get("text"), str):
            raise BadMessage('"instruction" needs a "text"')
        try:
            msg["text"] = check_instruction(msg["text"])
        except ValueError as e:  # what is wrong with it, and what is valid
            raise BadMessage(str(e)) from e
        if not isinstance(msg.get("force", False), bool):
            raise BadMessage('"force" must be true or false')
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


def make_app(session: RobotSession, access: WebAccess, status_hz: float = 10.0) -> FastAPI:
    """The page's FastAPI app: the page itself and a websocket of commands in, status and frames out, both
    behind `access`."""
    app = FastAPI(title="bcz robot", docs_url=None, redoc_url=None)
    page = resources.files("deploy.web").joinpath("index.html").read_text()

    @app.middleware("http")
    async def served_hosts_only(request: Request, call_next):
        if not access.host_ok(request.headers.get("host")):  # DNS rebinding
            return PlainTextResponse(
                f"forbidden: this robot is not served as {request.headers.get('host')!r}", status_code=403
            )
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def index(token: str | None = Query(default=None)):
        """The page, for a request with the right token."""
        if not access.token_ok(token):
            return PlainTextResponse(
                "forbidden: open the URL that bcz run printed (it holds ?token=...)", 403
            )
        return HTMLResponse(page)

    @app.websocket("/ws")
    async def socket(ws: WebSocket, token: str | None = Query(default=None)):
        host = ws.headers.get("host")
        if not (
            access.host_ok(host)
            and access.origin_ok(ws.headers.get("origin"), host)
            and access.token_ok(token)
        ):
            await ws.close(code=1008)  # policy violation; nothing of the robot is touched
            return
        await ws.accept()
        client = f"web {ws.client.host}:{ws.client.port}" if ws.client else "web"
        sender = asyncio.create_task(_push(ws, session, status_hz))
        try:
            while True:
                raw = await ws.receive_text()
                try:
                    msg = parse(raw)
                    if msg["type"] == "instruction":  # reading it runs the encoder: off the event loop
                        await asyncio.to_thread(_apply, session, msg, client)
                    else:
                        _apply(session, msg, client)
                except (BadMessage, ValueError) as e:
                    await ws.send_text(json.dumps({"type": "error", "message": str(e)}))
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()

    return app


def _apply(session: RobotSession, msg: dict, client: str) -> None:
    kind = msg["type"]
    if kind == "instruction":
        session.instruct(msg["text"], source=client, force=msg.get("force", False))
    elif kind in RobotSession.COMMANDS:
        session.command(kind)
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
