"""A soak of `bcz run`: the terminal and two page sockets at once, a seeded stream of good and bad input.

    python benchmarks/soak.py                   # 30 minutes, the shipped policy
    python benchmarks/soak.py --minutes 2       # a quick look

`bcz run web=true` runs on a pseudo-terminal (so its prompt is the real one, readline included) with
`loop.stats_window=600`: the live figures then cover the last minute at 10 Hz. Every 2-5 s (seeded) one
of the terminal and the two sockets sends something: an instruction of the suite or an unseen phrasing
of one (often while the last is still running: a switch mid-task), garbage (control characters, lone
surrogates, bytes that are not UTF-8 at the terminal), over-long text, nonsense ("hello", questions),
stop / reset / estop (then release), or takeover on (then off). Afterwards each input is judged from
what the sender heard and what the page's status showed before the next input:
- accepted or refused as it should be: an instruction is accepted when the session logs "instruction
  from <sender>: <text>", refused when its sender gets the one-line refusal;
- no motion on a refused one: the loop's instruction never becomes refused text, and a robot standing
  still (idle, done, e-stopped) when refused text arrives does not start acting within 2 s. The hand's
  drift meanwhile is reported apart: a hold that drifts (a hand pressed on the table, or pulled by the
  safety layer as it was before the workspace box stopped doing so) is the hold's fault, not the text's.
Per minute: the achieved control rate and p99 jitter (the loop's own figures over that minute), deadline
misses, and the process's resident memory. Prints both tables and writes them to --output-dir.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pty
import re
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
from instruction_gate import NO_OBJECT
from policy_ladder import BCZ
from process_memory import rss_mb
from rich.console import Console
from rich.table import Table
from unseen_phrasings import phrase

from tasks.suite import TaskSuite

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
QUESTIONS = ["where is the red block?", "what colour is the bowl?", "is the duck yellow?"]
GARBAGE = ["\x00\ud800", "pick up the red block\x1b[2J", "put the red block\u202e in the bowl", "\ud83d"]
REFUSALS = ("not started:", "instruction refused", "too long", "too large", "empty instruction")


class Terminal:
    """`bcz run` on a pseudo-terminal: lines typed in, its output kept with the time it arrived."""

    def __init__(self, cmd: list[str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.lines: list[tuple[float, str]] = []
        self._buffer = b""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._buffer += chunk
            *done, self._buffer = self._buffer.split(b"\n")
            now = time.time()
            self.lines += [(now, ANSI.sub("", d.decode("utf-8", "replace"))) for d in done]

    def type(self, data: bytes) -> None:
        os.write(self.master, data + b"\n")

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.time() + timeout
        while not any(text in line for _, line in self.lines):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(
                    f"bcz run never said {text!r}: " + " | ".join(x for _, x in self.lines[-8:])
                )
            time.sleep(0.2)


class Client:
    """A page socket: what it sends, and every status and error it hears, with times."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(url, max_size=2**24).__enter__()  # open for the whole soak
        self.name = f"web 127.0.0.1:{self.ws.socket.getsockname()[1]}"
        self.statuses: list[tuple[float, dict]] = []
        self.errors: list[tuple[float, str]] = []
        self.closed: str | None = None
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        try:
            while True:
                msg = json.loads(self.ws.recv())
                if msg["type"] == "status":
                    self.statuses.append((time.time(), msg))
                elif msg["type"] == "error":
                    self.errors.append((time.time(), msg["message"]))
        except Exception as e:  # the connection ended
            self.closed = repr(e)

    def send(self, msg: dict) -> None:
        self.ws.send(json.dumps(msg))


def draw(
    rng: np.random.Generator, suite: TaskSuite, via_terminal: bool, on_table: list[str]
) -> tuple[str, object, bool | None]:
    """One input: (kind, payload, expected accepted: True / False / None for commands); instructions
    name objects on the table when some task of the suite has them all."""
    kind = rng.choice(
        ["valid", "unseen", "garbage", "over-long", "nonsense", "command"], p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.15]
    )
    tasks = suite.tasks("train")
    tasks = [t for t in tasks if all(o.name in on_table for o in t.objects)] or tasks
    task = tasks[int(rng.integers(len(tasks)))]
    if kind == "valid":
        return kind, suite.instruction(task, rng), True
    if kind == "unseen":
        return kind, phrase(suite, task, "new templates", rng)[0], True
    if kind == "garbage":
        if via_terminal:
            return kind, b"pick up the \xff\xfe block", False
        return kind, GARBAGE[int(rng.integers(len(GARBAGE)))], False
    if kind == "over-long":
        return kind, "put the red block in the green bowl " * int(rng.integers(9, 80)), False
    if kind == "nonsense":
        options = NO_OBJECT + QUESTIONS
        return kind, options[int(rng.integers(len(options)))], False
    return kind, str(rng.choice(["stop", "reset", "estop", "takeover"])), None


def send(kind: str, payload: object, via: Terminal | Client, pending: list[str]) -> str | None:
    """Send one input; returns the instruction text it carries (None for commands)."""
    if kind == "command":
        if payload == "estop" or payload == "takeover":
            pending.append("release" if payload == "estop" else "takeover off")
        if payload == "takeover":
            if isinstance(via, Terminal):
                return None  # the terminal has no takeover: the page's checkbox is the only way
            via.send({"type": "takeover", "on": True})
        elif isinstance(via, Terminal):
            via.type(str(payload).encode())
        else:
            via.send({"type": payload})
        return None
    if isinstance(via, Terminal):
        via.type(payload if isinstance(payload, bytes) else str(payload).encode("utf-8", "surrogatepass"))
        return payload.decode("utf-8", "surrogateescape") if isinstance(payload, bytes) else str(payload)
    via.send({"type": "instruction", "text": payload})
    return str(payload)


def settle(pending: list[str], clients: list[Client], terminal: Terminal) -> None:
    """The release or takeover-off owed by an earlier estop or takeover."""
    for owed in pending:
        if owed == "release":
            terminal.type(b"release")
        else:
            clients[0].send({"type": "takeover", "on": False})
    pending.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def judge(record: dict, terminal: Terminal, clients: list[Client]) -> dict:
    """Whether an instruction was accepted or refused, and whether the robot moved on refused text."""
    t0, t1, text = record["sent"], record["until"], record["text"].strip()
    timeline = [(t, s) for t, s in clients[0].statuses if t0 <= t <= t1 + 0.5]
    said = {e[9:] for _, s in timeline for e in s["events"]}
    accepted = f"instruction from {record['source']}: {text}" in said
    if record["source"] == "terminal":
        refused = any(t0 <= t <= t1 and any(r in line for r in REFUSALS) for t, line in terminal.lines)
    else:
        sender = next(c for c in clients if c.name == record["source"])
        refused = any(t0 <= t <= t1 for t, _ in sender.errors)
    # a colour word that could be either of two colours is asked about, to everyone, and not started
    refused |= any(f"({text!r} not started:" in event for event in said)
    moved_on_it = any(s["instruction"] == text for _, s in timeline) and not accepted
    # a robot holding still (not driven by anyone) that starts acting within 2 s of refused text moved on
    # it; the hand's drift while it holds is the hold's, reported rather than judged
    still = record["state"] in ("idle", "done", "estop") and not record["takeover"]
    after = [s for t, s in timeline if t <= t0 + 2.0]
    drift_mm = 0.0
    if still and not accepted:
        moved_on_it |= any(s["state"] == "running" for s in after)
        ee = np.array([s["ee"] for s in after if s["ee"]]).reshape(-1, 3)
        if record["ee"] and len(ee):
            drift_mm = 1000 * float(np.linalg.norm(ee - record["ee"], axis=1).max())
    as_it_should = accepted if record["expected"] else refused and not accepted
    return {
        **record,
        "accepted": accepted,
        "refused": refused,
        "as_it_should": as_it_should,
        "moved": moved_on_it,
        "drift_mm": drift_mm,
    }


def drive(
    terminal: Terminal, clients: list[Client], end: float, seed: int, console: Console
) -> tuple[list[dict], list[dict]]:
    """Send the seeded stream of input until `end`; the instructions sent (with the robot's state when
    each was sent), and each minute's loop figures and memory."""
    rng, suite = np.random.default_rng(seed), TaskSuite.load()
    start = time.time()
    next_minute = start + 60
    records: list[dict] = []
    minutes: list[dict] = []
    pending: list[str] = []
    next_input = start + 1.0

    def sample_minute() -> None:
        figures = clients[0].statuses[-1][1]["figures"] if clients[0].statuses else {}
        minutes.append({"minute": len(minutes) + 1, "rss_mb": rss_mb(terminal.proc.pid), **figures})
        console.print(f"minute {len(minutes)}: {minutes[-1]}")

    while time.time() < end and terminal.proc.poll() is None:
        now = time.time()
        if now >= next_minute:
            sample_minute()
            next_minute += 60
        if now >= next_input:
            status = clients[0].statuses[-1][1] if clients[0].statuses else {}
            if records:
                records[-1]["until"] = now
            if pending:
                settle(pending, clients, terminal)
            else:
                via = [terminal, *clients][int(rng.integers(3))]
                kind, payload, expected = draw(rng, suite, via is terminal, status.get("objects", []))
                text = send(kind, payload, via, pending)
                if text is not None:
                    if kind in ("valid", "unseen") and status.get("state") == "running":
                        kind = "switch mid-task"
                    source = "terminal" if via is terminal else via.name
                    at_send = {k: status.get(k) for k in ("state", "takeover", "ee")}
                    records.append(
                        {"sent": now, "until": now + 5, "source": source, "kind": kind, "text": text}
                        | {"expected": expected, **at_send}
                    )
            next_input = now + float(rng.uniform(2, 5))
        time.sleep(0.05)
    if records:
        records[-1]["until"] = time.time()
    if terminal.proc.poll() is None and next_minute <= end + 1:  # the last minute ends with the soak
        sample_minute()
    return records, minutes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--output-dir", default="runs/soak")
    args = parser.parse_args()

    console, out = Console(), Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_hex(8)
    cmd = [*BCZ, "run", "web=true", f"port={port}", f"web_token={token}", "loop.stats_window=600"]
    terminal = Terminal([*cmd, f"checkpoint={args.checkpoint}"])
    terminal.wait_for("web page:", 300)
    terminal.wait_for("on the table:", 60)
    url = f"ws://127.0.0.1:{port}/ws?token={token}"
    clients = [Client(url), Client(url)]
    start = time.time()
    records, minutes = drive(terminal, clients, start + 60 * args.minutes, args.seed, console)
    alive = terminal.proc.poll() is None
    dropped = sum(c.closed is not None for c in clients)
    terminal.type(b"quit")
    try:
        code = terminal.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        terminal.proc.kill()
        code = "hung at quit"
    tracebacks = sum("Traceback" in line for _, line in terminal.lines)
    events = [line.strip() for _, line in terminal.lines if re.match(r"^\s+\d\d:\d\d:\d\d ", line)]
    judged = [judge(r, terminal, clients) for r in records]
    twice = len(events) - len(set(events))
    outcome = Outcome(judged, minutes, int(not alive) + tracebacks, code, dropped, twice, start)
    report(console, outcome)
    (out / "soak.json").write_text(json.dumps(dataclasses.asdict(outcome), indent=1))
    (out / "terminal.txt").write_text("\n".join(line for _, line in terminal.lines))


@dataclasses.dataclass
class Outcome:
    """What the soak found."""

    judged: list[dict]  # every instruction sent, judged
    minutes: list[dict]  # the loop's figures over each minute, and resident memory
    crashes: int  # the process died before the end, and tracebacks it printed
    exit_code: int | str  # at quit
    dropped: int  # sockets closed before quit
    twice: int  # event lines printed twice at the terminal
    start: float


def report(console: Console, o: Outcome) -> None:
    """The per-minute table and the summary against the targets."""
    per_minute = Table(title="bcz run under the soak, per minute (the loop's figures over that minute)")
    for col in (
        "minute",
        "rate Hz",
        "p99 jitter ms",
        "deadline misses",
        "memory MB",
        "inputs",
        "as they should",
    ):
        per_minute.add_column(col, justify="right")
    for m in o.minutes:
        inside = [
            j for j in o.judged if o.start + 60 * (m["minute"] - 1) <= j["sent"] < o.start + 60 * m["minute"]
        ]
        per_minute.add_row(
            str(m["minute"]),
            f"{m.get('rate_hz', float('nan')):.3f}",
            f"{m.get('jitter_p99_ms', float('nan')):.2f}",
            str(m.get("deadline_misses", "-")),
            f"{m['rss_mb']:.1f}",
            str(len(inside)),
            str(sum(j["as_it_should"] for j in inside)),
        )
    console.print(per_minute)
    rates = [m["rate_hz"] for m in o.minutes if "rate_hz" in m]
    jitter = [m["jitter_p99_ms"] for m in o.minutes if "jitter_p99_ms" in m]
    growth = max(m["rss_mb"] for m in o.minutes) - o.minutes[0]["rss_mb"] if o.minutes else float("nan")
    summary = Table(title=f"soak summary: {len(o.minutes)} minutes, {len(o.judged)} instructions")
    for col in ("figure", "result", "target"):
        summary.add_column(col)
    by_kind: dict[str, list[dict]] = {}
    for j in o.judged:
        by_kind.setdefault(j["kind"], []).append(j)
    for kind, js in sorted(by_kind.items()):
        verb = "accepted" if js[0]["expected"] else "refused"
        summary.add_row(
            f"{kind}: {verb} as it should", f"{sum(j['as_it_should'] for j in js)} / {len(js)}", "all"
        )
    summary.add_row("motions on refused text", str(sum(j["moved"] for j in o.judged)), "0")
    drift = max((j.get("drift_mm", 0.0) for j in o.judged), default=0.0)
    summary.add_row("hand drift holding still within 2 s of refused text, max", f"{drift:.1f} mm", "")
    summary.add_row("crashes (process died, tracebacks)", str(o.crashes), "0")
    summary.add_row("exit code at quit", str(o.exit_code), "0")
    summary.add_row("sockets dropped before quit", str(o.dropped), "0")
    summary.add_row(
        "worst minute's rate (10 Hz set)", f"{min(rates, default=float('nan')):.3f} Hz", ">= 9.9 Hz"
    )
    summary.add_row("worst minute's p99 jitter", f"{max(jitter, default=float('nan')):.2f} ms", "< 5 ms")
    summary.add_row("memory growth after minute 1", f"{growth:.1f} MB", "< 20 MB")
    summary.add_row("event lines printed twice at the terminal", str(o.twice), "0")
    console.print(summary)


if __name__ == "__main__":
    main()
