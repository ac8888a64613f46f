"""Which parts of the recipe matter, compared where every arm is off the floor.

    python benchmarks/arm_comparison.py                      # rung 2, 20 minutes an arm, two at a time
    python benchmarks/arm_comparison.py --final-only --relabel-steps 2000 --episodes 10   # the README's table
    python benchmarks/arm_comparison.py --minutes 40 --episodes 30 --dagger-episodes 600

On the whole suite every arm is at 4-21% after 20 CPU-minutes (README), too near the floor to rank
them. Rung 2 of the ladder (`pick_up` over every object in the full scene, 3,000 demonstrations, the
purple and orange block held out) had the recipe at 56-63% after 10-20 minutes in the ladder's table,
and 20 minutes an arm does separate them (README: the recipe 56% / 60%, the ResNet 14% / 5%).
Each arm is one change from the shipped recipe, trained from scratch on the same demonstrations and
seed with one torch thread, two arms at a time (one per core), and scored on the same seeded episodes;
held-out tasks test whether an arm can do what it was never shown.

DAgger data changes what an already trained policy learns from, so its arm starts from the recipe's
final checkpoint: `bcz dagger` lets that policy drive while the expert labels every state (and takes
over when it strays), then fine-tunes it on those episodes mixed with the demonstrations. Its control
fine-tunes the same checkpoint for the same minutes on the demonstrations alone (`bcz finetune`: lr
1e-4, which the DAgger round uses too).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from policy_ladder import BCZ, RUNGS, Rung, collect, evaluate, quoted, rate
from rich.console import Console
from rich.table import Table

ARMS = {  # name: (what changes, train overrides)
    "recipe": ("the shipped recipe: ViT, sentence encoder, hindsight relabels", []),
    "bcz_resnet": ("BC-Z ResNet-18 + FiLM instead of the ViT", ["policy.arch=bcz_resnet"]),
    "onehot": ("one-hot task ids instead of the sentence encoder", ["policy.encoder=onehot"]),
    "recipe_seed1": ("the shipped recipe, training seed 1 (run-to-run spread)", ["seed=1"]),
}
# Relabels need episodes that achieve other tasks than their own: put_in episodes lift their object on the
# way, so relabelling them yields pick_up demonstrations. (On rung 2's pick_up episodes it finds none.)
RELABEL_DATA = ["put_in/*"]
RELABEL_EVAL = ["pick_up/*", "put_in/*"]
RELABEL_ARMS = {"relabels": "relabels=true", "no_relabels": "relabels=false"}


def start_together(jobs: list[tuple[list[str], Path]], console: Console) -> list:
    """Start bcz commands side by side (one core each), each into its log."""
    procs = []
    for cmd, log in jobs:
        log.parent.mkdir(parents=True, exist_ok=True)
        console.print(f"started: {' '.join(cmd[2:])}", markup=False)
        procs.append((subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT), log))
    return procs


def wait_for(procs: list) -> None:
    failed = [log for proc, log in procs if proc.wait() != 0]
    if failed:
        raise SystemExit("failed, see " + ", ".join(map(str, failed)))


def run_together(jobs: list[tuple[list[str], Path]], console: Console) -> None:
    wait_for(start_together(jobs, console))


def train_cmd(dataset: Path, out: Path, minutes: float, snapshots: int, overrides: list[str]) -> list[str]:
    return [
        *BCZ,
        "train",
        f"dataset={dataset}",
        f"output_dir={out}",
        f"max_minutes={minutes}",
        f"snapshot_every_minutes={minutes / snapshots}",
        "rollouts.every_minutes=0",
        "threads=1",
        *overrides,
    ]


def done(out: Path) -> bool:
    return (out / "checkpoints" / "final" / "config.json").is_file()


def checkpoints(out: Path) -> list[Path]:
    """A run's snapshots along training and its final checkpoint (not a snapshot that is the final)."""
    final = out / "checkpoints" / "final"
    budget = json.loads((final / "config.json").read_text())["train_minutes"]
    snaps = [c for c in sorted((out / "checkpoints").glob("min_*")) if int(c.name[4:]) < budget - 0.5]
    return [*snaps, final]


def train_arms(args, demos: Path, runs: Path, console: Console) -> list[tuple]:
    """Every arm from scratch, `--jobs` at a time; the table's rows (arm, change, run, start)."""
    todo = [a for a in args.arms if not done(runs / a)]
    for i in range(0, len(todo), args.jobs):
        batch = todo[i : i + args.jobs]
        cmds = [train_cmd(demos, runs / a, args.minutes, args.snapshots, ARMS[a][1]) for a in batch]
        run_together([(cmd, runs / a / "train.log") for cmd, a in zip(cmds, batch, strict=True)], console)
    return [(a, ARMS[a][0], runs / a, None) for a in args.arms]


def dagger_arms(args, rung: Rung, demos: Path, runs: Path, console: Console) -> list[tuple]:
    """From the recipe's final checkpoint: one DAgger round, and the same minutes on the demos alone."""
    base = runs / "recipe" / "checkpoints" / "final"
    dagger_out, control = runs / "dagger", runs / "recipe_continued"
    jobs = []
    if not done(dagger_out / "round_1"):
        cmd = [
            *BCZ,
            "dagger",
            f"checkpoint={base}",
            f"dataset={demos.parent / (demos.name + '_dagger')}",
            f"train.mix_dataset={demos}",
            f"output_dir={dagger_out}",
            "rounds=1",
            f"episodes_per_round={args.dagger_episodes}",
            f"minutes_per_round={args.dagger_minutes}",
            f"tasks={quoted(rung.tasks)}",
            "takeover_steps=1000",  # once the expert takes the hand it keeps it (README: DAgger)
            "workers=1",
            "train.threads=1",
            "train.lr=1e-4",  # bcz finetune's rate and warm-up, as the control's
            "train.warmup_steps=100",
        ]
        jobs.append((cmd, dagger_out / "dagger.log"))
    if not done(control):
        cmd = [*BCZ, "finetune", f"dataset={demos}", f"output_dir={control}", f"init_from={base}"]
        cmd += [f"max_minutes={args.dagger_minutes}", "rollouts.every_minutes=0", "threads=1"]
        cmd += ["replay.episodes=0"]  # the demos alone, as the DAgger arm's mix
        jobs.append((cmd, control / "train.log"))
    run_together(jobs, console)
    start = json.loads((base / "config.json").read_text())  # fine-tunes count on from here
    more = f"recipe + {args.dagger_minutes:g} min"
    return [
        ("recipe_continued", f"{more} on the demos", control, start),
        (
            "dagger",
            f"{more} on {args.dagger_episodes} DAgger episodes mixed 1:1 with the demos",
            dagger_out / "round_1",
            start,
        ),
    ]


def relabel_data(args) -> tuple[Rung, Path]:
    rung = Rung("put_in_all", RELABEL_DATA, args.relabel_demos, 0, args.relabel_episodes, RELABEL_EVAL)
    rung.relabel = True  # collect() relabels the demonstrations once
    return rung, args.root / "datasets" / f"comparison_{rung.name}_{rung.episodes}"


def start_relabel_arms(args, steps: int, console: Console) -> tuple[Path, list]:
    """put_in demonstrations with and without their hindsight labels, the same number of steps each (a
    step budget: scoring the other arms on the same cores meanwhile does not change the outcome)."""
    rung, demos = relabel_data(args)
    collect(rung, demos, console)
    runs = args.root / "runs" / "comparison" / f"{demos.name}_{steps}steps"
    jobs = []
    for arm, flag in RELABEL_ARMS.items():
        if not done(runs / arm):
            cmd = [*BCZ, "train", f"dataset={demos}", f"output_dir={runs / arm}", "max_minutes=null"]
            cmd += [f"max_steps={steps}", "rollouts.every_minutes=0", "threads=1", flag]
            jobs.append((cmd, runs / arm / "train.log"))
    return runs, start_together(jobs, console)


def score_relabel_arms(args, runs: Path, console: Console) -> Table:
    rung, demos = relabel_data(args)
    table = Table(title=f"{demos.name}: {rung.episodes} put_in demos, {runs.name}, per skill")
    for col in ("arm", "pick_up train", "pick_up held-out", "put_in train", "put_in held-out"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    for arm in RELABEL_ARMS:
        ckpt = runs / arm / "checkpoints" / "final"
        console.print(f"evaluating {ckpt}")
        summary = evaluate(rung, ckpt, rung.eval_episodes, [], workers=2)
        cells = []
        for skill in ("pick_up", "put_in"):
            for split in ("train", "held_out"):
                rows = [e for e in summary["episodes_detail"] if e["task"].startswith(skill + "/")]
                cells.append(rate({"episodes_detail": rows}, split))
        table.add_row(arm, *cells)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=20, help="training budget of every arm")
    parser.add_argument("--snapshots", type=int, default=2, help="checkpoints scored along training")
    parser.add_argument("--demos", type=int, default=3000, help="expert demonstrations")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes per task")
    parser.add_argument("--final-only", action="store_true", help="score final checkpoints only")
    parser.add_argument("--jobs", type=int, default=2, help="arms trained at once (one torch thread each)")
    parser.add_argument("--dagger-episodes", type=int, default=300, help="policy-driven episodes")
    parser.add_argument("--dagger-minutes", type=float, default=10, help="fine-tuning after them")
    parser.add_argument("--relabel-demos", type=int, default=1500, help="put_in demos (0: no relabel arms)")
    parser.add_argument("--relabel-steps", type=int, help="their training steps (default: the recipe's)")
    parser.add_argument("--relabel-episodes", type=int, default=5, help="their evaluation episodes per task")
    parser.add_argument("--arms", nargs="*", choices=sorted(ARMS), default=list(ARMS))
    parser.add_argument("--root", type=Path, default=Path("."), help="where datasets/ and runs/ live")
    args = parser.parse_args()
    console = Console()
    rung = RUNGS[2]
    rung.episodes = args.demos
    rung.relabel = True  # the recipe relabels (on these pick_up demos it finds no new labels)
    name = f"{rung.name}_{rung.episodes}"
    demos = args.root / "datasets" / f"ladder_{name}"
    collect(rung, demos, console)
    runs = args.root / "runs" / "comparison" / f"{name}_{args.minutes:g}min"
    rows = train_arms(args, demos, runs, console)
    relabel_runs, relabel_procs = None, []
    if "recipe" in args.arms:
        rows += dagger_arms(args, rung, demos, runs, console)
        if args.relabel_demos:  # by default as many steps as the recipe took; trained while scoring
            recipe = runs / "recipe" / "checkpoints" / "final" / "config.json"
            steps = args.relabel_steps or json.loads(recipe.read_text())["step"]
            relabel_runs, relabel_procs = start_relabel_arms(args, steps, console)

    table = Table(title=f"{name}: {args.demos} demos, arms of {args.minutes:g} CPU-minutes (one thread)")
    for col in ("arm", "change", "training min", "samples", "train tasks", "held-out tasks"):
        table.add_column(col, justify="left" if col in ("arm", "change") else "right")
    for arm, change, out, start in rows:
        for ckpt in checkpoints(out)[-1:] if args.final_only else checkpoints(out):
            console.print(f"evaluating {ckpt}")
            summary = evaluate(rung, ckpt, args.episodes, [], workers=2)
            meta = json.loads((ckpt / "config.json").read_text())
            minutes, samples = meta["train_minutes"], meta["samples"]
            if start:
                minutes, samples = minutes + start["train_minutes"], samples + start["samples"]
            train, held_out = rate(summary, "train"), rate(summary, "held_out")
            table.add_row(arm, change, f"{minutes:.0f}", f"{samples:,}", train, held_out)
    console.print(table)
    if relabel_runs:
        wait_for(relabel_procs)
        console.print(score_relabel_arms(args, relabel_runs, console))


if __name__ == "__main__":
    main()
