"""`bcz <verb> [hydra overrides]`: the one entry point for every user-facing job.

Each verb is a function taking its composed config, with conf/<verb>.yaml as the primary config
(schemas in conf/schemas.py). Besides Hydra's `key=value` overrides, a verb may take positional
arguments (`bcz dataset check PATH`) and `--flag` switches (`--resume` is `resume=true`).
Errors caused by the user's input or environment are printed as one line; BCZ_DEBUG=1 shows the
traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

from conf.verbs import VERBS, Verb

# Hydra's flags whose next argument is their value (`--cfg job`, `--config-name train`, ...).
HYDRA_FLAGS_WITH_VALUE = {
    "--cfg",
    "-c",
    "--package",
    "-p",
    "--info",
    "-i",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--shell-completion",
    "-sc",
}
# Every Hydra flag: the ones above plus those that stand alone.
HYDRA_FLAGS = HYDRA_FLAGS_WITH_VALUE | {
    "--help",
    "-h",
    "--hydra-help",
    "--version",
    "--resolve",
    "--run",
    "-r",
    "--multirun",
    "-m",
    "--experimental-rerun",
}


def usage() -> str:
    """The top-level help: every verb with its one-line description."""
    width = max(map(len, VERBS))
    lines = [f"  {name:<{width}}  {v.doc}" for name, v in VERBS.items()]
    return (
        "usage: bcz <verb> [key=value ...]   (`bcz <verb> --help` lists the verb's keys)\n\n"
        "verbs:\n" + "\n".join(lines)
    )


def to_overrides(verb: Verb, args: list[str]) -> list[str]:
    """Positional arguments and --flags become Hydra overrides; Hydra's own flags pass through."""
    out, positional, i = [], list(verb.positional), 0
    while i < len(args):
        arg = args[i]
        if arg in HYDRA_FLAGS:
            out.append(arg)
            if arg in HYDRA_FLAGS_WITH_VALUE and i + 1 < len(args):
                out.append(args[i + 1])
                i += 1
        elif arg.startswith("--") and "=" not in arg:
            out.append(f"{arg[2:].replace('-', '_')}=true")
        elif "=" in arg or arg.startswith("-"):
            out.append(arg)
        elif positional:
            out.append(f"{positional.pop(0)}={arg}")
        else:
            raise ValueError(
                f"unexpected argument {arg!r}; this verb takes key=value overrides"
                + (f" and positional {', '.join(verb.positional)}" if verb.positional else "")
            )
        i += 1
    return out


def _guarded(fn: Callable) -> Callable:
    def run(cfg) -> None:
        """Run the verb; a user error (ValueError, OSError, KeyError) is one line on stderr and exit 2."""
        from tasks.instruction_text import printable_logs

        printable_logs()  # user text in a log line can never raise
        try:
            fn(cfg)
        except (ValueError, OSError, KeyError) as e:
            if os.environ.get("BCZ_DEBUG"):
                raise
            msg = e.args[0] if isinstance(e, KeyError) and e.args else e
            print(f"error: {msg}", file=sys.stderr)
            sys.exit(2)

    return run


def main(argv: list[str] | None = None) -> None:
    """The `bcz` command: checks the verb and its overrides before Hydra composes conf/<verb>.yaml and runs
    it."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return
    name, rest = argv[0], argv[1:]
    if name not in VERBS:
        print(f"error: unknown verb {name!r}\n\n{usage()}", file=sys.stderr)
        sys.exit(2)
    verb = VERBS[name]
    if rest and rest[0] in ("-h", "--help"):
        from conf.keys import describe

        try:
            print(describe(name, rest[1] if len(rest) > 1 else None))
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        return
    try:
        overrides = to_overrides(verb, rest)
        from conf.keys import check_overrides

        check_overrides(name, overrides)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    if not sys.stdout.isatty():
        os.environ.setdefault("COLUMNS", "140")  # rich tables stay readable in logs and pipes
    import hydra

    from conf.schemas import register

    register()
    module, func = verb.target.split(":")
    task = _guarded(getattr(importlib.import_module(module), func))
    sys.argv = [f"bcz {name}", *overrides]
    hydra.main(config_path="pkg://conf", config_name=name, version_base="1.3")(task)()


if __name__ == "__main__":
    main()
