"""Which task a typed instruction is read as, and when to ask instead of guessing.

The policy hears an instruction as a vector (through its instruction reader when it has one,
`Policy.embed`); each task of the suite has the vector of the suite's own phrasings of it (their unit
mean, the reader's target). One of the suite's own phrasings is read as its task; any other instruction
as the task whose vector is nearest. When the nearest two are the same task but for one
object's colour, and nearly as near as each other (`margin`), the colour word was not placed: the
operator is asked ("which block: red or orange?") and nothing starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from policy import Policy
from tasks.suite import TaskSpec, TaskSuite

MARGIN = 0.02  # cosine: closer than this, two readings that differ in a colour are a question


@dataclass
class Reading:
    """What an instruction was read as: a task (None: no task of the suite is near), or a question."""

    task: TaskSpec | None
    question: str | None = None


def colour_question(best: TaskSpec, other: TaskSpec) -> str | None:
    """ "which block: red or orange?" when the two tasks differ in exactly one object's colour."""
    if best.skill != other.skill or len(best.objects) != len(other.objects):
        return None
    differ = [(a, b) for a, b in zip(best.objects, other.objects, strict=True) if a != b]
    if len(differ) != 1 or differ[0][0].kind != differ[0][1].kind:
        return None
    a, b = differ[0]
    return f"which {a.kind}: {a.colour} or {b.colour}?"


class InstructionReading:
    """Reads instructions as tasks of `suite` the way `policy` hears them."""

    def __init__(self, policy: Policy, suite: TaskSuite, margin: float = MARGIN) -> None:
        self.policy, self.suite, self.margin = policy, suite, margin
        self._targets: dict[str, torch.Tensor] = {}

    def target(self, task: TaskSpec) -> torch.Tensor:
        """The unit mean of the sentence vectors of the suite's phrasings of `task` (computed once)."""
        if task.id not in self._targets:
            vectors = torch.as_tensor(self.policy.encoder.encode(self.suite.instructions(task)))
            self._targets[task.id] = F.normalize(vectors.mean(0), dim=-1)
        return self._targets[task.id]

    def read(self, text: str) -> Reading:
        """The task `text` is read as, or the question to ask."""
        known = self.suite.known(text)
        if known is not None:
            return Reading(known)
        tasks = self.suite.grid
        said = F.normalize(self.policy.embed([text]).float().cpu()[0], dim=-1)
        scores = torch.stack([self.target(t) for t in tasks]) @ said
        order = scores.argsort(descending=True).tolist()
        best = tasks[order[0]]
        if len(order) > 1 and float(scores[order[0]] - scores[order[1]]) < self.margin:
            question = colour_question(best, tasks[order[1]])
            if question:
                return Reading(None, question)
        return Reading(best)
