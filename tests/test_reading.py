"""Colour words said another way, and the task a typed instruction is read as at the prompt."""

from __future__ import annotations

import pytest

from deploy.reading import InstructionReading
from deploy.run import checkpoint_path
from policy import Policy
from tasks.colour_words import ColourWords


@pytest.fixture(scope="module")
def colours(suite) -> ColourWords:
    return ColourWords.of_suite(suite.config)


@pytest.mark.parametrize(
    "said, heard",
    [
        ("put the crimson cube in the cobalt dish", "put the red cube in the blue dish"),
        ("knock over the eggplant bottle", "knock over the purple bottle"),
        ("pick up the mustard duck", "pick up the yellow duck"),
        ("stack the lime block on the tangerine block", "stack the green block on the orange block"),
        ("pick up the red brick", "pick up the red brick"),  # a noun after a colour is no colour
        ("put the brick in the bowl", "put the brick in the bowl"),  # nor one before a preposition
        ("pick up the sky blue block", "pick up the sky blue block"),  # the suite's own, modified
    ],
)
def test_colour_words_are_said_as_the_suites_colours(colours, said, heard):
    assert colours.rewrite(said).text == heard


def test_a_colour_the_suite_cannot_place_is_a_question(colours):
    rewritten = colours.rewrite("pick up the brown cube")
    assert rewritten.question == "which cube: orange or red?" and rewritten.text == "pick up the brown cube"


def test_a_colour_the_suite_lacks_is_a_question_not_its_nearest_colour(colours):
    """People call these pink, not red or purple (the examples' vote), and the suite has no pink object."""
    for said in ("pink", "hot pink"):
        rewritten = colours.rewrite(f"pick up the {said} block")
        assert rewritten.read == [] and rewritten.question == "which block: red or purple?", said
    # the question offers only the colours the object comes in (ducks: yellow, orange, blue)
    assert colours.rewrite("pick up the pink duck").question == "which duck: orange or yellow?"


@pytest.mark.parametrize(
    "said, question",
    [
        (
            "put the yellow block in the buttercup dish",
            "which dish: green, blue or yellow?",
        ),  # no list has it
        ("pick up the duck", "which duck: yellow, orange or blue?"),
        ("pick up the buttercup rubber duck", "which duck: yellow, orange or blue?"),
        ("put the red toy duck in the green bowl", None),  # its colour before another of its words
        ("stack the red block on top of the blue block", None),
        ("pick up the red brick", None),  # a word the suite does not use for an object: not asked about
    ],
)
def test_an_object_named_without_a_colour_it_comes_in_is_a_question(colours, said, question):
    assert colours.uncoloured(colours.rewrite(said).text) == question


def test_a_colour_added_beside_one_of_its_family_takes_the_names_nearer_it(suite):
    """A suite "maroon" is in red's family: dark reds are read as it, bright ones as red."""
    colours = ColourWords({**suite.config.colours, "maroon": [0.5, 0.0, 0.0]})
    assert colours.families["maroon"] == {"maroon", "red"}
    said = colours.rewrite("put the burgundy cube by the scarlet cube and the navy cube")
    assert said.text == "put the maroon cube by the red cube and the blue cube" and said.question is None


@pytest.fixture(scope="module")
def reading(suite) -> InstructionReading:
    return InstructionReading(Policy.from_pretrained(checkpoint_path("default")), suite)


def test_the_shipped_policy_reads_other_words_as_the_task_they_name(reading):
    assert reading.read("Put the red block in the blue bowl").task.id == "put_in/red_block/blue_bowl"
    crimson = reading.read("put the crimson cube in the cobalt dish")
    assert crimson.task.id == "put_in/red_block/blue_bowl" and crimson.question is None
    assert crimson.colours == [("crimson", "red"), ("cobalt", "blue")]
    brown = reading.read("pick up the brown block")
    assert brown.task is None and brown.question == "which block: orange or red?"


def test_the_suites_own_phrasings_and_paraphrases_are_never_rewritten(suite, colours):
    """So the suite evaluation, and training's paraphrases, reach the policy exactly as before."""
    from policy.paraphrase import Paraphrases

    wide = Paraphrases.load("wide", suite)
    for task in suite.grid:
        for text in [*suite.instructions(task), *wide.of(task)]:
            assert colours.rewrite(text).text == text
            assert colours.uncoloured(text) is None, text  # and never asked about


def test_text_that_is_nothing_it_was_taught_or_a_question_is_not_understood(reading):
    for text in ("wave hello to everyone", "open the door", "asdf jkl", "paint the red block blue"):
        said = reading.read(text)
        assert said.task is None and said.unplaced == "it is nothing I was taught to do", text
    question = reading.read("where is the red block?")
    assert question.task is None and question.unplaced == "it is a question, not something to do"
    # an object word the suite lacks keeps the sentence's shape: read as the task it names
    assert reading.masked("raise the red brick off the table") == "raise the thing off the table"
    assert reading.read("raise the red brick off the table").task.id == "pick_up/red_block"
    assert "block (" in reading.known_things() and "stack on" in reading.known_things()


def test_a_word_it_cannot_place_as_a_colour_is_asked_about(reading):
    """ "the buttercup duckie": no list knows the word nor the suite the noun, so the sentence sounds like
    nothing taught; said as a colour it would, so the prompt asks which colour rather than refusing."""
    said = reading.read("take the buttercup duckie")
    assert said.task is None and said.unplaced is None
    assert (
        said.question == "which colour is the buttercup duckie: red, green, blue, yellow, purple or orange?"
    )
    for text in ("wave hello to everyone", "open the door", "paint the red block blue"):
        assert reading.read(text).question is None, text  # still not understood


def test_the_benchmarks_user_says_again_what_the_prompt_asks_about(reading, unseen_phrasings):
    """benchmarks/unseen_phrasings.py answers the prompt's questions as a user would: the colour words it
    did not read said as the suite's; the ones it read stay as said."""
    bench = unseen_phrasings
    said = "put the vermilion block in the buttercup dish"
    assert bench.said_again(reading, said) == "put the vermilion block in the yellow dish"
    assert bench.said_again(reading, "drop the mandarin duckie into the buttercup basin") == (
        "drop the mandarin duckie into the yellow basin"
    )
    assert bench.said_again(reading, "put the vermilion block in the cerulean dish") is None
