"""Which task a typed instruction is read as at the prompt, and the question asked instead of a guess."""

from __future__ import annotations

import pytest

from deploy.reading import InstructionReading, colour_question
from deploy.run import checkpoint_path
from policy import Policy


@pytest.fixture(scope="module")
def reading(suite) -> InstructionReading:
    return InstructionReading(Policy.from_pretrained(checkpoint_path("default")), suite)


def test_the_question_names_the_one_colour_two_readings_differ_in(suite):
    red_in_blue = suite.resolve("put_in/red_block/blue_bowl")
    assert (
        colour_question(red_in_blue, suite.resolve("put_in/orange_block/blue_bowl"))
        == "which block: red or orange?"
    )
    assert (
        colour_question(red_in_blue, suite.resolve("put_in/red_block/green_bowl"))
        == "which bowl: blue or green?"
    )
    assert colour_question(red_in_blue, suite.resolve("put_in/orange_block/green_bowl")) is None  # two differ
    assert colour_question(red_in_blue, suite.resolve("put_in/red_block/red_tray")) is None  # another kind
    assert colour_question(suite.resolve("pick_up/red_block"), suite.resolve("knock_over/red_bottle")) is None


def test_a_suite_phrasing_is_read_as_its_task(reading):
    assert reading.read("Put the red block in the blue bowl").task.id == "put_in/red_block/blue_bowl"
