"""How much data a new task needs: `bcz finetune` on N demonstrations per new task, the old suite beside.

    python benchmarks/finetune_data.py --per-task 5 10 25 --steps 3000
    python benchmarks/finetune_data.py --per-task 5 --steps 1000 --new-episodes 1   # a quick look
    python benchmarks/finetune_data.py --per-task 7 --minutes 20                     # bcz finetune's budget

For each N: N expert demonstrations of every new task (`bcz collect env.suite=SUITE tasks=PATTERN`,
seed fixed), fine-tuned from the checkpoint for `--steps` steps (or `--minutes`) with the old tasks
replayed (`bcz finetune`'s replay, collected by the first run and mixed into every other), then `bcz
eval` on the new tasks and on the old suite's train and held-out tasks, on the same seeded episodes for
every N and for the checkpoint itself. Every step is skipped when its output exists, so an interrupted
run resumes. Prints success against demonstrations and training minutes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from policy_ladder import BCZ, run
from rich.console import Console
from rich.table import Table

from data_collection.layout import LABELS_PATH
from tasks.suite import TaskSuite


def evaluate(checkpoint: Path, out: Path, tasks: list[str], episodes: int, console: Console) -> dict:
    """`bcz eval` of `checkpoint` (once; reused after), its eval.json."""
    if not (out / "eval.json").is_file():
        cmd = [*BCZ, "eval", f"checkpoint={checkpoint}", f"episodes_per_task={episodes}", "videos=0"]
        console.print(f"evaluating {checkpoint} -> {out}")
        run([*cmd, f"output_dir={out}", *tasks], out.with_suffix(".log"))
    return json.loads((out / "eval.json").read_text())


def success(summary: dict, split: str | None = None) -> str:
    """Success over the episodes of `split` (all when None), with its count."""
    outcomes = [e["success"] for e in summary["episodes_detail"] if split in (None, e["split"])]
    return f"{sum(outcomes) / len(outcomes):.1%} ({len(outcomes)})" if outcomes else "-"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", default="policy/pretrained/default")
    parser.add_argument("--suite", default="extended", help="the suite that holds the new tasks")
    parser.add_argument("--tasks", default="*pink_block*", help="the new tasks (a glob over task ids)")
    parser.add_argument("--per-task", type=int, nargs="+", default=[7, 10, 25, 50])
    parser.add_argument("--steps", type=int, default=3000, help="fine-tuning steps (batch 64)")
    parser.add_argument(
        "--minutes",
        type=float,
        help="train for this many minutes instead of --steps (bcz finetune's max_minutes)",
    )
    parser.add_argument("--lr", type=float, default=1e-4, help="learning rate (bcz finetune's)")
    parser.add_argument("--replay", type=int, default=600, help="replayed old-task episodes")
    parser.add_argument(
        "--mix-ratio", type=float, default=0.75, help="the replay's share of every batch (bcz finetune's)"
    )
    parser.add_argument(
        "--paraphrase-set",
        default="default",
        help="tell the demonstrations in other words too (bcz finetune's paraphrase_set); null: never",
    )
    parser.add_argument("--new-episodes", type=int, default=3, help="evaluation episodes per new task")
    parser.add_argument("--old-episodes", type=int, default=2, help="evaluation episodes per old task")
    parser.add_argument("--output-dir", default="runs/finetune_data")
    args = parser.parse_args()

    console, root = Console(), Path(args.output_dir)
    new = [f"env.suite={args.suite}", f"tasks=[{args.tasks}]"]
    rows = [("0 (the checkpoint)", "-", Path(args.checkpoint))]
    # the replay collected by an earlier run, when there is one: every row mixes in the same episodes
    replay = next((p for p in sorted(root.glob("ft_*/replay")) if (p / LABELS_PATH).is_file()), None)
    matching = TaskSuite.load(args.suite).match([args.tasks])
    # each setting's own runs: ft_N, ft_N_mix75, ft_N_mix75_default_phrasings (0.5: the first rows)
    arm = "" if args.mix_ratio == 0.5 else f"_mix{round(100 * args.mix_ratio)}"
    arm += f"_{args.paraphrase_set}_phrasings" if args.paraphrase_set != "null" else ""
    arm += f"_{args.minutes:g}min" if args.minutes else ""
    arm += f"_lr{args.lr:g}" if args.lr != parser.get_default("lr") else ""
    if args.minutes:  # the time decides: TrainConfig's own step bound, far beyond any budget here
        budget, spent = ["max_steps=1000000", f"max_minutes={args.minutes}"], f"{args.minutes:g} minutes"
    else:
        budget, spent = [f"max_steps={args.steps}", "max_minutes=null"], f"{args.steps} steps"
    for n in args.per_task:
        data, out = root / f"data_{n}", root / f"ft_{n}{arm}"
        if not (data / "meta" / "info.json").is_file():
            cmd = [*BCZ, "collect", *new, f"episodes={n * len(matching)}", "seed=3000000", f"output={data}"]
            console.print(f"collecting {n} demonstrations per new task -> {data}")
            run(cmd, root / f"collect_{n}.log")
        final = out / "checkpoints" / "final"
        if not (final / "config.json").is_file() or "reader_fit" not in json.loads(
            (final / "config.json").read_text()
        ):
            # a run stopped before its end (the reader is put back last) resumes from checkpoints/last
            cmd = [*BCZ, "finetune", f"init_from={args.checkpoint}", f"dataset={data}", f"output_dir={out}"]
            cmd += [*budget, f"lr={args.lr}", "rollouts.every_minutes=0"]
            cmd += [f"mix_ratio={args.mix_ratio}", f"paraphrase_set={args.paraphrase_set}"]
            cmd += [f"mix_dataset={replay}"] if replay else [f"replay.episodes={args.replay}"]
            console.print(f"fine-tuning on {data} -> {out}")
            run(cmd, root / f"finetune_{n}{arm}.log")
        replay = replay or out / "replay"
        minutes = json.loads((final / "config.json").read_text())["train_minutes"]
        rows.append((f"{n} ({n * len(matching)} episodes)", f"{minutes:.0f}", final))

    table = Table(
        title=f"bcz finetune on {args.tasks} ({args.suite}), {spent}, old tasks replayed in "
        f"{args.mix_ratio:.0%} of every batch"
    )
    for col in ("demonstrations per new task", "training minutes", "new tasks", "old train", "old held-out"):
        table.add_column(col, justify="right")
    for label, minutes, checkpoint in rows:
        tag = checkpoint.parent.parent.name if checkpoint.name == "final" else "base"
        fresh = evaluate(checkpoint, root / f"eval_new_{tag}", new, args.new_episodes, console)
        old = evaluate(checkpoint, root / f"eval_old_{tag}", [], args.old_episodes, console)
        table.add_row(label, minutes, success(fresh), success(old, "train"), success(old, "held_out"))
    console.print(table)


if __name__ == "__main__":
    main()
