"""The task suite: which objects exist, which skills apply to them, how tasks are phrased, and the split.

A task is structured (`TaskSpec`: skill, target, optional reference); its instruction is free text,
sampled from the skill's phrasings with object synonyms. A world scores by the spec, never the text.
The grid and the BC-Z-style split (train vs held-out combinations) live in `conf/suites/*.yaml`.
This module knows names only: whether a world builds the kinds and implements the skills is checked by
that world (`check_implemented`, called by the simulator with its own kinds and skills).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from itertools import product
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from tasks.errors import UnknownTaskError
from tasks.registry import declare


@dataclass(frozen=True, order=True)
class ObjectRef:
    """One object of the suite, a colour and a kind; named "<colour>_<kind>" (red_block)."""

    colour: str
    kind: str

    @property
    def name(self) -> str:
        return f"{self.colour}_{self.kind}"

    @classmethod
    def parse(cls, name: str) -> ObjectRef:
        """The reference a name "<colour>_<kind>" denotes; refuses a name without an underscore."""
        colour, _, kind = name.partition("_")
        if not kind:
            raise UnknownTaskError(f"object {name!r} is not of the form <colour>_<kind>, e.g. red_block")
        return cls(colour, kind)


@dataclass(frozen=True, order=True)
class TaskSpec:
    """A task as the world scores it: a skill applied to a target, with a reference for relational skills."""

    skill: str
    target: ObjectRef
    reference: ObjectRef | None = None

    @property
    def id(self) -> str:
        """skill/target[/reference], e.g. put_in/red_block/green_bowl: what `resolve` and task globs read."""
        parts = [self.skill, self.target.name] + ([self.reference.name] if self.reference else [])
        return "/".join(parts)

    @property
    def objects(self) -> list[ObjectRef]:
        return [self.target] + ([self.reference] if self.reference else [])

    def to_dict(self) -> dict:
        """The spec with object names as strings, ready for JSON."""
        return {
            "skill": self.skill,
            "target": self.target.name,
            "reference": self.reference.name if self.reference else None,
        }

    def __str__(self) -> str:
        return self.id


@dataclass
class KindEntry:
    """An object kind in conf/suites/*.yaml: the words that name it and the colours it comes in; `shape`
    declares a kind the world does not build itself (the simulator reads it: docs/add_a_task.md)."""

    words: list[str]
    colours: list[str]
    shape: dict[str, Any] | None = None


@dataclass
class SkillEntry:
    """A skill in conf/suites/*.yaml: the kinds it acts on and refers to, and its instruction templates;
    `implementation` ("module:Class") declares a skill the world does not implement itself."""

    targets: list[str]
    phrasings: list[str]
    references: list[str] = field(default_factory=list)
    implementation: str | None = None


@dataclass
class SuiteConfig:
    """Schema of conf/suites/*.yaml."""

    extends: str | None = (
        None  # another suite this one adds to (mappings merge, held_out adds, lists replace)
    )
    colours: dict[str, list[float]] = field(default_factory=dict)
    objects: dict[str, KindEntry] = field(default_factory=dict)
    skills: dict[str, SkillEntry] = field(default_factory=dict)
    held_out: list[str] = field(default_factory=list)


SPLITS = ("train", "held_out", "all")


def suite_names() -> list[str]:
    """The suites in conf/suites, by name, sorted."""
    files = (resources.files("conf") / "suites").iterdir()
    return sorted(f.name.removesuffix(".yaml") for f in files if f.name.endswith(".yaml"))


def _read_suite(name: str, seen: tuple[str, ...] = ()) -> object:
    path = resources.files("conf") / "suites" / f"{name}.yaml"
    if not path.is_file():
        raise UnknownTaskError(f"no suite named {name!r}; " + _choices("suites", suite_names()))
    cfg = OmegaConf.load(str(path))
    base = cfg.get("extends")
    if base:
        if base in seen:
            raise UnknownTaskError(
                f"suite {name!r} extends itself through {' -> '.join((*seen, name, base))}"
            )
        parent = _read_suite(base, (*seen, name))
        held_out = list(dict.fromkeys([*parent.get("held_out", []), *cfg.get("held_out", [])]))
        cfg = OmegaConf.merge(parent, cfg)
        cfg.extends, cfg.held_out = None, held_out
    return cfg


def normalize(text: str) -> str:
    """Lower-case words and digits separated by single spaces: the key phrasings are compared by."""
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())


def _choices(kind: str, valid: object) -> str:
    return f"valid {kind}: {', '.join(sorted(valid))}"  # type: ignore[arg-type]


class TaskSuite:
    """A validated suite: the task grid, its train/held-out split and the instructions of each task."""

    def __init__(self, config: SuiteConfig) -> None:
        self.config = config
        for name, entry in config.objects.items():
            for c in entry.colours:
                if c not in config.colours:
                    raise UnknownTaskError(
                        f"suite object {name!r} uses colour {c!r}; " + _choices("colours", config.colours)
                    )
        for name, entry in config.skills.items():
            for k in entry.targets + entry.references:
                if k not in config.objects:
                    raise UnknownTaskError(
                        f"skill {name!r} names object kind {k!r}; " + _choices("kinds", config.objects)
                    )
        self.held_out = [self.resolve(t) for t in config.held_out]
        unknown = [t for t in self.held_out if t not in self._grid_set]
        if unknown:
            raise UnknownTaskError(f"held-out tasks not in the grid: {[t.id for t in unknown]}")
        declare(config)  # the kinds and skills its file declares, for the world to build and score

    def __reduce__(self) -> tuple:
        """Rebuilt from its config when unpickled (a Ray worker), so its declarations are made there too."""
        return (type(self), (self.config,))

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, name: str = "default") -> TaskSuite:
        """Load conf/suites/<name>.yaml (without Hydra), validated against `SuiteConfig`."""
        return cls.from_config(_read_suite(name))

    def match(self, patterns: list[str]) -> list[TaskSpec]:
        """Tasks whose ids match any glob pattern ("*pink_block*"); an unmatched pattern is an error."""
        chosen = [t for t in self.grid if any(fnmatch.fnmatchcase(t.id, p) for p in patterns)]
        unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(t.id, p) for t in self.grid)]
        if unmatched:
            raise UnknownTaskError(
                f"tasks {unmatched} match nothing in this suite; see `bcz tasks` for the ids"
            )
        return chosen

    @classmethod
    def from_config(cls, cfg: object) -> TaskSuite:
        """A suite from a loaded mapping (a suite YAML or a dict), validated against `SuiteConfig`."""
        merged = OmegaConf.merge(OmegaConf.structured(SuiteConfig), cfg)
        return cls(OmegaConf.to_object(merged))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ grid and split
    def objects_of(self, kind: str) -> list[ObjectRef]:
        """Every object of one kind, one per colour it comes in."""
        return [ObjectRef(c, kind) for c in self.config.objects[kind].colours]

    @cached_property
    def all_objects(self) -> list[ObjectRef]:
        """Every object of the suite, kind by kind."""
        return [o for kind in self.config.objects for o in self.objects_of(kind)]

    @cached_property
    def grid(self) -> list[TaskSpec]:
        """Every task the suite defines: each skill over its target (and reference) kinds, never one
        object in both roles."""
        tasks = []
        for skill, entry in self.config.skills.items():
            targets = [o for k in entry.targets for o in self.objects_of(k)]
            if not entry.references:
                tasks += [TaskSpec(skill, t) for t in targets]
                continue
            refs = [o for k in entry.references for o in self.objects_of(k)]
            tasks += [TaskSpec(skill, t, r) for t, r in product(targets, refs) if t != r]
        return tasks

    @cached_property
    def _held_out_set(self) -> frozenset[TaskSpec]:
        return frozenset(self.held_out)

    @cached_property
    def _grid_set(self) -> frozenset[TaskSpec]:
        return frozenset(self.grid)

    def tasks(self, split: str = "train") -> list[TaskSpec]:
        """The tasks of a split ("train", "held_out" or "all"), in grid order."""
        if split not in SPLITS:
            raise UnknownTaskError(f"unknown split {split!r}; " + _choices("splits", SPLITS))
        if split == "all":
            return list(self.grid)
        return [t for t in self.grid if (t in self._held_out_set) == (split == "held_out")]

    def split_of(self, task: TaskSpec) -> str:
        """The split a task belongs to: "held_out" or "train"."""
        return "held_out" if task in self._held_out_set else "train"

    # ------------------------------------------------------------------ language
    def object_phrases(self, obj: ObjectRef, more_words: Sequence[str] = ()) -> list[str]:
        """The ways to name an object: its colour before each word for its kind (plus `more_words`)."""
        return [f"{obj.colour} {w}" for w in [*self.config.objects[obj.kind].words, *more_words]]

    def instructions(
        self,
        task: TaskSpec,
        more_templates: Sequence[str] = (),
        more_words: Mapping[str, Sequence[str]] | None = None,
    ) -> list[str]:
        """Every phrasing of a task: each template with each synonym of its objects; with the templates
        and words (per kind) given after the suite's own (training's paraphrases, `policy.paraphrase`)."""
        more_words = more_words or {}

        def names(obj: ObjectRef) -> list[str]:
            return self.object_phrases(obj, more_words.get(obj.kind, ()))

        refs = names(task.reference) if task.reference else [""]
        return [
            t.format(target=a, reference=b)
            for t in [*self.config.skills[task.skill].phrasings, *more_templates]
            for a in names(task.target)
            for b in refs
        ]

    def instruction(self, task: TaskSpec, rng: np.random.Generator) -> str:
        """One phrasing, drawn the same way for the same generator state."""
        options = self.instructions(task)
        return options[int(rng.integers(len(options)))]

    @cached_property
    def _by_text(self) -> dict[str, TaskSpec]:
        table: dict[str, TaskSpec] = {}
        for task in self.grid:
            for text in self.instructions(task):
                key = normalize(text)
                if table.setdefault(key, task) != task:
                    raise UnknownTaskError(f"phrasing {text!r} is ambiguous: {table[key]} and {task}")
        return table

    def known(self, text: str) -> TaskSpec | None:
        """The task whose phrasing `text` is (case and spacing aside), or None."""
        return self._by_text.get(normalize(text))

    def closest(self, text: str) -> TaskSpec | None:
        """The task free text most likely means: a known phrasing, else the grid task over the objects it
        names (in order: target, then reference) whose phrasings share the most words with it; None
        when it names no object of the suite."""
        key = normalize(text)
        if key in self._by_text:
            return self._by_text[key]
        named = self._mentions(key)
        if not named:
            return None
        words = set(key.split())

        def overlap(task: TaskSpec) -> float:
            return max(len(words & set(normalize(t).split())) for t in self.instructions(task))

        for wanted in (named[:2], named[:1]):
            candidates = [t for t in self.grid if t.objects[: len(wanted)] == wanted]
            if candidates:
                return max(candidates, key=overlap)
        return None

    def _mentions(self, key: str) -> list[ObjectRef]:
        """The suite objects a normalized text names ('red cube', 'yellow rubber duck'), in order."""
        phrases = sorted(
            ((normalize(p), obj) for obj in self.all_objects for p in self.object_phrases(obj)),
            key=lambda item: -len(item[0]),
        )
        found: list[tuple[int, ObjectRef]] = []
        padded = f" {key} "
        for phrase, obj in phrases:
            at = padded.find(f" {phrase} ")
            if at >= 0 and all(o != obj for _, o in found):
                found.append((at, obj))
                padded = padded.replace(f" {phrase} ", " " + "#" * len(phrase) + " ", 1)
        return [obj for _, obj in sorted(found, key=lambda item: item[0])]

    # ------------------------------------------------------------------ parsing
    def resolve(self, task: str | TaskSpec) -> TaskSpec:
        """A TaskSpec from a spec, a task id (put_in/red_block/green_bowl) or a known instruction."""
        if isinstance(task, TaskSpec):
            spec = task
        elif "/" in task:
            spec = self._parse_id(task)
        else:
            spec = self._by_text.get(normalize(task))
            if spec is None:
                raise UnknownTaskError(
                    f"unknown task {task!r}: give a task id such as {self.grid[0].id!r} or a phrasing like "
                    f"{self.instructions(self.grid[0])[0]!r}; {_choices('skills', self.config.skills)}; "
                    f"{_choices('colours', self.config.colours)}; {_choices('objects', self.config.objects)}"
                )
        if spec not in self._grid_set:
            raise UnknownTaskError(f"task {spec.id!r} is not in the suite's grid: {self._why_not(spec)}")
        return spec

    def _parse_id(self, text: str) -> TaskSpec:
        skill, *objects = text.strip().split("/")
        if skill not in self.config.skills:
            raise UnknownTaskError(f"unknown skill {skill!r}; " + _choices("skills", self.config.skills))
        refs = []
        for name in objects:
            ref = ObjectRef.parse(name)
            if ref.colour not in self.config.colours:
                raise UnknownTaskError(
                    f"unknown colour {ref.colour!r} in {text!r}; " + _choices("colours", self.config.colours)
                )
            if ref.kind not in self.config.objects:
                raise UnknownTaskError(
                    f"unknown object {ref.kind!r} in {text!r}; " + _choices("objects", self.config.objects)
                )
            refs.append(ref)
        wants = 2 if self.config.skills[skill].references else 1
        if len(refs) != wants:
            example = next(t.id for t in self.grid if t.skill == skill)
            raise UnknownTaskError(
                f"skill {skill!r} takes {wants} object(s), got {len(refs)} in {text!r}; e.g. {example!r}"
            )
        return TaskSpec(skill, refs[0], refs[1] if wants == 2 else None)

    def _why_not(self, spec: TaskSpec) -> str:
        entry = self.config.skills[spec.skill]
        for role, obj, kinds in [
            ("target", spec.target, entry.targets),
            ("reference", spec.reference, entry.references),
        ]:
            if obj is None:
                continue
            if obj.kind not in kinds:
                return f"{spec.skill} takes a {role} of kind {' or '.join(kinds)}, not {obj.kind}"
            if obj.colour not in self.config.objects[obj.kind].colours:
                return f"the suite has no {obj.colour} {obj.kind}; " + _choices(
                    f"{obj.kind} colours", self.config.objects[obj.kind].colours
                )
        return "target and reference must differ"

    # ------------------------------------------------------------------ split checks
    def split_violations(self) -> list[str]:
        """Held-out tasks whose skill, objects or words never appear in a train task (BC-Z's rule)."""
        train = self.tasks("train")
        seen_objects = {o for t in train for o in t.objects}
        seen_skills = {t.skill for t in train}
        seen_words = {w for t in train for text in self.instructions(t) for w in normalize(text).split()}
        problems = []
        for task in self.held_out:
            if task.skill not in seen_skills:
                problems.append(f"{task}: skill {task.skill} is only held out")
            problems += [
                f"{task}: object {o.name} never appears in train"
                for o in task.objects
                if o not in seen_objects
            ]
            words = {w for text in self.instructions(task) for w in normalize(text).split()}
            if words - seen_words:
                problems.append(f"{task}: words {sorted(words - seen_words)} never appear in train")
        return problems
