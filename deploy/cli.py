"""`bcz <verb> [hydra overrides]`: the one entry point for every user-facing job.

Each verb is a function taking its composed config, with conf/<verb>.yaml as the primary config
(schemas in conf/schemas.py). Errors caused by the user's input (unknown task, bad value) are
printed as one line; set BCZ_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

VERBS: dict[str, tuple[str, str]] = {
    "demo": ("sim.demo:main", "a scripted expert performs a task from the suite; writes an mp4"),
    "tasks": ("sim.tasks_cli:main", "list the task grid and the train / held-out split"),
}


def usage() -> str:
    width = max(map(len, VERBS))
    lines = [f"  {v:<{width}}  {doc}" for v, (_, doc) in VERBS.items()]
    return (
        "usage: bcz <verb> [key=value ...]   (Hydra overrides; `bcz <verb> --help` shows the config)\n\n"
        "verbs:\n" + "\n".join(lines)
    )


def _guarded(fn: Callable) -> Callable:
    def run(cfg) -> None:
        try:
            fn(cfg)
        except (ValueError, FileNotFoundError, KeyError) as e:
            if os.environ.get("BCZ_DEBUG"):
                raise
            msg = e.args[0] if isinstance(e, KeyError) and e.args else e
            print(f"error: {msg}", file=sys.stderr)
            sys.exit(2)

    return run


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        print(f"error: unknown verb {verb!r}\n\n{usage()}", file=sys.stderr)
        sys.exit(2)
    if not sys.stdout.isatty():
        os.environ.setdefault("COLUMNS", "140")  # rich tables stay readable in logs and pipes
    import hydra

    from conf.schemas import register

    register()
    module, func = VERBS[verb][0].split(":")
    task = _guarded(getattr(importlib.import_module(module), func))
    sys.argv = [f"bcz {verb}", *rest]
    hydra.main(config_path="pkg://conf", config_name=verb, version_base="1.3")(task)()


if __name__ == "__main__":
    main()
