"""Training-only paraphrases: new wordings of a task, kept apart from the suite and the benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from policy.data import DemoData
from policy.language import SentenceEncoder
from policy.paraphrase import ParaphraseConfig, Paraphrases
from tasks.suite import TaskSuite, normalize, suite_names


def test_paraphrases_are_new_wordings_of_the_same_task(suite):
    paraphrases = Paraphrases.load("default", suite)
    task = suite.resolve("put_in/red_block/green_bowl")
    texts = paraphrases.of(task)
    assert 0 < len(texts) <= paraphrases.per_task
    own = {normalize(t) for t in suite.instructions(task)}
    assert not own & {normalize(t) for t in texts}
    # every one names the task's colours, in its order; new words show up
    assert all(t.index("red") < t.index("green") for t in texts)
    assert any("cup" in t or "mixing bowl" in t for t in texts)
    assert texts == Paraphrases.load("default", suite).of(task)  # the same draw every time


@pytest.mark.parametrize("name", ["default", "wide"])
def test_paraphrases_share_no_word_or_template_with_the_unseen_phrasing_benchmark(
    suite, name, unseen_phrasings
):
    """The benchmark's new words stay new: no training word shares a stem with one ("ducky" would give
    "duckie" away), and no template is one of its templates."""
    bench = unseen_phrasings
    config = Paraphrases.load(name, suite).config
    suite_words = {w for o in suite.config.objects.values() for phrase in o.words for w in phrase.split()}

    def stems(phrases) -> set[str]:
        return {w[:4] for phrase in phrases for w in phrase.split() if w not in suite_words}

    for kind, words in config.words.items():
        shared = stems(words) & {s for ws in bench.WORDS.values() for s in stems(ws)}
        assert not shared, (kind, shared)

    for skill, templates in config.templates.items():
        assert not {normalize(t) for t in templates} & {normalize(t) for t in bench.TEMPLATES[skill]}, skill


@pytest.mark.parametrize(
    "config, message",
    [
        (ParaphraseConfig(templates={"juggle": ["juggle the {target}"]}), "skills ['juggle']"),
        (ParaphraseConfig(words={"spoon": ["ladle"]}), "object kinds ['spoon']"),
        (ParaphraseConfig(), "name none of the suite's skills or object kinds"),
        (
            ParaphraseConfig(templates={"put_in": ["put the {target} away"]}),
            "must name {target} and {reference}",
        ),
        (ParaphraseConfig(templates={"pick_up": ["lift it"]}), "must name {target} only"),
    ],
)
def test_a_bad_paraphrase_set_is_refused_with_what_is_valid(suite, config, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("{", r"\{")):
        Paraphrases(config, suite)
    with pytest.raises(ValueError, match="valid: default"):
        Paraphrases.load("nope", suite)


def test_a_set_for_a_bigger_suite_keeps_what_this_suite_has(suite, caplog):
    """The default set on a suite of one's own: what the suite lacks is left out and said, the rest used."""
    config = ParaphraseConfig(
        templates={"juggle": ["juggle the {target}"], "pick_up": ["hoist the {target}"]},
        words={"spoon": ["ladle"], "block": ["brick-ish thing"]},
    )
    with caplog.at_level("INFO", logger="policy.paraphrase"):
        paraphrases = Paraphrases(config, suite)
    assert "['juggle', 'spoon'] left out" in caplog.text
    assert set(paraphrases.config.templates) == {"pick_up"} and set(paraphrases.config.words) == {"block"}
    texts = paraphrases.of(suite.resolve("pick_up/red_block"))
    assert "hoist the red block" in texts and "hoist the red brick-ish thing" in texts


def test_training_tells_a_paraphrase_with_its_probability(tiny_dataset, suite, tmp_path):
    encoder = SentenceEncoder(cache=tmp_path / "embeddings")
    paraphrases = Paraphrases.load("default", suite, per_task=8)
    told = {}
    for prob in (0.0, 0.5):
        data = DemoData(
            str(tiny_dataset),
            encoder,
            10,
            suite=suite,
            relabels=False,
            val_fraction=0,
            progress=False,
            paraphrases=paraphrases,
            paraphrase_prob=prob,
        )
        rng = np.random.default_rng(0)
        picks = [data._instruction(s, rng, True) for _ in range(50) for s in data.segments]
        extra = {i for s in data.segments for i in s.paraphrases}
        told[prob] = np.mean([i in extra for i in picks])
        assert all(len(s.paraphrases) == 8 for s in data.segments)
        validation = [data._instruction(s, rng, False) for _ in range(50) for s in data.segments]
        assert not extra & set(validation)  # validation is told the suite's phrasings only
    assert told[0.0] == 0.0 and 0.4 < told[0.5] < 0.6


def test_a_set_builds_on_its_base(suite):
    default, wide = Paraphrases.load("default", suite).config, Paraphrases.load("wide", suite).config
    assert wide.templates == default.templates
    for kind, words in default.words.items():
        assert wide.words[kind][: len(words)] == words and len(wide.words[kind]) == len(words) + 12


@pytest.mark.parametrize("name", suite_names())
def test_no_suite_calls_a_kind_by_a_word_the_paraphrases_give_another(name):
    """A new kind called "plate" would be read as the bowl the paraphrases also call a plate."""
    suite = TaskSuite.load(name)
    for set_name in ("default", "wide"):
        words = Paraphrases.load(set_name, suite).config.words
        for kind, entry in suite.config.objects.items():
            clashes = {
                other: set(entry.words) & set(extra) for other, extra in words.items() if other != kind
            }
            assert not any(clashes.values()), f"{name}: {kind} {clashes}"
