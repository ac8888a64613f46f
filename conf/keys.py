"""The keys a verb takes, read from its config dataclass: checked before Hydra runs, listed by --help.

Hydra rejects an unknown `key=value` but accepts `+key=value` (which its own error suggests) and the
verb then silently ignores the key. Every override is checked here against the dataclass instead, and
an unknown key is named with the valid keys of its level. The one-line descriptions that `--help`
prints are the field comments of the dataclass source, so they cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import types
import typing
from functools import cache

from conf.verbs import VERBS


def schema_of(name: str) -> type:
    module, cls = VERBS[name].schema.split(":")
    return getattr(importlib.import_module(module), cls)


def _unwrap(tp: object) -> object:
    """Optional[X] / X | None -> X."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else typing.Any
    return tp


@cache
def _hints(cls: type) -> dict[str, object]:
    return {k: _unwrap(v) for k, v in typing.get_type_hints(cls).items()}


def fields_of(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def resolve(schema: type, path: str, verb: str) -> object:
    """The type at a dotted key; ValueError naming the first unknown part and the valid keys there."""
    node: object = schema
    walked: list[str] = []
    for part in path.split("."):
        if dataclasses.is_dataclass(node):
            if part not in fields_of(node):  # type: ignore[arg-type]
                where = f"under {'.'.join(walked)}" if walked else f"for bcz {verb}"
                raise ValueError(
                    f"unknown key {path!r}: no {part!r} {where}; valid keys: " + ", ".join(fields_of(node))  # type: ignore[arg-type]
                )
            node = _hints(node)[part]  # type: ignore[arg-type]
        elif typing.get_origin(node) is dict:
            node = _unwrap(typing.get_args(node)[1])
        elif typing.get_origin(node) is list and part.isdigit():
            node = _unwrap(typing.get_args(node)[0])
        elif node is typing.Any or node is dict or node is list:
            return typing.Any
        else:
            raise ValueError(f"unknown key {path!r}: {'.'.join(walked)} is a single value, it has no keys")
        walked.append(part)
    return node


def check_overrides(verb: str, overrides: list[str]) -> None:
    """ValueError for the first override (added with + or not) whose key the verb does not have."""
    schema = schema_of(verb)
    for override in overrides:
        if override.startswith("-") or "=" not in override:
            continue  # Hydra's own flags and their values
        key = override.split("=", 1)[0].lstrip("+~")
        if key.startswith("hydra") or "/" in key or "@" in key:
            continue  # Hydra's settings and config-group syntax
        resolve(schema, key, verb)


@cache
def comments(cls: type) -> dict[str, str]:
    """field name -> the comment on its line in the class source ('' when none)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    found = {}
    for line in source.splitlines():
        m = re.match(r"\s+(\w+)\s*:\s*[^#]+?(?:#\s*(.*))?$", line)
        if m and m.group(1) in fields_of(cls):
            found.setdefault(m.group(1), (m.group(2) or "").strip())
    return found


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return repr(f.default) if isinstance(f.default, str) else str(f.default).replace("None", "null")
    return "..."


def describe(verb: str, group: str | None = None) -> str:
    """`bcz <verb> --help [group]`: the keys of one level, their defaults and what they are for."""
    node = schema_of(verb) if group is None else resolve(schema_of(verb), group, verb)
    if not dataclasses.is_dataclass(node):
        raise ValueError(f"{group} is a single value, not a group of keys")
    prefix = f"{group}." if group else ""
    rows = []
    notes = comments(node)  # type: ignore[arg-type]
    for f in dataclasses.fields(node):  # type: ignore[arg-type]
        kind = _hints(node)[f.name]  # type: ignore[arg-type]
        if dataclasses.is_dataclass(kind):
            value = f"group: bcz {verb} --help {prefix}{f.name}"
        else:
            value = f"= {_default(f)}"
        rows.append((f"{prefix}{f.name}", value, notes.get(f.name, "")))
    width = max(len(r[0]) for r in rows)
    vwidth = min(max(len(r[1]) for r in rows), 40)
    lines = [f"  {k:<{width}}  {v:<{vwidth}}  {c}".rstrip() for k, v, c in rows]
    title = f"bcz {verb}{' ' + group if group else ''}: keys (set with key=value)"
    return "\n".join([title, *lines, "", f"the whole composed config: bcz {verb} --cfg job"])
