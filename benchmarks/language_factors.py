"""Which part of a task does the frozen sentence vector lose when the words are new? Linear probes.

    python benchmarks/language_factors.py [--paraphrase-set default] [--episodes 6]

A task is five factors: the skill, the colour and kind of the object to move, and the colour and kind
of the one named second. One linear probe per factor is trained on the phrasings a policy trains on (the
suite's and the paraphrase set's, train tasks only) and tested on `benchmarks/unseen_phrasings.py`'s
instructions for every task, train and held-out, with its seeds (the "suite phrasings" row draws
one of the suite's own per seed, as a check: not necessarily the one `bcz eval` draws). A factor the
probe misses with new words but not with the suite's is one the vector itself blurs, whatever policy
reads it; the rollouts say what that costs. No simulator: a minute on a CPU.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from language_roles import probe
from rich.console import Console
from rich.table import Table
from unseen_phrasings import VARIANTS, variant_phrasings

from evaluation.evaluate import EvalConfig
from policy.language import SentenceEncoder
from policy.paraphrase import Paraphrases
from tasks.suite import TaskSpec, TaskSuite

FACTORS = ("skill", "colour 1", "kind 1", "colour 2", "kind 2")  # 1: the object to move; 2: the other


def factors(task: TaskSpec) -> tuple[str, ...]:
    ref = task.reference
    return (
        task.skill,
        task.target.colour,
        task.target.kind,
        ref.colour if ref else "-",
        ref.kind if ref else "-",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--paraphrase-set", default="default", help="conf/paraphrase_sets/<name>.yaml")
    parser.add_argument("--episodes", type=int, default=6, help="phrasings per task and variant (seeds)")
    args = parser.parse_args()
    suite = TaskSuite.load("default")
    paraphrases = Paraphrases.load(args.paraphrase_set, suite)
    encoder = SentenceEncoder()

    def vectors(texts: list[str]) -> torch.Tensor:
        x = torch.as_tensor(encoder.encode(texts), dtype=torch.float32)
        return torch.nn.functional.normalize(x, dim=1)

    texts, labels = [], []
    for task in suite.tasks("train"):
        for text in [*suite.instructions(task), *paraphrases.of(task)]:
            texts.append(text)
            labels.append(factors(task))
    x = vectors(texts)
    classes = [sorted({row[f] for row in labels}) for f in range(len(FACTORS))]
    weights = [
        probe(x, torch.tensor([classes[f].index(row[f]) for row in labels]), len(classes[f]))
        for f in range(len(FACTORS))
    ]
    table = Table(
        title=f"linear probes trained on {len(texts)} training phrasings ({args.paraphrase_set}), "
        "share right on the benchmark's"
    )
    for col in ("instructions", "split", "n", *FACTORS, "all five"):
        table.add_column(col, justify="left" if col in ("instructions", "split") else "right")
    held_out = {t.id for t in suite.tasks("held_out")}
    for name in VARIANTS:
        episodes = variant_phrasings(suite, args.episodes, EvalConfig().seed, name)
        said = [text for _, text, _ in episodes]
        truth = [factors(task) for task, _, _ in episodes]
        split = ["held-out" if task.id in held_out else "train" for task, _, _ in episodes]
        v = vectors(said)
        right = np.stack(
            [
                np.array([classes[f][j] for j in (v @ weights[f]).argmax(1).tolist()])
                == np.array([t[f] for t in truth])
                for f in range(len(FACTORS))
            ],
            axis=1,
        )
        for where in ("train", "held-out"):
            rows = right[np.array(split) == where]
            cells = [f"{rows[:, f].mean():.0%}" for f in range(len(FACTORS))]
            table.add_row(name, where, str(len(rows)), *cells, f"{rows.all(1).mean():.0%}")
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
