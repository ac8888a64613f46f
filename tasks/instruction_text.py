"""The one gate every instruction passes before anything reads it or a robot acts on it.

The terminal, the web page, `bcz run instruction=...` and `bcz eval` episode files all hand their text
to `check_instruction`. Plain text of at most MAX_CHARS characters passes (tabs and line breaks count
as spaces); empty text, control and format characters (NUL, escape sequences, bidirectional
overrides), private-use or unassigned code points and text that is not valid Unicode (a lone UTF-16
surrogate, which JSON can carry) are refused with a one-line `BadInstruction` naming the first
offending character. `shown` prints any text, accepted or not, so that writing it to a log or a
terminal cannot fail.
"""

from __future__ import annotations

import logging
import unicodedata

MAX_CHARS = 300  # longer than any phrasing of the suites (about 60), far under the encoder's 256 tokens
REFUSED = {  # Unicode general categories an instruction may not hold, and what to call them
    "Cc": "a control character",
    "Cf": "a format character",
    "Cs": "a lone surrogate (not valid Unicode)",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
}
SPACES = str.maketrans({"\t": " ", "\n": " ", "\r": " "})
VALID = f"an instruction is plain text of 1 to {MAX_CHARS} characters"


class BadInstruction(ValueError):
    """Text refused as an instruction; the message says what was wrong and what is valid, in one line."""


def printable(text: str) -> str:
    """`text` with every unprintable character but the line break written as its escape ("\\x00")."""
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def shown(text: str, limit: int = 80) -> str:
    """`text` quoted for a log or a terminal line: unprintable characters as escapes, cut at `limit`."""
    return "'" + printable(text[:limit]) + ("..." if len(text) > limit else "") + "'"


class PrintableLogs(logging.Filter):
    """Makes a record's message printable before a handler writes it, so that a line holding someone's
    text can neither fail to encode (a lone surrogate) nor drive the terminal (escape sequences)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.isprintable():
            record.msg, record.args = printable(message), None
        return True


def printable_logs() -> None:
    """Every handler of the root logger writes printable messages only (`PrintableLogs`)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PrintableLogs) for f in handler.filters):
            handler.addFilter(PrintableLogs())


def check_instruction(text: object) -> str:
    """`text` as the instruction the robot is given (stripped, tabs and line breaks as spaces), or
    BadInstruction."""
    if not isinstance(text, str):
        raise BadInstruction(f"instruction refused: got {type(text).__name__}, not text; {VALID}")
    text = text.translate(SPACES).strip()
    if not text:
        raise BadInstruction("empty instruction: say what the robot should do")
    if len(text) > MAX_CHARS:
        raise BadInstruction(f"instruction too long ({len(text)} characters; at most {MAX_CHARS})")
    for i, c in enumerate(text):
        what = REFUSED.get(unicodedata.category(c))
        if what:
            raise BadInstruction(
                f"instruction refused: it holds {what}, U+{ord(c):04X}, at character {i + 1} of "
                f"{shown(text, 40)}; {VALID}"
            )
    return text
