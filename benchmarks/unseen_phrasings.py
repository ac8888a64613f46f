"""Instructions the suite never uses: does the policy still do what it is told?

    python benchmarks/unseen_phrasings.py CHECKPOINT --episodes 2
    python benchmarks/unseen_phrasings.py CHECKPOINT --episodes 2 --variants 3 4    # colour words only

Every task of the suite (train and held-out) is run on the same seeds with the suite's own phrasings
(what training saw) and with phrasings in this file's own words: sentence templates the suite does not
have, object words it does not have ("brick", "duckie", "basin"...), other words for its colours
("vermilion", "cerulean", "clementine"...), and all three together. The words live here, never in the
suite, the paraphrase sets or any fit (tests/test_paraphrases.py checks it, down to word stems), and each
phrasing is checked to be none of the suite's. The table gives the average success over tasks per split,
as `bcz eval` does, and its ratio to the suite phrasing's; the episodes are paired, so the difference
between rows is the language's doing, not the scenes'. Per factor (colour word, object word, template,
skill), a table gives each value's success beside the same episodes told the suite's way.

As at `bcz run`'s prompt (`deploy.reading`), a colour word the policy cannot place ("buttercup") is
asked about ("which dish: green, blue or yellow?") instead of guessed; the benchmark's user then says it
again with the suite's colour for the colour words the prompt did not read, and the table counts the
episodes asked about. Every other instruction runs as said, including one the prompt would not start
(as if the operator insisted). `--as-told` runs every instruction as first said (a guess where the
prompt would ask).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from deploy.reading import InstructionReading
from evaluation.evaluate import EvalConfig, evaluate
from policy import Policy
from tasks.suite import ObjectRef, TaskSpec, TaskSuite, normalize

TEMPLATES = {
    "pick_up": ["raise the {target} off the table", "take the {target}", "could you pick up the {target}"],
    "put_in": [
        "put the {target} inside the {reference}",
        "set the {target} down in the {reference}",
        "drop the {target} into the {reference}",
    ],
    "push_to": [
        "shove the {target} toward the {reference}",
        "push the {target} over to the {reference}",
        "slide the {target} up to the {reference}",
    ],
    "stack_on": [
        "set the {target} on top of the {reference}",
        "put the {target} onto the {reference}",
        "stack the {target} onto the {reference}",
    ],
    "place_left_of": [
        "put the {target} on the left of the {reference}",
        "set the {target} down left of the {reference}",
        "place the {target} on the left side of the {reference}",
    ],
    "place_right_of": [
        "put the {target} on the right of the {reference}",
        "set the {target} down right of the {reference}",
        "place the {target} on the right side of the {reference}",
    ],
    "knock_over": ["topple the {target}", "knock down the {target}", "tip the {target} over"],
}
WORDS = {  # object words the suite does not use
    "block": ["brick", "cuboid"],
    "duck": ["duckie", "duckling"],
    "bottle": ["flask", "can"],
    "bowl": ["basin", "pot"],
    "tray": ["bin", "crate"],
}
COLOURS = {  # other words for each suite colour (kept apart from the paraphrase sets' colour words)
    "red": ["vermilion", "carmine", "cardinal"],
    "green": ["sage", "shamrock", "pistachio"],
    "blue": ["sapphire", "cerulean", "cornflower"],
    "yellow": ["saffron", "sunflower", "buttercup"],
    "purple": ["amethyst", "eggplant", "grape"],
    "orange": ["carrot", "clementine", "mandarin"],
}
SUITE_COLOUR = {word: colour for colour, words in COLOURS.items() for word in words}
# what each variant says in its own words: (templates, object words, colour words)
VARIANTS = {
    "suite phrasings": (False, False, False),
    "new templates": (True, False, False),
    "new templates + new words": (True, True, False),
    "new colour words": (False, False, True),
    "new colour words, words and templates": (True, True, True),
}
FACTORS = ("colour word", "object word", "template", "skill")


def phrase(suite: TaskSuite, task: TaskSpec, variant: str, rng: np.random.Generator) -> tuple[str, dict]:
    """One phrasing of `task` in `variant`'s words, and what it used (FACTORS); refused if it happens
    to be one of the suite's own when it should be new."""
    new_templates, new_words, new_colours = VARIANTS[variant]
    used: dict[str, str] = {"skill": task.skill}

    def name(obj: ObjectRef, role: str) -> str:
        colour = obj.colour
        if new_colours:
            colour = COLOURS[obj.colour][int(rng.integers(len(COLOURS[obj.colour])))]
        words = WORDS[obj.kind] if new_words else suite.config.objects[obj.kind].words
        word = words[int(rng.integers(len(words)))]
        if role == "target":
            used["colour word"], used["object word"] = colour, word
        return f"{colour} {word}"

    templates = TEMPLATES[task.skill] if new_templates else suite.config.skills[task.skill].phrasings
    used["template"] = template = templates[int(rng.integers(len(templates)))]
    target = name(task.target, "target")
    text = template.format(
        target=target, reference=name(task.reference, "reference") if task.reference else ""
    )
    if any(VARIANTS[variant]) and normalize(text) in {normalize(t) for t in suite.instructions(task)}:
        raise AssertionError(f"{text!r} is one of the suite's own phrasings of {task}")
    return text, used


def phrasings(
    suite: TaskSuite, episodes: int, seed: int, variant: str
) -> list[tuple[TaskSpec, str, int, dict]]:
    """(task, instruction, seed, what it used) per episode, the same tasks and seeds as `bcz eval` (task i,
    episode k: seed + 1000 i + k, train tasks first), told in `variant`'s words."""
    told = []
    for i, task in enumerate(suite.tasks("train") + suite.tasks("held_out")):
        for s in (seed + 1000 * i + k for k in range(episodes)):
            text, used = phrase(suite, task, variant, np.random.default_rng(s))
            told.append((task, text, s, used))
    return told


def said_again(reading: InstructionReading, text: str) -> str | None:
    """`text` as its user says it after the prompt's question (the colour words it did not read said as
    the suite's), or None when the prompt asks none."""
    read = reading.read(text)
    if not read.question:
        return None
    placed = {said for said, _ in read.colours}
    return " ".join(SUITE_COLOUR[w] if w in SUITE_COLOUR and w not in placed else w for w in text.split())


def answered(
    reading: InstructionReading, told: list[tuple[TaskSpec, str, int, dict]]
) -> tuple[list[tuple[TaskSpec, str, int, dict]], int]:
    """`told` with each instruction the prompt asks about said again, and how many were."""
    again = [said_again(reading, text) for _, text, _, _ in told]
    said = [(t, a or text, s, used) for (t, text, s, used), a in zip(told, again, strict=True)]
    return said, sum(a is not None for a in again)


def variant_phrasings(
    suite: TaskSuite, episodes: int, seed: int, variant: str
) -> list[tuple[TaskSpec, str, int]]:
    """`phrasings` for the simulator-free benchmarks; the suite's phrasings are one of the suite's own per
    episode, drawn from its seed (not necessarily the one `bcz eval` draws)."""
    told = [(t, text, s) for t, text, s, _ in phrasings(suite, episodes, seed, variant)]
    if not any(VARIANTS[variant]):
        return [(t, suite.instruction(t, np.random.default_rng(s)), s) for t, _, s in told]
    return told


def episode_file(path: Path, told: list[tuple[TaskSpec, str, int, dict]]) -> None:
    """Phrasings as a `bcz eval` episode file."""
    lines = [
        json.dumps({"task": t.id, "instruction": text, "seed": s, "episodes": 1}) for t, text, s, _ in told
    ]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint")
    parser.add_argument("--episodes", type=int, default=1, help="episodes per task")
    parser.add_argument("--variants", type=int, nargs="*", help="which rows (0 = the suite's; default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--as-told", action="store_true", help="no questions: every instruction as first said"
    )
    parser.add_argument("--output-dir", type=Path, default=Path("runs/evals/unseen_phrasings"))
    args = parser.parse_args()
    console, base = Console(), EvalConfig()
    suite = TaskSuite.load(base.env.suite)
    names = list(VARIANTS)
    chosen = [names[i] for i in sorted({0, *(args.variants or range(len(names)))})]  # the suite's: the pair
    args.output_dir.mkdir(parents=True, exist_ok=True)
    told = {v: phrasings(suite, args.episodes, base.seed, v) for v in chosen}  # checked before any episode
    asked = dict.fromkeys(chosen, 0)
    if not args.as_told:
        reading = InstructionReading(Policy.from_pretrained(args.checkpoint), suite)
        for v in chosen:
            told[v], asked[v] = answered(reading, told[v])
    results = {}
    for variant in chosen:
        i = names.index(variant)
        cfg = EvalConfig(
            checkpoint=args.checkpoint, episodes_per_task=args.episodes, workers=args.workers, videos=0
        )
        if any(VARIANTS[variant]):
            cfg.episode_file = str(args.output_dir / f"phrasings_{i}.jsonl")
            episode_file(Path(cfg.episode_file), told[variant])
        console.print(f"[bold]{variant}[/bold]")
        results[variant] = evaluate(cfg, args.output_dir / f"variant_{i}", console)
    table = Table(title=f"unseen phrasings: {args.checkpoint} ({args.episodes} episode(s) per task, paired)")
    for col in (
        "instructions",
        "train success",
        "held-out success",
        "of the suite's (train / held-out)",
        "episodes",
        "asked first",
    ):
        table.add_column(col, justify="left" if col == "instructions" else "right")
    suite_rates = results[names[0]]["success"]
    for variant, r in results.items():
        rates = r["success"]
        ratio = " / ".join(
            f"{rates[k] / suite_rates[k]:.2f}" if suite_rates[k] else "-" for k in ("train", "held_out")
        )
        table.add_row(
            variant,
            f"{rates['train']:.1%}",
            f"{rates['held_out']:.1%}",
            ratio,
            str(r["episodes"]),
            str(asked[variant]),
        )
    console.print(table)
    for variant in chosen[1:]:
        console.print(factor_table(variant, told[variant], results[variant], results[names[0]]))
    console.print(f"every episode: {args.output_dir}/variant_*/eval.json")


def factor_table(variant: str, told: list, said: dict, suite_said: dict) -> Table:
    """Per value of each factor the variant changed (colour word, object word, template; and per skill):
    its episodes' success, beside the same episodes told in the suite's phrasings (same task and seed)."""
    before = {(e["task"], e["seed"]): e["success"] for e in suite_said["episodes_detail"]}
    after = {(e["task"], e["seed"]): e["success"] for e in said["episodes_detail"]}
    new_templates, new_words, new_colours = VARIANTS[variant]
    factors = [
        f for f, new in zip(FACTORS, (new_colours, new_words, new_templates, True), strict=True) if new
    ]
    table = Table(title=f"{variant}: success per factor / the same episodes in the suite's phrasings")
    for col in ("factor", "value", "episodes", "said this way", "suite phrasing"):
        table.add_column(col, justify="left" if col in ("factor", "value") else "right")
    for factor in factors:
        tally: dict[str, list[int]] = {}
        for task, _, seed, used in told:
            counts = tally.setdefault(used[factor], [0, 0, 0])
            counts[0] += 1
            counts[1] += after[(task.id, seed)]
            counts[2] += before[(task.id, seed)]
        for value, (n, won, base) in sorted(tally.items()):
            table.add_row(factor, value, str(n), f"{won / n:.0%}", f"{base / n:.0%}")
    return table


if __name__ == "__main__":
    main()
