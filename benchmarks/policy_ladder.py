"""The policy ladder: make the smallest case work before the suite, measuring success against training time.

    python benchmarks/policy_ladder.py --rung 1           # one task, plain scene: >= 95% in 15 min
    python benchmarks/policy_ladder.py --rung 1.5         # the same task in the full scene
    python benchmarks/policy_ladder.py --rung 2           # pick_up over every object, full scene
    python benchmarks/policy_ladder.py --rung 1 --arm delta="policy.actions=delta"   # an arm: train overrides
    python benchmarks/policy_ladder.py --rung 3 --minutes 90 --episodes 3            # the default suite
    python benchmarks/policy_ladder.py --rung 2 --tag nolight --env "env.randomize.lighting=false"  # variant

Each rung collects its dataset once (scripted experts on Ray, `bcz collect`), trains each arm with
`bcz train` keeping a snapshot every few training minutes, scores every snapshot with `bcz eval` on the
rung's own tasks and scene (seeds disjoint from the collection's), and prints success per snapshot:
the success-vs-training-time curve, with the episode count and the binomial standard error.
Everything lives under --root (default: datasets/ and runs/ladder/); a rerun reuses what exists.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

BCZ = [sys.executable, "-m", "deploy.cli"]
PLAIN_SCENE = [  # only the task's objects; no visual randomization (object positions still vary)
    "env.scene.min_distractors=0",
    "env.scene.max_distractors=0",
    "env.scene.max_clutter=0",
    "env.scene.same_kind_distractor_prob=0",
    "env.randomize.object_set=false",
    "env.randomize.colours=false",
    "env.randomize.lighting=false",
    "env.randomize.camera_pose=false",
    "env.randomize.table_colour=false",
]


@dataclass
class Rung:
    name: str
    tasks: list[str] | None  # None: the train split
    episodes: int  # demonstrations collected
    minutes: float  # training budget
    eval_episodes: int  # per task
    eval_tasks: list[str] | None  # None: every task of both splits
    env: list[str] = field(default_factory=list)  # env overrides for collection and evaluation
    relabel: bool = False
    target: str = ""


RUNGS = {
    1: Rung(
        "pick_up_red_block_plain",
        ["pick_up/red_block"],
        100,
        15,
        50,
        ["pick_up/red_block"],
        PLAIN_SCENE,
        target=">= 95% within 15 CPU-minutes",
    ),
    # between 1 and 2: the same single task in the full scene (distractors, clutter, randomization), to
    # tell "cannot find the named object among others" from "cannot see through the randomization"
    1.5: Rung(
        "pick_up_red_block_full",
        ["pick_up/red_block"],
        200,
        15,
        30,
        ["pick_up/red_block"],
        target="one task survives the full scene",
    ),
    2: Rung("pick_up_all", ["pick_up/*"], 600, 30, 4, ["pick_up/*"], target=">= 90%"),
    3: Rung("default_suite", None, 2000, 90, 3, None, relabel=True, target="80% train / 50% held-out"),
}


def run(cmd: list[str], log: Path) -> None:
    """Run a bcz command, its output to `log`; stop with the log's tail if it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as f:
        code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    if code != 0:
        tail = log.read_text().splitlines()[-15:]
        raise SystemExit(f"{' '.join(cmd[2:])} failed ({code}); see {log}:\n" + "\n".join(tail))


def quoted(tasks: list[str]) -> str:
    return "[" + ",".join(tasks) + "]"


def collect(rung: Rung, dataset: Path, console: Console) -> None:
    """The rung's demonstrations, collected once; relabelled too (once) when the rung relabels."""
    if not (dataset / "meta" / "info.json").is_file():
        console.print(f"collecting {rung.episodes} episodes -> {dataset}")
        cmd = [*BCZ, "collect", f"episodes={rung.episodes}", f"output={dataset}", *rung.env]
        if rung.tasks:
            cmd.append(f"tasks={quoted(rung.tasks)}")
        run(cmd, dataset.parent / f"{dataset.name}.collect.log")
    if rung.relabel and not (dataset / "meta" / "labels.parquet").is_file():
        run([*BCZ, "relabel", f"dataset={dataset}"], dataset.parent / f"{dataset.name}.relabel.log")


def train(rung: Rung, dataset: Path, out: Path, overrides: list[str], snapshots: int, console) -> None:
    if (out / "checkpoints" / "final" / "config.json").is_file():
        return
    console.print(f"training {out.name} for {rung.minutes} min ({' '.join(overrides) or 'defaults'})")
    cmd = [
        *BCZ,
        "train",
        f"dataset={dataset}",
        f"output_dir={out}",
        f"max_minutes={rung.minutes}",
        "rollouts.every_minutes=0",
        f"snapshot_every_minutes={rung.minutes / snapshots}",
        *overrides,
    ]
    run(cmd, out / "train.log")


def evaluate(rung: Rung, checkpoint: Path, episodes: int, overrides: list[str], workers: int) -> dict:
    tag = "_".join(o.replace("=", "-") for o in overrides)
    result = checkpoint / f"eval_{episodes}{'_' + tag if tag else ''}.json"
    if not result.is_file():
        cmd = [
            *BCZ,
            "eval",
            f"checkpoint={checkpoint}",
            f"episodes_per_task={episodes}",
            f"output_dir={checkpoint / 'eval'}",
            f"workers={workers}",
            "videos=2",
            *rung.env,
            *overrides,
        ]
        if rung.eval_tasks:
            cmd.append(f"tasks={quoted(rung.eval_tasks)}")
        run(cmd, checkpoint / "eval.log")
        (checkpoint / "eval" / "eval.json").rename(result)
    return json.loads(result.read_text())


def rate(summary: dict, split: str) -> str:
    outcomes = [e["success"] for e in summary["episodes_detail"] if e["split"] == split]
    if not outcomes:
        return "-"
    p = sum(outcomes) / len(outcomes)
    se = (p * (1 - p) / len(outcomes)) ** 0.5
    return f"{p:.0%} ± {se:.0%} ({len(outcomes)})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rung", type=float, choices=sorted(RUNGS), default=1)
    parser.add_argument(
        "--arm", action="append", default=[], help='NAME="train overrides" (default: "default")'
    )
    parser.add_argument("--minutes", type=float, help="training budget (default: the rung's)")
    parser.add_argument("--demos", type=int, help="demonstrations to collect (default: the rung's)")
    parser.add_argument("--episodes", type=int, help="evaluation episodes per task (default: the rung's)")
    parser.add_argument("--snapshots", type=int, default=3, help="checkpoints scored along training")
    parser.add_argument("--eval", default="", help='eval overrides, e.g. "execution=ensemble"')
    parser.add_argument(
        "--env",
        default="",
        help='env overrides for collection and evaluation, e.g. "env.robot.cameras.scene.fov_deg=39"',
    )
    parser.add_argument("--tag", default="", help="suffix naming the dataset and runs of an --env variant")
    parser.add_argument("--workers", type=int, default=2, help="evaluation workers")
    parser.add_argument("--root", type=Path, default=Path("."), help="where datasets/ and runs/ladder/ live")
    args = parser.parse_args()
    rung = RUNGS[args.rung]
    rung.minutes = args.minutes or rung.minutes
    rung.episodes = args.demos or rung.episodes
    episodes = args.episodes or rung.eval_episodes
    rung.env = [*rung.env, *args.env.split()]
    if args.env and not args.tag:
        parser.error("--env needs a --tag to name its dataset")
    console = Console()
    name = f"{rung.name}_{rung.episodes}" + (f"_{args.tag}" if args.tag else "")
    dataset = args.root / "datasets" / f"ladder_{name}"
    collect(rung, dataset, console)
    arms = [a.partition("=") for a in args.arm] or [("default", "=", "")]
    title = f"rung {args.rung:g}: {name} ({rung.episodes} demos; target {rung.target})"
    table = Table(title=title + (f"; eval {args.eval}" if args.eval else ""))
    for col in ("arm", "training min", "samples", "train tasks", "held-out tasks"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    for arm, _, overrides in arms:
        out = args.root / "runs" / "ladder" / name / arm
        train(rung, dataset, out, overrides.split(), args.snapshots, console)
        final = out / "checkpoints" / "final"
        budget = json.loads((final / "config.json").read_text())["train_minutes"]
        snapshots = [c for c in sorted((out / "checkpoints").glob("min_*")) if int(c.name[4:]) < budget - 0.5]
        checkpoints = [*snapshots, final]  # the last snapshot is the final one when the budget divides
        for ckpt in checkpoints:
            console.print(f"evaluating {ckpt}")
            summary = evaluate(rung, ckpt, episodes, args.eval.split(), args.workers)
            meta = json.loads((ckpt / "config.json").read_text())
            table.add_row(
                arm,
                f"{meta['train_minutes']:.0f}",
                f"{meta['samples']:,}",
                rate(summary, "train"),
                rate(summary, "held_out"),
            )
    console.print(table)


if __name__ == "__main__":
    main()
