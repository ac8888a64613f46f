"""The `bcz>` prompt: what happens while the user types is printed above their line, never on top of it.

Session events and log lines reach the terminal through one logging handler, so each is printed once,
as it happens (a task done, given up, a new scene), without the user asking for `status`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

from tasks.instruction_text import PrintableLogs

try:
    import readline  # line editing for input(), and the text typed so far
except ImportError:  # pragma: no cover - not on every platform
    readline = None  # type: ignore[assignment]

PROMPT = "bcz> "


class PromptConsole:
    """The `bcz>` prompt, with lines printed above it while the user types."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._reading = False

    def say(self, text: str) -> None:
        """Print a line; while the user is typing, above the prompt, which is redrawn with their text."""
        with self._lock:
            if self._reading and self.stream.isatty():
                typed = readline.get_line_buffer() if readline else ""
                self.stream.write(f"\r\x1b[K{text}\n{PROMPT}{typed}")
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def read(self) -> str:
        """One line from the user (EOFError at the end of input)."""
        with self._lock:
            self._reading = True
        try:
            return input(PROMPT)
        finally:
            with self._lock:
                self._reading = False


class PromptLogHandler(logging.Handler):
    """Log records as terminal lines: events as '  12:04:31 done in 4.2 s', problems with their level."""

    def __init__(self, console: PromptConsole) -> None:
        super().__init__(logging.INFO)
        self.console = console
        self.addFilter(PrintableLogs())  # someone's text in a record can never raise or drive the terminal

    def emit(self, record: logging.LogRecord) -> None:
        """Print the record via `say`; a failure is reported by logging, never raised."""
        try:
            message = record.getMessage()
            stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
            if record.levelno <= logging.INFO:
                self.console.say(f"  {stamp} {message}")
            else:
                self.console.say(f"  {stamp} {record.levelname.lower()}: {message}")
        except Exception:  # a log line must never take the prompt down
            self.handleError(record)


class prompt_logging:
    """While active, the root logger's terminal handlers are replaced by a PromptLogHandler (files stay)."""

    def __init__(self, console: PromptConsole) -> None:
        self.handler = PromptLogHandler(console)
        self.removed: list[logging.Handler] = []
        self.level = logging.WARNING

    def __enter__(self) -> prompt_logging:
        root = logging.getLogger()
        self.removed = [
            h
            for h in root.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
        ]
        for h in self.removed:
            root.removeHandler(h)
        root.addHandler(self.handler)
        self.level = root.level
        root.setLevel(min(root.level or logging.INFO, logging.INFO))
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self.level)
        for h in self.removed:
            root.addHandler(h)
