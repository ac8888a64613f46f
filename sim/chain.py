"""Chains of instructions in one scene (CALVIN's protocol): which task may come next from a state.

A running robot is told one thing after another without a reset, so the next instruction starts from
whatever the last one left. A task may come next when the scripted expert can do it from there: the
same conditions a fresh layout is sampled under (`sim/scene.py`), read off the live state instead:
  - its objects are in the scene, standing (a fallen bottle is neither target nor reference), inside
    the workspace, with nothing resting on or in them, and the task is not already done;
  - the skill's own layout check passes (`Skill.feasible`: a push has room, a place has a free goal);
  - no other object stands in its keep-clear zones (less `SLACK`), and no tall object within a hand's
    reach of where the hand comes down (`Skill.keep_clear`, `Skill.descents`, `HAND_REACH`).
The target may be held already ("pick up the red block", then "put it in the bowl").
"""

from __future__ import annotations

import numpy as np

from sim.predicates import inside, on_table, stacked, upright
from sim.skills import SKILLS
from sim.skills.base import HAND_REACH, inside_workspace
from sim.state import ObjectState, SceneState
from tasks.suite import TaskSpec, TaskSuite

# A fresh layout keeps other objects 6 cm or more from the target's edge; a chain, whose tasks put
# objects side by side, asks 3 cm less of a grasping skill's keep-clear zones (the open fingers still fit).
SLACK = 0.03


def supports(below: ObjectState, top: ObjectState) -> bool:
    """`top` stands on `below` or lies in it."""
    return stacked(top, below) or (below.geometry.inner_radius > 0 and inside(top, below))


def resting_on(name: str, state: SceneState) -> bool:
    """Some other object stands on `name` or lies in it."""
    return any(supports(state[name], o) for n, o in state.objects.items() if n != name)


def can_follow(task: TaskSpec, state: SceneState, workspace: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether the scripted expert can do `task` from `state` (see the module docstring)."""
    names = [o.name for o in task.objects]
    if any(n not in state.objects for n in names):
        return False
    skill = SKILLS[task.skill]
    if skill.satisfied(task, state):
        return False
    for n in names:
        obj = state[n]
        fallen = obj.geometry.tall and not upright(obj)
        if fallen or resting_on(n, state) or not inside_workspace(obj.xy, workspace, margin=0.02):
            return False
    if task.reference is not None and not on_table(state[task.reference.name]):
        return False  # a base that is itself stacked, a bottle lying down
    target = state[task.target.name]
    lying_in = any(supports(o, target) for o in state.objects.values())
    if not skill.grasps and (lying_in or not on_table(target)):
        return False  # a push slides what stands on the table
    if not skill.feasible(task, state, workspace):
        return False
    # What the target stands on or lies in is where the hand reaches anyway, not in its way; a grasping
    # skill's reference must keep clear of the target like any other object.
    ignored = set(names) - ({task.reference.name} if task.reference and skill.grasps else set())
    others = [o for n, o in state.objects.items() if n not in ignored and not supports(o, target)]
    slack = SLACK if skill.grasps else 0.0  # a push or a strike sweeps through its zones
    for centre, radius in skill.keep_clear(task, state):
        if any(np.linalg.norm(o.xy - centre) < radius - slack + o.geometry.radius for o in others):
            return False
    # a grasp beside a bottle turns the hand across it (`tall_neighbour`); elsewhere the hand keeps away
    descents = skill.descents(task, state)[1:] if skill.grasps else skill.descents(task, state)
    for o in others:
        standing = o.geometry.tall and upright(o) and o.name not in names
        if standing and any(np.linalg.norm(o.xy - d) < HAND_REACH + o.geometry.radius for d in descents):
            return False
    return True


def next_task(
    suite: TaskSuite,
    split: str,
    state: SceneState,
    workspace: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
    done: list[TaskSpec] = (),  # type: ignore[assignment]
) -> TaskSpec | None:
    """The next instruction of a chain: drawn uniformly among the split's tasks that can follow, those
    not yet done in this chain first; None when no task can follow (the chain ends early)."""
    options = [t for t in suite.tasks(split) if can_follow(t, state, workspace)]
    fresh = [t for t in options if t not in done]
    pool = fresh or options
    return pool[int(rng.integers(len(pool)))] if pool else None


# Objects of this many more tasks of the split are placed in a chain's scene besides the first task's
# (with the random distractors): held-out tasks are too few for random distractors to leave one to
# follow (28 of 40 expert chains of held-out tasks ran out so; 1 of 40 train chains).
PLANNED_TASKS = 3
# At most this many of their objects: with the first task's two and a distractor of the target's kind,
# a scene holds at most 7 suite objects (a dataset records 8 objects' poses).
MAX_PLANNED_OBJECTS = 4


class Chain:
    """The instructions of one seeded chain, each drawn from the state the last one left:

        chain = Chain(env, seed=7, length=5, split="train")
        for task in chain:               # env is switched to `task`, same scene, nothing reset
            ... run until env says success or the step limit (chain.obs, chain.info to start from)
            chain.report(success)        # a failure ends the chain

    The first task (drawn from the split unless given) lays out the scene, with the objects of
    `PLANNED_TASKS` more tasks of the split among its distractors; each next task is drawn by
    `next_task`. The same seed gives the same chain for the same outcomes."""

    def __init__(self, env, seed: int, length: int, split: str, first: TaskSpec | None = None) -> None:
        self.env, self.seed, self.length, self.split = env, seed, length, split
        self.rng = np.random.default_rng([seed, 5])
        options = env.suite.tasks(split)
        self.first = first or options[int(self.rng.integers(len(options)))]
        more = [options[int(i)] for i in self.rng.permutation(len(options))[:PLANNED_TASKS]]
        planned = dict.fromkeys(o.name for t in more for o in t.objects if o not in self.first.objects)
        self.include = list(planned)[:MAX_PLANNED_OBJECTS]
        self.tasks: list[TaskSpec] = []
        self.outcomes: list[bool] = []
        self.exhausted = False  # no task could follow a success before `length` was reached

    def __iter__(self):
        env = self.env
        obs, info = env.reset(seed=self.seed, options={"task": self.first, "include": self.include})
        task = self.first
        while True:
            self.tasks.append(task)
            self.obs, self.info = obs, info
            yield task
            if len(self.outcomes) < len(self.tasks):
                raise RuntimeError("Chain: report(success) after each instruction")
            if not self.outcomes[-1] or len(self.tasks) == self.length:
                return
            state = env.scene_state()
            task = next_task(env.suite, self.split, state, env.scene.workspace, self.rng, self.tasks)
            if task is None:
                self.exhausted = True
                return
            obs, info = env.switch_task(task, env.suite.instruction(task, self.rng))

    def report(self, success: bool) -> None:
        """The current instruction's outcome, needed before the next is drawn; a failure ends the chain."""
        self.outcomes.append(bool(success))
