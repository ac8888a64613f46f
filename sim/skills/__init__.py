"""The skills, by name. Each module holds one skill: its success check, layout needs and expert plan."""

from sim.skills.base import Skill
from sim.skills.knock_over import KnockOver
from sim.skills.pick_up import PickUp
from sim.skills.place_beside import PlaceLeftOf, PlaceRightOf
from sim.skills.push_to import PushTo
from sim.skills.put_in import PutIn
from sim.skills.stack_on import StackOn

SKILLS: dict[str, Skill] = {
    s.name: s for s in [PickUp(), PutIn(), PushTo(), StackOn(), PlaceLeftOf(), PlaceRightOf(), KnockOver()]
}

__all__ = ["SKILLS", "Skill"]
