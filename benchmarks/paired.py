"""Two `bcz eval` results on the same seeds, compared episode for episode.

Success rates of two policies over a few hundred episodes differ by a few points by chance; the same
episodes solved by one and not the other say more. Prints each split's and skill's success for both,
the episodes only one of them solved, and a two-sided sign test on those.

    python benchmarks/paired.py runs/eval_shipped/eval.json runs/eval_new/eval.json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="eval.json of policy A (or its directory)")
    parser.add_argument("b", type=Path, help="eval.json of policy B (or its directory)")
    args = parser.parse_args()
    paths = [p / "eval.json" if p.is_dir() else p for p in (args.a, args.b)]
    for p in paths:
        if not p.is_file():
            raise SystemExit(f"error: {p} not found; pass a `bcz eval` output directory or its eval.json")
    console = Console(width=120)
    console.print(f"A: {paths[0]}\nB: {paths[1]}")
    console.print(compare(outcomes(paths[0]), outcomes(paths[1])))


if __name__ == "__main__":
    main()
