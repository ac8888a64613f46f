"""Does a checkpoint hear which task an unseen phrasing names? Its task vectors against the suite's.

    python benchmarks/reader_retrieval.py CHECKPOINT [--episodes 6]
    python benchmarks/reader_retrieval.py FINE_TUNED --episodes 2 --suite default   # the old tasks, after

For every instruction of `benchmarks/unseen_phrasings.py` (its seeds, train and held-out tasks), the
vector the checkpoint's network would read (`Policy.embed`: through its instruction reader if it has
one) is compared with every task's target, the mean sentence vector of the suite's phrasings of it:
the share whose nearest target is their own task, and the mean cosine to it, beside the same for the
plain sentence vector. No simulator: seconds on a CPU. The rollouts (`unseen_phrasings.py`) say what
the difference is worth.
"""

from __future__ import annotations

import argparse

import torch
from rich.console import Console
from rich.table import Table
from unseen_phrasings import VARIANTS, variant_phrasings

from evaluation.evaluate import EvalConfig
from policy.language import SentenceEncoder
from policy.policy import Policy
from policy.reader import nearest_task, suite_vectors
from tasks.suite import TaskSuite


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint")
    parser.add_argument("--episodes", type=int, default=6, help="phrasings per task and variant (seeds)")
    parser.add_argument(
        "--suite",
        default=None,
        help="phrase this suite's tasks (e.g. default: the old tasks after a fine-tune)",
    )
    args = parser.parse_args()
    policy = Policy.from_pretrained(args.checkpoint)
    suite = TaskSuite.load(policy.config.reader.suite if policy.config.reader else policy.config.suite)
    tasks = suite.tasks("train") + suite.tasks("held_out")
    index = {t.id: i for i, t in enumerate(tasks)}
    sentence = SentenceEncoder(policy.config.encoder)
    targets = suite_vectors(sentence, suite, tasks)
    reads = "its reader" if policy.reader is not None else "the sentence vector (no reader)"
    table = Table(
        title=f"{args.checkpoint} reads with {reads}: nearest of {len(tasks)} tasks, share right / cosine"
    )
    for col in ("instructions", "split", "n", "sentence vector", "checkpoint"):
        table.add_column(col, justify="left" if col in ("instructions", "split") else "right")
    phrased = TaskSuite.load(args.suite) if args.suite else suite
    for name in VARIANTS:
        episodes = variant_phrasings(phrased, args.episodes, EvalConfig().seed, name)
        said = [text for _, text, _ in episodes]
        labels = torch.tensor([index[task.id] for task, _, _ in episodes])
        plain = torch.as_tensor(sentence.encode(said))
        read = policy.embed(said)
        train = torch.tensor([phrased.split_of(task) == "train" for task, _, _ in episodes])
        for split, rows in (("train", train), ("held-out", ~train)):
            cells = [
                "{:.1%} / {:.3f}".format(*nearest_task(v[rows], labels[rows], targets)) for v in (plain, read)
            ]
            table.add_row(name, split, str(int(rows.sum())), *cells)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
