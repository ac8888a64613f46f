"""Two `bcz eval` results on the same seeds, compared episode for episode (or chain for chain).

Success rates of two policies over a few hundred episodes differ by a few points by chance; the same
episodes solved by one and not the other say more. Prints each split's and skill's success for both,
the episodes only one of them solved, and a two-sided sign test on those. For two `bcz eval chains=N`
results (chains.json), the same per chain: the average length of each, and the chains where one got
further than the other.

    python benchmarks/paired.py runs/eval_shipped/eval.json runs/eval_new/eval.json
    python benchmarks/paired.py runs/chains_shipped/chains.json runs/chains_new/chains.json
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table


def sign_test(a: int, b: int) -> float:
    """Two-sided p of a split at least this uneven of a + b coin flips."""
    n, k = a + b, min(a, b)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def outcomes(path: Path) -> dict[tuple[str, int], tuple[str, bool]]:
    """(task, seed) -> (split, success) of every episode of an eval.json."""
    detail = json.loads(path.read_text())["episodes_detail"]
    return {(e["task"], e["seed"]): (e["split"], bool(e["success"])) for e in detail}


def task_mean(episodes: list[tuple[str, bool]]) -> float:
    """The average over tasks of each task's success (what `bcz eval` reports)."""
    per_task = defaultdict(list)
    for task, ok in episodes:
        per_task[task].append(ok)
    return sum(sum(v) / len(v) for v in per_task.values()) / max(1, len(per_task))


def compare(a: dict, b: dict) -> Table:
    shared = sorted(set(a) & set(b))
    if not shared:
        raise SystemExit(
            "error: the two results share no (task, seed) episode; evaluate both on the same seeds"
        )
    groups: dict[str, list] = defaultdict(list)
    for key in shared:
        split = a[key][0]
        for group in (split, f"{key[0].split('/')[0]} ({split})"):
            groups[group].append(key)
    table = Table(title=f"paired over {len(shared)} episodes")
    table.add_column("group", justify="left", no_wrap=True)
    for col in ("episodes", "A", "B", "only A", "only B", "sign test p"):
        table.add_column(col, justify="right")
    order = [g for g in ("train", "held_out") if g in groups] + sorted(g for g in groups if "(" in g)
    for group in order:
        keys = groups[group]
        only_a = sum(a[k][1] and not b[k][1] for k in keys)
        only_b = sum(b[k][1] and not a[k][1] for k in keys)
        rate_a, rate_b = (task_mean([(k[0], r[k][1]) for k in keys]) for r in (a, b))
        table.add_row(
            group,
            str(len(keys)),
            f"{rate_a:.1%}",
            f"{rate_b:.1%}",
            str(only_a),
            str(only_b),
            f"{sign_test(only_a, only_b):.3f}",
        )
    return table


def chain_lengths(path: Path) -> dict[tuple[str, int], int]:
    """(split, seed) -> instructions done in a row, for every chain of a chains.json."""
    detail = json.loads(path.read_text())["chains_detail"]
    return {(c["split"], c["seed"]): ([*c["outcomes"], False]).index(False) for c in detail}


def compare_chains(a: dict, b: dict) -> Table:
    shared = sorted(set(a) & set(b))
    if not shared:
        raise SystemExit(
            "error: the two results share no (split, seed) chain; evaluate both on the same seeds"
        )
    table = Table(title=f"paired over {len(shared)} chains")
    for col in (
        "split",
        "chains",
        "A average length",
        "B average length",
        "A further",
        "B further",
        "sign test p",
    ):
        table.add_column(col, justify="left" if col == "split" else "right")
    for split in sorted({k[0] for k in shared}):
        keys = [k for k in shared if k[0] == split]
        further_a, further_b = sum(a[k] > b[k] for k in keys), sum(b[k] > a[k] for k in keys)
        table.add_row(
            split,
            str(len(keys)),
            f"{sum(a[k] for k in keys) / len(keys):.2f}",
            f"{sum(b[k] for k in keys) / len(keys):.2f}",
            str(further_a),
            str(further_b),
            f"{sign_test(further_a, further_b):.3f}",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="eval.json or chains.json of policy A (or its directory)")
    parser.add_argument("b", type=Path, help="eval.json or chains.json of policy B (or its directory)")
    args = parser.parse_args()
    paths = [
        (p / "eval.json" if (p / "eval.json").is_file() else p / "chains.json") if p.is_dir() else p
        for p in (args.a, args.b)
    ]
    for p in paths:
        if not p.is_file():
            raise SystemExit(
                f"error: {p} not found; pass a `bcz eval` output directory, eval.json or chains.json"
            )
    console = Console(width=120)
    console.print(f"A: {paths[0]}\nB: {paths[1]}")
    if all(p.name == "chains.json" for p in paths):
        console.print(compare_chains(chain_lengths(paths[0]), chain_lengths(paths[1])))
    else:
        console.print(compare(outcomes(paths[0]), outcomes(paths[1])))


if __name__ == "__main__":
    main()
