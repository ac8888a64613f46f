"""Which task a typed instruction is read as, and when to ask or refuse instead of guessing.

The policy hears an instruction as a vector (`Policy.embed`: colour words said as its suite's colours,
then through its instruction reader when it has one); each task of the suite has the vector of the
suite's own phrasings of it (their unit mean, the reader's target). One of the suite's own phrasings is
read as its task; any other instruction as the task whose vector is nearest (its cosine similarity is
the reading's confidence). A colour word that the suite cannot place (`tasks.colour_words`: "brown" is
no suite colour; orange or red?) is not guessed: the operator is asked "which block: orange or red?"
and nothing starts. Nor is an object named without a colour it comes in ("the buttercup dish", a word
no list knows, or "the dish"), nor an instruction that would sound like one taught if a word it cannot
place were a colour ("the buttercup duckie": "which colour is the buttercup duckie: red, ...?"). A
question ("where is the red block?"), and text that sounds like nothing the policy was taught to do
(its shape, objects masked, "paint the thing blue", far from every shape of the suite's and the
paraphrase set's phrasings), are not understood: the robot does not move on them unless the operator
insists (`RobotSession.instruct`). Thresholds measured in
benchmarks/instruction_gate.py (docs/notes/instruction-gate.md).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from policy import Policy
from policy.paraphrase import Paraphrases
from policy.reader import suite_vectors
from tasks.colour_words import NOT_A_NOUN
from tasks.suite import TaskSpec, TaskSuite

# Sentence-vector cosine, objects masked, to the nearest of the sentence shapes the policy was taught,
# below which an instruction is not understood: the highest that still starts 98% of every kind of
# unseen phrasing (benchmarks/instruction_gate.py; docs/notes/instruction-gate.md).
MIN_LIKENESS = 0.64
THING, OTHER = "thing", "other thing"  # what objects are masked as, in instructions and templates
QUESTION = re.compile(r"^(where|what|which|who|whose|why|when|how|is|are|was|were|does|do|did)\b", re.I)


class NotUnderstood(ValueError):
    """An instruction the reading could not place: the robot is not moved; the message says why and what
    the robot knows."""


@dataclass
class Reading:
    """What an instruction was read as: a task (None: a question, or not understood), its colour words
    read, and how sure (cosine to the task's vector; 1 for one of the suite's own phrasings)."""

    task: TaskSpec | None
    question: str | None = None
    colours: list[tuple[str, str]] = field(default_factory=list)  # (the words said, the suite colour)
    confidence: float = 1.0
    unplaced: str | None = None  # why it was not understood ("it is a question, not something to do")


def taught_shapes(policy: Policy, suite: TaskSuite) -> list[str]:
    """The sentence shapes of every phrasing the policy was taught: the suite's templates and, with a
    reader, its paraphrase set's, objects masked as "thing" and "other thing"."""
    templates = [t for skill in suite.config.skills.values() for t in skill.phrasings]
    if policy.config.reader is not None:
        extra = Paraphrases.load(policy.config.reader.paraphrase_set, suite).config.templates
        templates += [t for skill in extra.values() for t in skill]
    return [t.replace("{target}", THING).replace("{reference}", OTHER) for t in templates]


class InstructionReading:
    """Reads instructions as tasks of `suite` the way `policy` hears them."""

    def __init__(
        self,
        policy: Policy,
        suite: TaskSuite,
        min_likeness: float = MIN_LIKENESS,
    ) -> None:
        self.policy, self.suite, self.min_likeness = policy, suite, min_likeness
        # made here, not at the first instruction, which would then wait for the encoder
        self.shapes = self._unit(sorted(set(taught_shapes(policy, suite))))
        names = sorted({p for o in suite.all_objects for p in suite.object_phrases(o)}, key=len, reverse=True)
        colours = "|".join(map(re.escape, suite.config.colours))
        # an object as the suite names it (longest first), else a colour of the suite before a word
        self.mentions = re.compile(rf"\b(?:{'|'.join(map(re.escape, names))}|(?:{colours}) [a-z]+)\b")
        # (tasks, D): per task of the grid, the unit mean of its phrasings' vectors (the reader's target)
        self.targets = suite_vectors(policy.encoder, suite, suite.grid) if policy.reader is not None else None

    def _unit(self, texts: list[str]) -> torch.Tensor:
        return F.normalize(torch.as_tensor(self.policy.encoder.encode(texts)).float(), dim=-1)

    def read(self, text: str) -> Reading:
        """The task `text` is read as, the question to ask, or why it was not understood."""
        known = self.suite.known(text)
        if known is not None:
            return Reading(known)
        if QUESTION.match(text):
            return Reading(None, unplaced="it is a question, not something to do")
        said, read = text, []
        if self.targets is not None:  # colour words are said as the suite's for a policy with a reader
            colours = self.policy.colour_words.rewrite(text)
            question = colours.question or self.policy.colour_words.uncoloured(colours.text)
            if question:
                return Reading(None, question, colours.read)
            said, read = colours.text, colours.read
        if self.likeness(said) < self.min_likeness:
            question = self.what_colour(said) if self.targets is not None else None
            if question:
                return Reading(None, question, read, 0.0)
            return Reading(None, None, read, 0.0, unplaced="it is nothing I was taught to do")
        if self.targets is None:  # no reader: the suite's matcher, or free text the policy still tries
            return Reading(self.suite.closest(said))
        confidence, nearest = self.nearest(text)
        return Reading(nearest, None, read, confidence)

    def what_colour(self, said: str) -> str | None:
        """ "which colour is the buttercup duckie: red, green, ...?" when a word no list knows, between an
        article or preposition and another word, is all that keeps `said` from sounding like something
        taught (said as a suite colour, it would): a colour, or a size, the reading cannot place."""
        words, colours = said.split(), self.suite.config.colours
        for i in range(1, len(words) - 1):
            before, word, after = (w.lower().strip(",.?!;:") for w in words[i - 1 : i + 2])
            if before not in NOT_A_NOUN or after in NOT_A_NOUN or word in NOT_A_NOUN or word in colours:
                continue
            if word in self.policy.colour_words.kinds:  # an object word of the suite, not a colour
                continue
            trial = " ".join([*words[:i], next(iter(colours)), *words[i + 1 :]])
            if self.likeness(trial) >= self.min_likeness:
                *rest, last = colours
                return f"which colour is the {word} {after}: {', '.join(rest)} or {last}?"
        return None

    def nearest(self, text: str) -> tuple[float, TaskSpec]:
        """The cosine of `text`'s vector (as the policy hears it) to the nearest task's, and that task."""
        said = F.normalize(self.policy.embed([text]).float().cpu(), dim=-1)[0]
        similarity = self.targets @ said
        best = int(similarity.argmax())
        return float(similarity[best]), self.suite.grid[best]

    def masked(self, text: str) -> str:
        """`text` with the objects it names as "thing" and "other thing": the suite's names for them,
        or any colour of the suite before a word ("red brick"), so only its sentence shape is left."""
        count = itertools.count()
        return self.mentions.sub(lambda _: THING if next(count) == 0 else OTHER, text.lower())

    def likeness(self, text: str) -> float:
        """How much `text` sounds like something the policy was taught to do: the sentence-vector cosine
        of its shape (`masked`) to the nearest shape of the suite's and its paraphrase set's phrasings."""
        return float((self.shapes @ self._unit([self.masked(text)])[0]).max())

    def known_things(self) -> str:
        """What the suite knows, for an operator whose instruction was not understood: its objects (by
        kind, with their colours) and its skills."""
        cfg = self.suite.config
        kinds = "; ".join(f"{kind} ({', '.join(spec.colours)})" for kind, spec in cfg.objects.items())
        skills = ", ".join(s.replace("_", " ") for s in cfg.skills)
        return f"I know: {kinds}; and can: {skills}"
