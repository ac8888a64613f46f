"""Instructions the suite never uses: does the policy still do what it is told?

    python benchmarks/unseen_phrasings.py CHECKPOINT --episodes 1

Every task of the suite (train and held-out) is run three times on the same seeds: with the suite's own
phrasings (what training saw), with sentence templates the suite does not have, and with those
templates plus object words it does not have ("brick", "duckie", "basin"...). The phrasings live here,
never in the suite or in training, and each is checked to be none of the suite's. The table gives the
average success over tasks per split, as `bcz eval` does; the episodes are paired, so the difference
between columns is the language's doing, not the scenes'.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from evaluation.evaluate import EvalConfig, evaluate
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
VARIANTS = ("suite phrasings", "new templates", "new templates + new words")


def phrase(suite: TaskSuite, task: TaskSpec, new_words: bool, rng: np.random.Generator) -> str:
    """One of this file's templates for `task`; refused if it happens to be one of the suite's."""

    def name(obj: ObjectRef) -> str:
        words = WORDS[obj.kind] if new_words else suite.config.objects[obj.kind].words
        return f"{obj.colour} {words[int(rng.integers(len(words)))]}"

    templates = TEMPLATES[task.skill]
    text = templates[int(rng.integers(len(templates)))]
    text = text.format(target=name(task.target), reference=name(task.reference) if task.reference else "")
    if normalize(text) in {normalize(t) for t in suite.instructions(task)}:
        raise AssertionError(f"{text!r} is one of the suite's own phrasings of {task}")
    return text


def phrasings(suite: TaskSuite, episodes: int, seed: int, new_words: bool) -> list[tuple[TaskSpec, str, int]]:
    """(task, instruction, seed) per episode, the same tasks and seeds as `bcz eval` (task i, episode k:
    seed + 1000 i + k, train tasks first), told with this file's templates."""
    tasks = suite.tasks("train") + suite.tasks("held_out")
    return [
        (task, phrase(suite, task, new_words, np.random.default_rng(s)), s)
        for i, task in enumerate(tasks)
        for s in (seed + 1000 * i + k for k in range(episodes))
    ]


def variant_phrasings(
    suite: TaskSuite, episodes: int, seed: int, variant: int
) -> list[tuple[TaskSpec, str, int]]:
    """`phrasings` for VARIANTS[variant], for the simulator-free benchmarks; the suite's phrasings (0) are
    one of the suite's own per episode, drawn from its seed (not necessarily the one `bcz eval` draws)."""
    told = phrasings(suite, episodes, seed, new_words=variant == 2)
    if variant == 0:
        return [(t, suite.instruction(t, np.random.default_rng(s)), s) for t, _, s in told]
    return told


def episode_file(suite: TaskSuite, path: Path, episodes: int, seed: int, new_words: bool) -> None:
    """`phrasings` as a `bcz eval` episode file."""
    lines = [
        json.dumps({"task": task.id, "instruction": text, "seed": s, "episodes": 1})
        for task, text, s in phrasings(suite, episodes, seed, new_words)
    ]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint")
    parser.add_argument("--episodes", type=int, default=1, help="episodes per task")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output-dir", type=Path, default=Path("runs/evals/unseen_phrasings"))
    args = parser.parse_args()
    console, base = Console(), EvalConfig()
    suite = TaskSuite.load(base.env.suite)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    files = {}  # written (and checked against the suite) before any episode runs
    for i, variant in enumerate(VARIANTS[1:], start=1):
        files[variant] = args.output_dir / f"phrasings_{i}.jsonl"
        episode_file(suite, files[variant], args.episodes, base.seed, variant == VARIANTS[2])
    results = {}
    for i, variant in enumerate(VARIANTS):
        cfg = EvalConfig(
            checkpoint=args.checkpoint, episodes_per_task=args.episodes, workers=args.workers, videos=0
        )
        cfg.episode_file = str(files[variant]) if variant in files else None
        console.print(f"[bold]{variant}[/bold]")
        results[variant] = evaluate(cfg, args.output_dir / f"variant_{i}", console)
    table = Table(title=f"unseen phrasings: {args.checkpoint} ({args.episodes} episode(s) per task, paired)")
    for col in ("instructions", "train success", "held-out success", "episodes"):
        table.add_column(col, justify="left" if col == "instructions" else "right")
    for variant, r in results.items():
        table.add_row(
            variant, f"{r['success']['train']:.1%}", f"{r['success']['held_out']:.1%}", str(r["episodes"])
        )
    console.print(table)
    console.print(word_table(results[VARIANTS[1]], results[VARIANTS[2]]))
    console.print(f"every episode: {args.output_dir}/variant_*/eval.json")


def word_table(templates: dict, words: dict) -> Table:
    """Per new object word: its episodes' success, and the same episodes' told with the suite's words
    (the new-templates row, same seeds), so a word that costs much stands out."""
    before = {(e["task"], e["seed"]): e["success"] for e in templates["episodes_detail"]}
    tally: dict[str, list[int]] = {w: [0, 0, 0] for ws in WORDS.values() for w in ws}
    for e in words["episodes_detail"]:
        said = set(e["instruction"].split())
        for word, counts in tally.items():
            if word in said:
                counts[0] += 1
                counts[1] += e["success"]
                counts[2] += before[(e["task"], e["seed"])]
    table = Table(title="new object words: success with the word / the same episodes with the suite's words")
    for col in ("kind", "word", "episodes", "with the word", "with the suite's words"):
        table.add_column(col, justify="left" if col in ("kind", "word") else "right")
    for kind, ws in WORDS.items():
        for w in ws:
            n, won, base = tally[w]
            if n:
                table.add_row(kind, w, str(n), f"{won / n:.0%}", f"{base / n:.0%}")
    return table


if __name__ == "__main__":
    main()
