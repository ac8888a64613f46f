"""Which task a typed instruction is read as, and when to ask instead of guessing.

The policy hears an instruction as a vector (`Policy.embed`: colour words said as its suite's colours,
then through its instruction reader when it has one); each task of the suite has the vector of the
suite's own phrasings of it (their unit mean, the reader's target). One of the suite's own phrasings is
read as its task; any other instruction as the task whose vector is nearest. A colour word that
the suite cannot place (`tasks.colour_words`: "brown" is no suite colour; orange or red?) is not
guessed: the operator is asked "which block: orange or red?" and nothing starts. Nor is an object named
without a colour it comes in ("the buttercup dish", a word no list knows, or "the dish").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch.nn.functional as F

from policy import Policy
from policy.reader import suite_vectors
from tasks.suite import TaskSpec, TaskSuite


@dataclass
class Reading:
    """What an instruction was read as: a task (None: a question instead), and its colour words read."""

    task: TaskSpec | None
    question: str | None = None
    colours: list[tuple[str, str]] = field(default_factory=list)  # (the words said, the suite colour)


class InstructionReading:
    """Reads instructions as tasks of `suite` the way `policy` hears them."""

    def __init__(self, policy: Policy, suite: TaskSuite) -> None:
        self.policy, self.suite = policy, suite
        # (tasks, D): per task of the grid, the unit mean of the suite's phrasings' sentence vectors;
        # made here, not at the first instruction, which would then wait for the encoder
        self.targets = suite_vectors(policy.encoder, suite, suite.grid)

    def read(self, text: str) -> Reading:
        """The task `text` is read as, or the question to ask."""
        known = self.suite.known(text)
        if known is not None:
            return Reading(known)
        if self.policy.reader is None:  # colour words are rewritten for a policy that reads the suite's
            return Reading(self.suite.closest(text))
        colours = self.policy.colour_words.rewrite(text)
        question = colours.question or self.policy.colour_words.uncoloured(colours.text)
        if question:
            return Reading(None, question, colours.read)
        if self.suite.closest(colours.text) is None:  # it names no object of the suite: no task
            return Reading(None, None, colours.read)
        said = F.normalize(self.policy.embed([text]).float().cpu(), dim=-1)[0]
        return Reading(self.suite.grid[int((self.targets @ said).argmax())], None, colours.read)
