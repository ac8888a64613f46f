"""Language augmentation for training: phrasings of a task that the suite itself does not have.

The suite names each task a few ways (its templates times its object words); a policy trained only on
those learns the suite's wording, and does worse on object words it never saw
(`benchmarks/unseen_phrasings.py`; see docs/notes/language.md). Paraphrases add sentence templates and
object words from conf/paraphrase_sets/<name>.yaml, crossed with the suite's own, so the frozen
encoder's vector for a task varies in training the way a person's wording does. They are used in
training only (`bcz train paraphrase_set=default`; never in validation batches): the suite, its
evaluation and the unseen-phrasing benchmark never see them.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
from omegaconf import OmegaConf

from tasks.suite import TaskSpec, TaskSuite, normalize

log = logging.getLogger(__name__)


@dataclass
class ParaphraseConfig:
    base: str | None = None  # a set (conf/paraphrase_sets/<base>.yaml) whose templates and words come first
    templates: dict[str, list[str]] = field(default_factory=dict)  # skill -> extra sentence templates
    words: dict[str, list[str]] = field(default_factory=dict)  # object kind -> extra words for it


def _valid_names() -> list[str]:
    folder = resources.files("conf") / "paraphrase_sets"
    return sorted(f.name.removesuffix(".yaml") for f in folder.iterdir() if f.name.endswith(".yaml"))


def _read(name: str, seen: tuple[str, ...] = ()) -> ParaphraseConfig:
    """conf/paraphrase_sets/<name>.yaml, with its base's templates and words before its own."""
    path = resources.files("conf") / "paraphrase_sets" / f"{name}.yaml"
    if not path.is_file():
        named = f" (the base of {seen[-1]})" if seen else ""
        raise ValueError(f"no paraphrases named {name!r}{named}; valid: {', '.join(_valid_names())}")
    if name in seen:
        raise ValueError(f"paraphrase sets name each other as base: {' -> '.join([*seen, name])}")
    merged = OmegaConf.merge(OmegaConf.structured(ParaphraseConfig), OmegaConf.load(str(path)))
    config: ParaphraseConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    if config.base is None:
        return config
    base = _read(config.base, (*seen, name))
    for own, inherited in ((config.templates, base.templates), (config.words, base.words)):
        for key, values in inherited.items():
            own[key] = list(dict.fromkeys([*values, *own.get(key, [])]))
    return config


class Paraphrases:
    """Extra phrasings per task, checked against a suite when built.

    A set may name skills and object kinds a suite lacks (the default set on a suite of your own): those
    are left out, and said once. A set that names none of the suite's is refused, as is a template that
    does not name the objects its skill needs."""

    def __init__(self, config: ParaphraseConfig, suite: TaskSuite, per_task: int = 96) -> None:
        skills, kinds = suite.config.skills, suite.config.objects
        templates = {s: t for s, t in config.templates.items() if s in skills}
        words = {k: w for k, w in config.words.items() if k in kinds}
        if not templates and not words:
            raise ValueError(
                f"paraphrases name none of the suite's skills or object kinds (they name skills "
                f"{sorted(config.templates)}, object kinds {sorted(config.words)}); valid skills: "
                f"{', '.join(sorted(skills))}; valid kinds: {', '.join(sorted(kinds))}"
            )
        left_out = sorted({*config.templates, *config.words} - {*templates, *words})
        if left_out:
            log.info("paraphrases for %s left out: the suite has no such skill or object kind", left_out)
        for skill, texts in templates.items():
            needs_reference = bool(skills[skill].references)
            for t in texts:
                if "{target}" not in t or ("{reference}" in t) != needs_reference:
                    slots = "{target} and {reference}" if needs_reference else "{target} only"
                    raise ValueError(f"paraphrase {t!r} of {skill} must name {slots}")
        self.config = ParaphraseConfig(config.base, templates, words)
        self.suite = suite
        self.per_task = per_task

    @classmethod
    def load(cls, name: str, suite: TaskSuite, per_task: int = 96) -> Paraphrases:
        """conf/paraphrase_sets/<name>.yaml, validated against `suite`."""
        return cls(_read(name), suite, per_task)

    def of(self, task: TaskSpec) -> list[str]:
        """Phrasings of `task` the suite does not have: every template (the suite's and the extra ones)
        with every word (likewise), at most `per_task` of them, drawn the same way for the same task."""
        extra = self.config.templates.get(task.skill, [])
        own = {normalize(t) for t in self.suite.instructions(task)}
        texts = [
            text
            for text in dict.fromkeys(self.suite.instructions(task, extra, self.config.words))
            if normalize(text) not in own
        ]
        if len(texts) > self.per_task:
            rng = np.random.default_rng(zlib.crc32(task.id.encode()))
            texts = [texts[i] for i in sorted(rng.choice(len(texts), self.per_task, replace=False))]
        return texts
