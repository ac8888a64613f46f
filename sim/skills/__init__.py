"""The simulator's skills. Each module holds one skill: its success check, layout needs and expert plan;
importing this package registers them all with the task registry (`tasks.registry`)."""

from sim.skills.base import Skill
from sim.skills.knock_over import KnockOver
from sim.skills.pick_up import PickUp
from sim.skills.place_beside import PlaceLeftOf, PlaceRightOf
from sim.skills.push_to import PushTo
from sim.skills.put_in import PutIn
from sim.skills.stack_on import StackOn
from tasks.registry import SKILLS, register_skill

for _skill in [PickUp(), PutIn(), PushTo(), StackOn(), PlaceLeftOf(), PlaceRightOf(), KnockOver()]:
    register_skill(_skill)

__all__ = ["SKILLS", "Skill"]
