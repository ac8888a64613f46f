"""Policy success: the README's results table, and the success-vs-training-time curve of a run.

    python benchmarks/policy_success.py vit=runs/vit/checkpoints/final --episodes 2
    python benchmarks/policy_success.py vit=runs/vit/checkpoints/final resnet=runs/resnet/checkpoints/final
    python benchmarks/policy_success.py --curve runs/vit
    python benchmarks/policy_success.py shipped=policy/pretrained/default --episodes 3 --replan 1 2 3 5 7

Each NAME=CHECKPOINT is scored by `bcz eval` (Ray workers, seeded episodes on every task of the train
and held-out splits, seeds distinct from the collection's); the table gives the average success over
tasks per split. `--curve RUN` prints the in-training rollouts a run logged (`RUN/evals.json`: a few
tasks per skill every 15 minutes of training), which is the success-vs-training-time curve.
`--replan N ...` scores each checkpoint once per re-planning interval (its receding horizon).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evaluation.evaluate import EvalConfig, evaluate


def curve(run: Path, console: Console) -> None:
    evals = json.loads((run / "evals.json").read_text())
    table = Table(title=f"success vs training time: {run}")
    for col in ("training minutes", "step", "train success", "held-out success"):
        table.add_column(col, justify="right")
    for e in evals:
        table.add_row(f"{e['minutes']:.0f}", str(e["step"]), f"{e['train']:.0%}", f"{e['held_out']:.0%}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoints", nargs="*", help="NAME=CHECKPOINT_DIR")
    parser.add_argument("--episodes", type=int, default=2, help="episodes per task")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--curve", type=Path, action="append", default=[], help="a training run directory")
    parser.add_argument("--replan", type=int, nargs="+", default=[None], help="re-planning intervals")
    parser.add_argument("--seed", type=int, default=EvalConfig.seed, help="first evaluation seed")
    args = parser.parse_args()
    console = Console()
    for run in args.curve:
        curve(run, console)
    rows = []
    for spec in args.checkpoints:
        name, sep, path = spec.partition("=")
        if not sep:
            parser.error(f"expected NAME=CHECKPOINT_DIR, got {spec!r}")
        meta = json.loads((Path(path) / "config.json").read_text())
        for replan in args.replan:
            cfg = EvalConfig(
                checkpoint=path,
                episodes_per_task=args.episodes,
                workers=args.workers,
                videos=0,
                seed=args.seed,
                replan_every=replan,
            )
            with tempfile.TemporaryDirectory() as out:
                result = evaluate(cfg, Path(out), console)
            rows.append((name, meta, replan or meta["policy"].get("replan_every"), result))
    if rows:
        table = Table(title=f"policy success ({args.episodes} seeded episodes per task, every task)")
        for col in (
            "policy",
            "arch",
            "encoder",
            "training min",
            "re-plan every",
            "train success",
            "held-out success",
            "episodes",
        ):
            table.add_column(col, justify="left" if col in ("policy", "arch", "encoder") else "right")
        for name, meta, replan, r in rows:
            table.add_row(
                name,
                meta["policy"]["arch"],
                Path(meta["policy"]["encoder"]).name,
                f"{meta.get('train_minutes') or 0:.0f}",
                str(replan),
                f"{r['success'].get('train', float('nan')):.1%}",
                f"{r['success'].get('held_out', float('nan')):.1%}",
                str(r["episodes"]),
            )
        console.print(table)


if __name__ == "__main__":
    main()
