"""What each skill does in a world, registered by that world.

The suite only names skills. A world registers its implementation of each: in simulation, the success
check, the layout its expert needs and the expert's plan (`sim/skills/`). The learner never needs them,
so this module imports no world; a world's modules register theirs when imported.
"""

from __future__ import annotations

from typing import Any

from tasks.suite import UnknownTaskError

SKILLS: dict[str, Any] = {}  # skill name -> its registered implementation


def register_skill(skill: Any) -> Any:
    """Add `skill` (anything with a `name`) to the registry; registering the same name twice with
    different objects is a mistake worth failing on."""
    known = SKILLS.get(skill.name)
    if known is not None and known is not skill:
        raise ValueError(f"skill {skill.name!r} is registered twice: {known!r} and {skill!r}")
    SKILLS[skill.name] = skill
    return skill


def check_implemented(suite: Any, kinds: Any, where: str) -> None:
    """Fail with one line when `suite` names an object kind `where` does not build (not in `kinds`) or a
    skill no one registered."""
    for name in suite.config.objects:
        if name not in kinds:
            raise UnknownTaskError(
                f"suite object kind {name!r} is not built by {where}; valid kinds: {', '.join(sorted(kinds))}"
            )
    for name in suite.config.skills:
        if name not in SKILLS:
            raise UnknownTaskError(
                f"suite skill {name!r} has no implementation; valid skills: {', '.join(sorted(SKILLS))}"
            )
