"""Colour words people use, read as the suite's colours: "crimson cube" is the red block.

The sentence encoder knows little of colour names (MiniLM puts 6 of 18 shade names nearest their own
colour), and the instruction reader learns only the colour words it is fit on. People's colour words
come from lists of names with their sRGB values instead: a survey's 949 (tasks/colour_names.tsv, Randall
Munroe's colour survey, CC0), then 4,416 more (tasks/colour_names_more.tsv, color-names, MIT). Where
people drew the line between two colours comes from the same lists: a name whose last word is a colour
("forest green", "hot pink") says which colour its sRGB belongs to. A name is read as the colour most
of its nearest such examples carry (in OKLab, lightness counting a quarter); when that colour is not
one of the suite's ("pink" without a pink object) or too few of them agree, it is not read at all: the
caller asks which of the suite's colours was meant.

A name counts as a colour word only where it can be one: before another word that is not a
preposition or an article, and not right after another colour ("the red brick" is a brick; "the brick
red cube" is red).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tasks.suite import SuiteConfig

NEIGHBOURS = 9  # named examples that vote on a colour name's colour
AGREE = 0.6  # the share of them that must name the same colour for it to be read (else: ask which)
# the colours people name (Berlin and Kay's basic terms) besides the suite's: examples of these keep
# "pink" or "grey" from being read as whichever suite colour lies nearest
BASIC_COLOURS = (
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
    "grey",
    "black",
    "white",
)
SPELLINGS = {"gray": "grey"}  # one family, two spellings
UNSURE = 0.8  # between two suite colours of one family: nearest / second-nearest distance above this asks
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
WEIGHTS = np.array([LIGHTNESS_WEIGHT, 1.0, 1.0])  # on OKLab's (L, a, b)


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


def leans_to(word: str, family: str) -> bool:
    """ "reddish", "bluey", "purplish", "orangey" lean to their colour; "blush" and "tangerine" do not."""
    stem = family.removesuffix("e")
    return re.fullmatch(rf"(?:{family}|{stem})(?:ish|dish|y|ey)?", word) is not None


@cache
def examples_of(families: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """People's names that say their colour, as OKLab examples of it: a name of two or more words whose
    last word is one of `families` and whose other words name or lean to none ("forest green": green;
    not "blue green" nor "greenish blue")."""
    labs, family = [], []
    for name, rgb in colour_names().items():
        *before, last = name.split()
        last = SPELLINGS.get(last, last)
        if before and last in families and not any(leans_to(w, f) for w in before for f in families):
            labs.append(oklab(rgb))
            family.append(last)
    return np.array(labs).reshape(-1, 3), tuple(family)


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
        return f"which {noun or 'one'}: {' or '.join(dict.fromkeys([colour, other]))}?"


class ColourWords:
    """Reads colour words as the colours of a suite (name -> sRGB in [0, 1])."""

    def __init__(self, colours: dict[str, list[float]], kinds: dict[str, list[str]] | None = None) -> None:
        self.colours = list(colours)
        self.kinds = kinds or {}  # a word for an object -> the colours it comes in (what can be meant)
        self.labs = oklab(np.array([colours[c] for c in self.colours])) * WEIGHTS
        self.names = colour_names()
        examples, family = examples_of(tuple(dict.fromkeys([*self.colours, *BASIC_COLOURS])))
        self.examples, self.family = examples * WEIGHTS, np.array(family)
        # the family each suite colour belongs to: its own name, and the vote at its RGB ("maroon": red)
        self.families = {c: {c, self.vote(lab)[0]} for c, lab in zip(self.colours, self.labs, strict=True)}

    @classmethod
    def of_suite(cls, config: SuiteConfig) -> ColourWords:
        """For a suite's config (tasks.suite.SuiteConfig): its colours, and those each object comes in."""
        kinds = {
            w: kind.colours for kind in config.objects.values() for words in kind.words for w in words.split()
        }
        return cls(config.colours, kinds)

    def vote(
        self, lab: np.ndarray, k: int = NEIGHBOURS, skip: int | None = None
    ) -> tuple[str, float, Counter]:
        """The colour most of the k named examples nearest `lab` (weighted OKLab) carry, the share that
        do, and every colour's votes; example `skip` left out (to measure the vote on the examples)."""
        d = np.linalg.norm(self.examples - lab, axis=-1)
        if skip is not None:
            d[skip] = np.inf
        votes = Counter(self.family[np.argsort(d)[:k]].tolist())
        family, count = votes.most_common(1)[0]
        return family, count / k, votes

    def place(
        self,
        lab: np.ndarray,
        k: int = NEIGHBOURS,
        agree: float = AGREE,
        skip: int | None = None,
        noun: str = "",
    ) -> tuple[str | None, tuple[str, str] | None]:
        """The suite colour `lab` (weighted OKLab) is read as, or None and the two to ask between: the
        family the examples vote for, when enough agree, and its suite colour nearest `lab` (when two
        are, and nearly as near: a question); only colours the object named by `noun` comes in."""
        family, share, votes = self.vote(lab, k, skip)
        distance = dict(zip(self.colours, np.linalg.norm(self.labs - lab, axis=-1), strict=True))
        could = self.kinds.get(noun.lower(), self.colours)
        ours = sorted((c for c in could if family in self.families[c]), key=distance.get)
        if share >= agree and len(ours) == 1:
            return ours[0], None
        if share >= agree and len(ours) > 1:
            first, second = ours[:2]
            if distance[first] / max(distance[second], 1e-9) <= UNSURE:
                return first, None
            return None, (first, second)
        said = {c: max(votes[f] for f in self.families[c]) for c in could}
        ranked = sorted(could, key=lambda c: (-said[c], distance[c]))
        return None, (ranked[0], ranked[1 % len(ranked)])

    def nearest(self, name: str, noun: str = "") -> tuple[str | None, tuple[str, str] | None]:
        """The suite colour a colour name said before `noun` is read as, or None and the two to ask
        between."""
        return self.place(oklab(self.names[name]) * WEIGHTS, noun=noun)

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
            noun = words[i + span].strip(",.?!")
            colour, between = self.nearest(name, noun)
            if colour is None:
                out.unsure.append((said, *between, noun))
                kept.append(said)
            else:
                out.read.append((said, colour))
                kept.append(colour)
            i, after_colour = i + span, True
        out.text = " ".join(kept)
        return out

    def uncoloured(self, text: str) -> str | None:
        """ "which dish: green, blue or yellow?" for the first object `text` names by a word of the suite
        without a suite colour among the words before it, when it comes in several: a word no list
        knows ("the buttercup dish") or none at all is asked about, never guessed."""
        words = [w.lower().strip(",.?!;:") for w in text.split()]
        for i, word in enumerate(words):
            head = word in self.kinds and (i + 1 == len(words) or words[i + 1] not in self.kinds)
            if not head or len(self.kinds[word]) < 2:
                continue
            j = i
            while j > 0 and words[j - 1] not in NOT_A_NOUN:
                j -= 1
            if not set(words[j:i]) & set(self.colours):
                *rest, last = self.kinds[word]
                return f"which {word}: {', '.join(rest)} or {last}?"
        return None

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
