"""How sure must the robot be before it moves? The reading's confidence on instructions and on nonsense.

    python benchmarks/instruction_gate.py                      # the shipped policy
    python benchmarks/instruction_gate.py --checkpoint PATH --episodes 2

`bcz run` starts an instruction only when its reading (`deploy.reading`) places it: not a question,
and sounding like something the policy was taught to do: the sentence vector of its shape, objects
masked ("paint the thing blue"), within `min_likeness` (cosine) of a shape of the suite's or the
paraphrase set's phrasings. This measures how much of each kind of text would start the robot at each
step of that gate, and at a further threshold on the reader's confidence (cosine to the nearest task's
vector, which the gate does not use: it gains nothing here):
- instructions the policy should do: every task said in `unseen_phrasings.py`'s own words (new
  templates, object words, colour words and all together, `--episodes` per task), which the policy
  does at 0.9 of the suite phrasing's success: refusing them loses real commands;
- nonsense: text that names no object ("hello"), and text naming the suite's objects with an action
  the robot has no skill for or no action at all ("paint the red block blue", "where is the blue
  bowl?"); starting on these moves a robot on nonsense.
A question about a colour ("which block: red or orange?") counts as not started; a phrasing whose
colour word no list holds ("buttercup") is counted apart, since the robot could only guess its object.
Prints the table, and the thresholds chosen: the highest that still start at least `--keep` of every
instruction kind (of those not asked about), and the nonsense that still starts.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from rich.console import Console
from rich.table import Table
from unseen_phrasings import COLOURS, VARIANTS, variant_phrasings

from deploy.reading import InstructionReading
from deploy.run import checkpoint_path
from policy.policy import Policy
from tasks.suite import TaskSuite

NO_OBJECT = [
    "hello",
    "hi there",
    "wave hello to everyone",
    "what time is it",
    "open the door",
    "dance for me",
    "tell me a joke",
    "turn on the lights",
    "go to the kitchen",
    "make me a coffee",
    "stop being lazy",
    "how are you today",
    "clean the whole room",
    "sing a song",
    "bring me my phone",
    "shut down",
    "asdf jkl",
    "lorem ipsum dolor sit amet",
    "the quick brown fox jumps over the lazy dog",
    "???",
]
NO_SKILL = [  # actions the suite has no skill for, on its objects
    "paint the {t} blue",
    "throw the {t} across the room",
    "eat the {t}",
    "wash the {t}",
    "break the {t}",
    "hide the {t} under the sofa",
    "give the {t} to my sister",
    "count the {t}s",
    "smell the {t}",
    "put the {t} in the fridge",
    "spin the {t} around ten times",
    "melt the {t}",
    "take a photo of the {t}",
]
NO_ACTION = [  # the suite's objects, no command at all
    "where is the {t}?",
    "what colour is the {t}?",
    "the {t} is nice",
    "I like the {t}",
    "is the {t} heavy?",
    "the {t} and the {r} look alike",
    "how many {t}s are there",
    "who made the {t}?",
    "describe the {t}",
]


def nonsense(suite: TaskSuite, rng: np.random.Generator, per_template: int) -> dict[str, list[str]]:
    """The three kinds of nonsense, the object templates filled with the suite's objects at random."""
    names = [f"{o.colour} {suite.config.objects[o.kind].words[0]}" for o in suite.all_objects]

    def fill(templates: list[str]) -> list[str]:
        return [
            t.format(t=names[i], r=names[j])
            for t in templates
            for i, j in (rng.choice(len(names), 2, replace=False) for _ in range(per_template))
        ]

    return {
        "no object": NO_OBJECT,
        "suite objects, no skill": fill(NO_SKILL),
        "suite objects, no command": fill(NO_ACTION),
    }


GUESSING = "unseen: a colour word no list holds"


def signals(reading: InstructionReading, text: str) -> tuple[bool, float, float]:
    """What the gate looks at: (asked about a colour or a question: never started, likeness to the
    sentence shapes taught, the reader's confidence)."""
    r = reading.read(text)  # with the likeness threshold off: only questions are not started
    if r.task is None:
        return True, 0.0, 0.0
    return False, reading.likeness(reading.policy.colour_words.rewrite(text).text), r.confidence


def started(s: np.ndarray, likeness: float, confidence: float) -> np.ndarray:
    """Which texts of `s` (rows of `signals`) start the robot at these thresholds."""
    return (s[:, 0] == 0) & (s[:, 1] >= likeness) & (s[:, 2] >= confidence)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--episodes", type=int, default=2, help="phrasings per task and variant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=float, default=0.98, help="share started of each instruction kind")
    args = parser.parse_args()

    policy = Policy.from_pretrained(checkpoint_path(args.checkpoint))
    suite = TaskSuite.load(policy.config.suite)
    reading = InstructionReading(policy, suite, min_likeness=-1.0)
    told = {
        f"unseen: {v}": [text for _, text, _ in variant_phrasings(suite, args.episodes, args.seed, v)]
        for v in VARIANTS
        if v != "suite phrasings"
    }
    # a colour word the reading cannot place ("buttercup": no list holds it) leaves the robot guessing
    # which object is meant: such phrasings are counted apart, not among those to keep
    shades = {w for words in COLOURS.values() for w in words}
    guessing = {
        k: [t for t in ts if shades & set(policy.colour_words.rewrite(t).text.split())]
        for k, ts in told.items()
    }
    told = {k: [t for t in ts if t not in guessing[k]] for k, ts in told.items()}
    told[GUESSING] = [t for ts in guessing.values() for t in ts]
    bad = nonsense(suite, np.random.default_rng(args.seed), per_template=6)
    kinds = dict(itertools.chain(told.items(), bad.items()))
    sig = {k: np.array([signals(reading, t) for t in texts], dtype=float) for k, texts in kinds.items()}

    grid = np.round(np.arange(0.0, 1.0, 0.01), 2)

    def keeps(like: float, conf: float) -> bool:  # of the instructions not asked about
        asked = {k: started(sig[k], -1, -1).sum() for k in told}
        return all(started(sig[k], like, conf).sum() >= args.keep * asked[k] for k in told if k != GUESSING)

    like = max((t for t in grid if keeps(t, -1.0)), default=0.0)
    conf = max((t for t in grid if keeps(like, t)), default=0.0)
    columns = {
        "every text (before)": lambda s: np.ones(len(s), bool),
        "not asked / not a question": lambda s: started(s, -1.0, -1.0),
        f"+ likeness >= {like:.2f}": lambda s: started(s, like, -1.0),
        f"+ reader confidence >= {conf:.2f}": lambda s: started(s, like, conf),
    }
    table = Table(title=f"share of each kind of text that starts the robot ({args.checkpoint})")
    table.add_column("text")
    table.add_column("n", justify="right")
    for name in columns:
        table.add_column(name, justify="right")
    for kind, s in sig.items():
        table.add_row(kind, str(len(s)), *(f"{np.mean(f(s)):.1%}" for f in columns.values()))
    console = Console()
    console.print(table)
    console.print(
        f"chosen (the highest keeping >= {args.keep:.0%} of every instruction kind): "
        f"min_likeness={like:.2f}, min_confidence={conf:.2f}"
    )
    for kind in bad:  # what still starts: the gate's known misses
        misses = [t for t, s in zip(kinds[kind], sig[kind], strict=True) if started(s[None], like, conf)[0]]
        console.print(f"{kind}: still started, e.g. {misses[:4]}")


if __name__ == "__main__":
    main()
