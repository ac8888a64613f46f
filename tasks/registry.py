"""What each skill does in a world, registered by that world, and what a suite file declares itself.

The suite only names skills. A world registers its implementation of each: in simulation, the success
check, the layout its expert needs and the expert's plan (`sim/skills/`). The learner never needs them,
so this module imports no world; a world's modules register theirs when imported. A suite file may
declare more (docs/add_a_task.md): a skill's `implementation` ("module:Class"), imported the first time
the world looks the skill up (a learner that only reads the suite never imports it), and a kind's
`shape`, kept here for the world that builds it (`SHAPES`).
"""

from __future__ import annotations

import importlib
from typing import Any

from tasks.errors import UnknownTaskError

IMPLEMENTATIONS: dict[str, str] = {}  # skill name -> "module:Class" a suite file declares for it
SHAPES: dict[str, dict] = {}  # object kind -> the shape a suite file declares for it


class Skills(dict):
    """Skill name -> its implementation; a skill a suite file declares is imported on first lookup."""

    def __missing__(self, name: str) -> Any:
        if name not in IMPLEMENTATIONS:
            raise KeyError(name)
        import_skill(name, IMPLEMENTATIONS[name])
        return self[name]


SKILLS = Skills()


def register_skill(skill: Any) -> Any:
    """Add `skill` (anything with a `name`) to the registry; registering the same name twice with
    different objects is a mistake worth failing on."""
    known = SKILLS.get(skill.name)
    if known is not None and known is not skill:
        raise ValueError(f"skill {skill.name!r} is registered twice: {known!r} and {skill!r}")
    SKILLS[skill.name] = skill
    return skill


def import_skill(name: str, path: str) -> None:
    """Register skill `name` from `path` ("module:Class", a class taking no arguments whose `name` is
    `name`); a no-op when that class already serves it."""
    module_name, _, attr = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr) if attr else None
    except (ImportError, AttributeError) as e:
        raise UnknownTaskError(f"skill {name!r}: cannot import implementation {path!r} ({e})") from e
    if not isinstance(cls, type):
        raise UnknownTaskError(f"skill {name!r}: implementation {path!r} is not module:Class")
    if type(SKILLS.get(name)) is cls:
        return
    if getattr(cls, "name", None) != name:
        raise UnknownTaskError(
            f"skill {name!r}: {path} is named {getattr(cls, 'name', None)!r}, not {name!r}"
        )
    register_skill(cls())


def declare(config: Any) -> None:
    """Keep what a suite config (`tasks.suite.SuiteConfig`) declares for the world: its kinds' shapes
    and its skills' implementations; one kind or skill declared two ways is refused."""
    for table, declared in [
        (SHAPES, {k: dict(e.shape) for k, e in config.objects.items() if e.shape is not None}),
        (IMPLEMENTATIONS, {k: e.implementation for k, e in config.skills.items() if e.implementation}),
    ]:
        for name, value in declared.items():
            if table.setdefault(name, value) != value:
                raise UnknownTaskError(
                    f"{name!r} is declared two ways by the suites: {table[name]} and {value}"
                )


def check_implemented(suite: Any, kinds: Any, where: str) -> None:
    """Fail with one line when `suite` names an object kind `where` does not build (not in `kinds`, no
    shape declared) or a skill no one registered."""
    for name, entry in suite.config.objects.items():
        if entry.shape is not None and name in kinds and name not in getattr(kinds, "declared", ()):
            raise UnknownTaskError(
                f"suite object kind {name!r} is one {where} builds itself; give the kind you declare "
                "by shape a name of its own"
            )
        if name not in kinds and entry.shape is None:
            raise UnknownTaskError(
                f"suite object kind {name!r} is not built by {where}; valid kinds: "
                f"{', '.join(sorted(kinds))} (or declare its shape in the suite file: docs/add_a_task.md)"
            )
        kinds[name]  # builds a declared kind's geometry now, so a bad shape fails here
    for name, entry in suite.config.skills.items():
        try:
            skill = SKILLS[name]  # imports a declared implementation, so a bad one fails here
        except KeyError:
            raise UnknownTaskError(
                f"suite skill {name!r} has no implementation; valid skills: {', '.join(sorted(SKILLS))} "
                "(or name one with implementation: module:Class in the suite file)"
            ) from None
        serving = f"{type(skill).__module__}:{type(skill).__name__}"
        if entry.implementation and entry.implementation != serving:
            raise UnknownTaskError(
                f"suite skill {name!r} names implementation {entry.implementation} but {serving} already "
                "serves it; give the skill you declare a name of its own"
            )
