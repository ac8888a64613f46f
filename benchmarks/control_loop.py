"""Sustained control: rate, tick jitter, inference latency, deadline misses and memory, with the policy
in the loop, headless, for minutes at a time.

    python benchmarks/control_loop.py --minutes 5 --rates 10 30

Each run: the simulated tabletop behind the safety layer, the shipped default policy (or --checkpoint)
planning in its own thread, and a new instruction every 20 s (so chunks are dropped and re-planned as
in use). Memory is the process's resident set size at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from process_memory import rss_mb
from rich.console import Console
from rich.table import Table

from deploy.run import RunConfig, build

INSTRUCTIONS = [
    "pick up the red block",
    "put the red block in the green bowl",
    "knock over the green bottle",
    "push the blue cube to the yellow bowl",
    "stack the red block on the blue block",
]


def run(rate: float, minutes: float, checkpoint: str) -> dict:
    cfg = RunConfig(checkpoint=checkpoint)
    cfg.loop.control_hz = rate
    cfg.sim.gui = "false"
    cfg.sim.seed = 0
    session, _ = build(cfg)
    loop = session.loop
    loop.start()
    time.sleep(2.0)  # warm-up: the first chunks
    start_mem, start = rss_mb(), time.perf_counter()
    loop.stats.deadline_misses, loop.stats.ticks = 0, 0
    loop.stats.starts.clear()
    loop.stats.lateness.clear()
    intervals = []
    k, last = 0, None
    while time.perf_counter() - start < minutes * 60:
        if k % 10 == 0:  # a new instruction every 20 s
            session.instruct(INSTRUCTIONS[(k // 10) % len(INSTRUCTIONS)])
        k += 1
        time.sleep(2)  # the stats window holds the last ticks only: read the new ones often
        starts = [t for t in list(loop.stats.starts) if last is None or t >= last]
        intervals += list(np.diff(starts))
        last = starts[-1] if starts else last
    seconds = time.perf_counter() - start
    figures = loop.figures()
    ticks = loop.stats.ticks
    end_mem = rss_mb()
    loop.stop()
    session.robot.disconnect()

    dev = np.abs(np.asarray(intervals) - 1.0 / rate) * 1e3
    return {
        "rate": rate,
        "seconds": seconds,
        "achieved": ticks / seconds,
        "jitter_p50": np.percentile(dev, 50),
        "jitter_p99": np.percentile(dev, 99),
        "misses": loop.stats.deadline_misses,
        "ticks": ticks,
        "inf_p50": figures.get("inference_p50_ms"),
        "inf_p99": figures.get("inference_p99_ms"),
        "mem_start": start_mem,
        "mem_end": end_mem,
    }


def main() -> None:
    os.environ.setdefault("COLUMNS", "140")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rates", type=float, nargs="*", default=[10.0, 30.0])
    parser.add_argument("--checkpoint", default="default")
    args = parser.parse_args()
    table = Table(
        title=f"Sustained control with the policy in the loop ({args.minutes:g} min per rate, headless)"
    )
    for col in (
        "target",
        "achieved",
        "ticks",
        "jitter p50",
        "jitter p99",
        "deadline misses",
        "inference p50",
        "inference p99",
        "memory start",
        "memory end",
    ):
        table.add_column(col, justify="right")
    for rate in args.rates:
        r = run(rate, args.minutes, args.checkpoint)
        table.add_row(
            f"{rate:g} Hz",
            f"{r['achieved']:.2f} Hz",
            str(r["ticks"]),
            f"{r['jitter_p50']:.2f} ms",
            f"{r['jitter_p99']:.2f} ms",
            f"{r['misses']} ({r['misses'] / max(r['ticks'], 1):.2%})",
            f"{r['inf_p50']:.1f} ms",
            f"{r['inf_p99']:.1f} ms",
            f"{r['mem_start']:.0f} MB",
            f"{r['mem_end']:.0f} MB",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
