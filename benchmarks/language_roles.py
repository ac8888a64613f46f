"""Does the task vector say which named object moves? Role-swapped instructions under each pooling.

    python benchmarks/language_roles.py

For every task of a skill with two named objects of different colours, each of the suite's phrasings
is paired with the same phrasing with the two colours swapped ("stack the red block on the blue block" /
"stack the blue block on the red block"; "put the red block in the green bowl" / "put the green block in
the red bowl"). Per pooling of the frozen encoder the table gives how alike the pairs are (cosine), and
how well a linear probe trained on some colour pairs names the moving object of pairs it never saw
(ranking it over the other one). A vector can hold the roles and still
hold them faintly: the cosine says how much a policy must amplify to hear them.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from policy.language import SentenceEncoder
from tasks.suite import TaskSuite


def swapped(text: str, a: str, b: str) -> str:
    return text.replace(a, "\0").replace(b, a).replace("\0", b)


def probe(train_x: torch.Tensor, train_y: torch.Tensor, classes: int, steps: int = 300) -> torch.Tensor:
    """Weights of a linear softmax classifier (full-batch Adam, seeded)."""
    torch.manual_seed(0)
    w = torch.zeros(train_x.shape[1], classes, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(10 * train_x @ w, train_y).backward()
        opt.step()
    return w.detach()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skill", default="stack_on")
    parser.add_argument("--suite", default="default")
    args = parser.parse_args()
    suite = TaskSuite.load(args.suite)
    rows = []  # (instruction, the same with the objects swapped, moving colour, base colour)
    for task in suite.tasks("all"):
        if task.skill == args.skill:
            a, b = task.target.name.split("_")[0], task.reference.name.split("_")[0]
            if a != b:  # the red block in the red bowl has no twin
                rows += [(text, swapped(text, a, b), a, b) for text in suite.instructions(task)]
    colours = sorted({r[2] for r in rows})
    moving = torch.tensor([colours.index(r[2]) for r in rows])
    base = torch.tensor([colours.index(r[3]) for r in rows])
    pairs = sorted({tuple(sorted(r[2:])) for r in rows})
    rng = np.random.default_rng(0)
    unseen = {pairs[i] for i in rng.choice(len(pairs), len(pairs) // 3, replace=False)}
    test = torch.tensor([tuple(sorted(r[2:])) in unseen for r in rows])
    table = Table(title=f"{args.skill}: {len(rows)} phrasings, each against its role-swapped twin")
    for col in (
        "pooling",
        "dim",
        "cosine to the swap: median (min-max)",
        "probe names the mover, unseen pairs",
    ):
        table.add_column(col, justify="right")
    for pooling in ("mean", "tokens"):  # tokens: every token's state, flattened (what the reader reads)
        encoder = SentenceEncoder(pooling=pooling)
        x = torch.as_tensor(encoder.encode([r[0] for r in rows]))
        twin = torch.as_tensor(encoder.encode([r[1] for r in rows]))
        cos = torch.nn.functional.cosine_similarity(x, twin).numpy()
        scores = x[test] @ probe(x[~test], moving[~test], len(colours))
        right = (scores.gather(1, moving[test, None]) > scores.gather(1, base[test, None])).float().mean()
        table.add_row(
            pooling,
            str(encoder.dim),
            f"{np.median(cos):.4f} ({cos.min():.3f}-{cos.max():.3f})",
            f"{float(right):.1%} of {int(test.sum())}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
