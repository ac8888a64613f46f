"""How colour names are read as the suite's colours, on names whose colour their own words say.

    python benchmarks/colour_names.py [--suite default]

People's colour-name lists (tasks/colour_words.py) hold hundreds of names like "forest green" or "hot
pink": their last word says which colour people call that sRGB. Each such name is read with its last
word dropped (by its sRGB alone), leaving it out of the examples it is read against, and the table
says how often a name of a suite colour is read as its colour, as another, or asked about, and how often
a name of another colour (pink, brown, grey, ...) is read as one of the suite's. Two rules: the suite
colour nearest in OKLab, asking when the second nearest is nearly as near (the rule before), and the
vote of the nearest named examples (tasks/colour_words.py). None of `benchmarks/unseen_phrasings.py`'s
colour words is among these names (each is one word), so setting the rule here does not fit to them.
Seconds on a CPU.
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from tasks import colour_words as cw
from tasks.suite import TaskSuite

NEAREST_UNSURE = 0.8  # the rule before: nearest / second-nearest distance above this asks


def nearest_colour(reader: cw.ColourWords, lab: np.ndarray) -> str | None:
    """The rule before: the suite colour nearest in OKLab, or None (ask) when two are nearly as near."""
    d = np.linalg.norm(reader.labs - lab, axis=-1)
    first, second = np.argsort(d)[:2]
    return None if d[first] / d[second] > NEAREST_UNSURE else reader.colours[first]


def tally(read: list[str | None], truth: list[str], colours: list[str]) -> list[str]:
    """Cells: of the suite colours' names, read right / read as another / asked; of others', read."""
    ours = [(r, t) for r, t in zip(read, truth, strict=True) if t in colours]
    others = [r for r, t in zip(read, truth, strict=True) if t not in colours]
    right = sum(r == t for r, t in ours) / len(ours)
    wrong = sum(r is not None and r != t for r, t in ours) / len(ours)
    asked = sum(r is None for r, _ in ours) / len(ours)
    misread = sum(r is not None for r in others) / max(len(others), 1)
    return [f"{right:.1%}", f"{wrong:.1%}", f"{asked:.1%}", f"{misread:.1%}"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", default="default")
    args = parser.parse_args()
    reader = cw.ColourWords(TaskSuite.load(args.suite).config.colours)
    labs, truth = reader.examples, reader.family.tolist()  # weighted OKLab, and the colour named
    examples, ours = len(truth), sum(t in reader.colours for t in truth)
    table = Table(
        title=f"{ours} names of the suite's colours, {examples - ours} of others, each read by its sRGB alone"
    )
    for col in (
        "rule",
        "suite colour: read right",
        "read as another",
        "asked",
        "other colour: read as the suite's",
    ):
        table.add_column(col, justify="left" if col == "rule" else "right")
    table.add_row(
        f"nearest suite colour, ask over {NEAREST_UNSURE}",
        *tally([nearest_colour(reader, x) for x in labs], truth, reader.colours),
    )
    for k in (5, cw.NEIGHBOURS, 15):
        for agree in (0.5, cw.AGREE, 0.7):
            read = [reader.place(x, k, agree, skip=i)[0] for i, x in enumerate(labs)]
            chosen = " (chosen)" if (k, agree) == (cw.NEIGHBOURS, cw.AGREE) else ""
            table.add_row(
                f"vote of {k} named examples, {agree:.0%} agree{chosen}", *tally(read, truth, reader.colours)
            )
    Console().print(table)


if __name__ == "__main__":
    main()
