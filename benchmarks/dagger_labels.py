"""How much of a dataset's chunk labels is the expert's path, and how much the policy's own motion.

    python benchmarks/dagger_labels.py datasets/dagger280 [datasets/tabletop --episodes 300]

Training reads a frame's chunk target k steps on as the state at t+k plus the label there
(`policy.data.DemoData.targets`). When the expert drove t..t+k, that is the expert's path. When the
policy drove, the state at t+k is where the *policy* went. The table compares that target, at k = K-1,
with the expert's own commands chained from t (the sum of the labels t..t+k), by who drove the window:
the gap is the motion that is not the expert's (tracking error, DART noise, or the policy's drift).
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from data_collection.dataset import DatasetReader


def gaps(root: str, k: int, episodes: int | None) -> dict[str, list[float]]:
    """Per window of k+1 frames: the gap (m), grouped by who drove it."""
    reader = DatasetReader(root)
    out: dict[str, list[float]] = {"expert throughout": [], "policy throughout": [], "both": []}
    for ep in range(min(reader.num_episodes, episodes or reader.num_episodes)):
        frames = reader.frames(ep)
        state = np.asarray(frames["observation.state"], np.float64)[:, :3]
        label = np.asarray(frames["action"], np.float64)[:, :3]
        driven = np.asarray(frames["intervention"], bool).reshape(-1)
        if reader.info_of(ep).get("source") != "policy":
            driven = np.ones_like(driven)  # a demonstration: the expert drove every frame
        for t in range(len(state) - k):
            target = state[t + k] + label[t + k] - state[t]
            chained = label[t : t + k + 1].sum(0)
            window = driven[t : t + k + 1]
            who = (
                "expert throughout" if window.all() else ("policy throughout" if not window.any() else "both")
            )
            out[who].append(float(np.linalg.norm(target - chained)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+")
    parser.add_argument("--k", type=int, default=4, help="steps on (the receding horizon executes 0-4)")
    parser.add_argument("--episodes", type=int, default=None, help="the first N episodes of each")
    args = parser.parse_args()
    table = Table(title=f"chunk target at k={args.k} against the expert's chained commands")
    for column in ("dataset", "who drove the window", "windows", "median gap", "90th percentile"):
        table.add_column(column, justify="left" if column in ("dataset", "who drove the window") else "right")
    for root in args.datasets:
        for who, values in gaps(root, args.k, args.episodes).items():
            if values:
                v = np.asarray(values) * 100
                table.add_row(
                    root, who, f"{len(v):,}", f"{np.median(v):.2f} cm", f"{np.percentile(v, 90):.2f} cm"
                )
    Console().print(table)


if __name__ == "__main__":
    main()
