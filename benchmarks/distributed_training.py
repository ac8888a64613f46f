"""Data-parallel training on Ray Train: samples/s with 1 and 2 workers (1 CPU thread each), the gradient
all-reduce's share of a step, and the loss after the same samples.

    python benchmarks/distributed_training.py --dataset datasets/tabletop --steps 150

Each row is a real `policy.train.train` run of the default ViT from scratch (no rollouts), by steps:
1 worker at batch 64 (this process, no Ray); 2 workers at 32 each, the same global batch and, by
construction, the same samples; 2 workers at 64 each, the global batch doubled. Samples/s is samples over
summed step time (start-up excluded); the all-reduce figures are DDP's own timing (every 100 steps); the
loss is the last 25 steps' mean and the validation loss is on the same held-out episodes.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from policy.train import RolloutConfig, TrainConfig, train

ARMS = [(1, 64), (2, 32), (2, 64)]  # (workers, batch per worker)


def run(dataset: str, workers: int, batch: int, steps: int, out: Path) -> dict:
    cfg = TrainConfig(
        dataset=dataset,
        max_minutes=None,
        max_steps=steps,
        batch_size=batch,
        workers=workers,
        threads=1,
        warmup_steps=0,
        lr=3e-4,
        log_every=25,
        val_every=steps,
        checkpoint_every=steps,
        rollouts=RolloutConfig(every_minutes=0),
    )
    return train(cfg, out, Console(quiet=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="datasets/tabletop")
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    console = Console()
    table = Table(title=f"data-parallel training, {args.steps} steps each ({args.dataset})")
    for name in ("workers x batch", "samples", "samples/s", "vs 1 worker", "all-reduce / step", "not hidden"):
        table.add_column(name, justify="right")
    table.add_column("train loss", justify="right")
    table.add_column("val loss", justify="right")
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for workers, batch in ARMS:
            console.print(f"{workers} worker(s) x batch {batch} ...")
            r = run(args.dataset, workers, batch, args.steps, Path(tmp) / f"{workers}x{batch}")
            sps = r["samples"] / r["seconds"]
            base = base or sps
            step_ms = 1e3 * r["seconds"] / r["step"]
            comm = "-"
            if "allreduce_ms" in r:
                comm = f"{r['allreduce_ms']:.0f} ms ({r['allreduce_ms'] / step_ms:.0%})"
            hidden = f"{r['allreduce_exposed_ms']:.0f} ms" if "allreduce_exposed_ms" in r else "-"
            table.add_row(
                f"{workers} x {batch}",
                f"{r['samples']:,}",
                f"{sps:.0f}",
                f"{sps / base:.2f}x",
                comm,
                hidden,
                f"{r['last_loss']:.4f}",
                f"{r.get('val_loss', float('nan')):.4f}",
            )
    console.print(table)


if __name__ == "__main__":
    main()
