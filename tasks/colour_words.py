"""Colour words people use, read as the suite's colours: "crimson cube" is the red block.

The sentence encoder knows little of colour names (MiniLM puts 6 of 18 shade names nearest their own
colour), and the instruction reader learns only the colour words it is fit on. People's colour words
come from lists of names with their sRGB values instead: a survey's 949 (tasks/colour_names.tsv, Randall
Munroe's colour survey, CC0), then 4,416 more (tasks/colour_names_more.tsv, color-names, MIT). A name is
read as the suite colour nearest it in OKLab (lightness counting a quarter); when the two nearest are
nearly as near as each other, it is not read at all: the caller asks which one was meant.

A name counts as a colour word only where it can be one: before another word that is not a
preposition or an article, and not right after another colour ("the red brick" is a brick; "the brick
red cube" is red).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np

UNSURE = 0.8  # nearest / second-nearest suite colour distance above this: ask which
_FOLLOWERS = """a an the in into on onto to toward towards of at by from with near beside next left right up
down over under top side and or then please it its this that inside off behind above below between
against atop across around now quickly slowly carefully gently again back away there here is"""
_THINGS = """brick wine tea sea sky ice sand stone steel silver mud dirt dust ocean grass leaf earth clay
cement charcoal chocolate coffee butter straw wheat pine swamp slate forest dark pale metal metallic rubber
hot cool lucky sour spicy vintage"""
NOT_A_NOUN = set(_FOLLOWERS.split())  # words a colour word is never followed by
# names that are things, materials or other adjectives first ("a tea cup")
NOT_A_COLOUR = set(_THINGS.split())
# People's colour names, most trusted first: the survey (949 names), then color-names' curated list (4,416
# more: vermilion, cardinal, clementine, ...).
NAME_FILES = ("colour_names.tsv", "colour_names_more.tsv")
LIGHTNESS_WEIGHT = 0.25  # a colour's family is its hue and chroma more than its lightness (navy is blue)


def oklab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (..., 3) -> OKLab (Ottosson 2020), where equal distances look about equally
    different, blues included (CIELAB bends blue towards purple)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    lms = linear @ np.array(
        [
            [0.4122214708, 0.2119034982, 0.0883024619],
            [0.5363325363, 0.6806995451, 0.2817188376],
            [0.0514459929, 0.1073969566, 0.6299787005],
        ]
    )
    return np.cbrt(lms) @ np.array(
        [
            [0.2104542553, 1.9779984951, 0.0259040371],
            [0.7936177850, -2.4285922050, 0.7827717662],
            [-0.0040720468, 0.4505937099, -0.8086757660],
        ]
    )


@cache
def colour_names() -> dict[str, np.ndarray]:
    """name -> sRGB in [0, 1], from NAME_FILES (an earlier file's value of a name stands)."""
    names: dict[str, np.ndarray] = {}
    for file in NAME_FILES:
        for line in (resources.files("tasks") / file).read_text().splitlines():
            if line and not line.startswith("#"):
                name, hex_ = line.split("\t")
                names.setdefault(name, np.array([int(hex_[i : i + 2], 16) / 255 for i in (1, 3, 5)]))
    return names


@dataclass
class Rewritten:
    """An instruction with its colour words said as the suite's colours."""

    text: str
    read: list[tuple[str, str]] = field(default_factory=list)  # (the words said, the suite colour)
    unsure: list[tuple[str, str, str, str]] = field(default_factory=list)  # (said, colour, other, next word)

    @property
    def question(self) -> str | None:
        """ "which cube: red or orange?" for the first colour word that could be either."""
        if not self.unsure:
            return None
        _, colour, other, noun = self.unsure[0]
        return f"which {noun or 'one'}: {colour} or {other}?"


class ColourWords:
    """Reads colour words as the colours of a suite (name -> sRGB in [0, 1])."""

    def __init__(self, colours: dict[str, list[float]]) -> None:
        self.colours = list(colours)
        self.labs = oklab(np.array([colours[c] for c in self.colours]))
        self.names = colour_names()

    def nearest(self, name: str) -> tuple[str, str, float]:
        """The two suite colours nearest a colour name, and the ratio of their distances (1: a tie)."""
        weights = np.array([LIGHTNESS_WEIGHT, 1.0, 1.0])
        d = np.linalg.norm((self.labs - oklab(self.names[name])) * weights, axis=-1)
        if len(d) < 2:  # a suite of one colour: nothing to choose between
            return self.colours[0], self.colours[0], 0.0
        first, second = np.argsort(d)[:2]
        return self.colours[first], self.colours[second], float(d[first] / max(d[second], 1e-9))

    def rewrite(self, text: str) -> Rewritten:
        """`text` with each colour word it uses replaced by the suite colour it names (unsure ones kept)."""
        words, out = text.split(), Rewritten(text)
        kept, i, after_colour = [], 0, False
        while i < len(words):
            match = self._colour_at(words, i, after_colour)
            if match is None:
                after_colour = words[i].lower().strip(",.") in self.colours
                kept.append(words[i])
                i += 1
                continue
            span, name = match
            said = " ".join(words[i : i + span])
            colour, other, ratio = self.nearest(name)
            if ratio > UNSURE:
                out.unsure.append((said, colour, other, words[i + span].strip(",.?!")))
                kept.append(said)
            else:
                out.read.append((said, colour))
                kept.append(colour)
            i, after_colour = i + span, True
        out.text = " ".join(kept)
        return out

    def _colour_at(self, words: list[str], i: int, after_colour: bool) -> tuple[int, str] | None:
        """(words spanned, colour name) of a colour word other than the suite's starting at `i`."""
        if after_colour or words[i].lower().strip(",.") in self.colours:  # a suite colour: the reader's
            return None
        for span in (3, 2, 1):
            if i + span >= len(words):  # a colour word comes before what it colours
                continue
            name = " ".join(w.lower().strip(",.") for w in words[i : i + span])
            if name in self.colours or (span > 1 and name.split()[-1] in self.colours):
                return None  # the suite's colour, maybe with a modifier ("sky blue"): the reader's to read
            if name in NOT_A_COLOUR:
                continue
            if name in self.names and words[i + span].lower().strip(",.?!") not in NOT_A_NOUN:
                return span, name
        return None
