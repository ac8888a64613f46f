"""The task suite: grid, BC-Z split, language, and parsing with helpful errors."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from tasks.cli import propose_held_out
from tasks.suite import ObjectRef, TaskSpec, TaskSuite, UnknownTaskError, normalize


def test_suite_has_enough_skills_colours_and_kinds(suite):
    assert len(suite.config.skills) >= 6
    assert len(suite.config.colours) >= 6
    assert len(suite.config.objects) >= 5
    assert {t.skill for t in suite.grid} == set(suite.config.skills)


def test_split_holds_out_a_fifth_and_follows_bczs_rule(suite):
    held, train = suite.tasks("held_out"), suite.tasks("train")
    assert len(held) >= 0.2 * len(suite.grid)
    assert set(held).isdisjoint(train) and len(held) + len(train) == len(suite.grid)
    assert suite.split_violations() == []
    train_words = {w for t in train for s in suite.instructions(t) for w in normalize(s).split()}
    for task in held:
        assert task.skill in {t.skill for t in train}
        assert all(o in {o for t in train for o in t.objects} for o in task.objects)
        assert {w for s in suite.instructions(task) for w in normalize(s).split()} <= train_words


def test_split_rule_catches_a_bad_split(suite):
    cfg = OmegaConf.to_container(OmegaConf.structured(suite.config))
    cfg["held_out"] = [t.id for t in suite.grid if t.skill == "knock_over"]  # a skill never trained
    bad = TaskSuite.from_config(cfg)
    assert any("only held out" in v for v in bad.split_violations())


def test_proposed_split_is_valid_and_seeded(suite):
    a = propose_held_out(suite, 0.25, seed=1)
    assert a == propose_held_out(suite, 0.25, seed=1)
    cfg = OmegaConf.to_container(OmegaConf.structured(suite.config))
    cfg["held_out"] = [t.id for t in a]
    assert TaskSuite.from_config(cfg).split_violations() == []
    assert len(a) >= 0.2 * len(suite.grid)


def test_instructions_use_synonyms_and_are_seeded(suite):
    task = suite.resolve("put_in/red_block/green_bowl")
    texts = suite.instructions(task)
    assert "put the red block in the green bowl" in texts
    assert "place the red cube into the green dish" in texts
    draw = lambda seed: [suite.instruction(task, np.random.default_rng(seed)) for _ in range(5)]  # noqa: E731
    assert draw(0) == draw(0)


@pytest.mark.parametrize(
    "text",
    [
        "put_in/red_block/green_bowl",
        "Put the red cube in the green dish!",
        "  place the RED block into the green bowl ",
    ],
)
def test_resolve_ids_and_phrasings(suite, text):
    assert suite.resolve(text) == TaskSpec("put_in", ObjectRef("red", "block"), ObjectRef("green", "bowl"))


@pytest.mark.parametrize(
    "text,mentions",
    [
        ("juggle/red_block", ["unknown skill 'juggle'", "pick_up", "stack_on"]),
        ("pick_up/pink_block", ["unknown colour 'pink'", "red", "orange"]),
        ("pick_up/red_elephant", ["unknown object 'elephant'", "block", "duck"]),
        ("stack_on/red_bowl/blue_block", ["stack_on takes a target of kind block"]),
        ("pick_up/purple_duck", ["no purple duck", "yellow"]),
        ("put_in/red_block", ["takes 2 object(s)"]),
        ("dance with the red block", ["unknown task", "valid skills", "valid colours"]),
    ],
)
def test_unknown_names_list_the_valid_ones(suite, text, mentions):
    with pytest.raises(UnknownTaskError) as err:
        suite.resolve(text)
    for m in mentions:
        assert m in str(err.value)


def test_unknown_split_and_suite(suite):
    with pytest.raises(UnknownTaskError, match="valid splits"):
        suite.tasks("test")
    with pytest.raises(UnknownTaskError, match="valid suites: coasters, default, extended"):
        TaskSuite.load("nope")


def test_config_errors_name_the_problem(suite):
    cfg = OmegaConf.to_container(OmegaConf.structured(suite.config))
    cfg["objects"]["block"]["colours"].append("pink")
    with pytest.raises(UnknownTaskError, match="colour 'pink'"):
        TaskSuite.from_config(cfg)


def test_free_text_finds_the_closest_task():
    suite = TaskSuite.load()
    assert suite.closest("push the blue block to the blue bowl").id == "push_to/blue_block/blue_bowl"
    assert suite.closest("please put the red cube into the green dish").id == "put_in/red_block/green_bowl"
    assert suite.closest("lift the yellow rubber duck").id == "pick_up/yellow_duck"
    assert suite.closest("shove the blue cube next to the blue bowl").id == "push_to/blue_block/blue_bowl"
    assert suite.closest("stack the red block on the green block").id == "stack_on/red_block/green_block"
    assert suite.closest("wave hello") is None
    assert suite.closest("pick up the purple bowl") is None  # bowls come in green, blue and yellow
