"""Policy speed: inference latency per action chunk (CPU, batch 1) and training throughput with the
real data pipeline, and the share of step time spent waiting for data.

    python benchmarks/policy_speed.py --dataset datasets/tabletop
    python benchmarks/policy_speed.py --dataset datasets/tabletop96 --arch vit   # 96x96 cameras

Latency: median of 200 chunk predictions (image normalization, network, de-normalization) after
warm-up, single process. Training: 60 steps of the default training step (batch 64, augmentation,
AdamW) fed by the prefetching loader from the memory-mapped frame cache.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from data_collection.layout import feature_names
from policy.data import DemoData
from policy.language import SentenceEncoder
from policy.policy import Policy, PolicyConfig
from policy.prefetch import Prefetcher


def build(arch: str, data: DemoData, encoder) -> Policy:
    cfg = PolicyConfig(arch=arch)
    cfg.cameras = data.cameras
    cfg.image_size = list(data.features[f"observation.images.{cfg.cameras[0]}"]["shape"][:2])
    cfg.state_names = feature_names(data.features, "observation.state")
    cfg.action_names = feature_names(data.features, "action")
    policy = Policy(cfg, encoder.dim)
    policy.set_statistics(data.cache.stats)
    return policy


def latency(policy: Policy, data: DemoData) -> float:
    policy.eval()
    batch = data.batch(np.random.default_rng(0), 1)
    obs = {"state": batch["state"][0].numpy(), **{c: batch["images"][c][0].numpy() for c in data.cameras}}
    policy.plan(obs, "pick up the red block")
    times = []
    for _ in range(200):
        t = time.perf_counter()
        policy.plan(obs, "pick up the red block")
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def training(policy: Policy, data: DemoData, steps: int = 60) -> tuple[float, float]:
    policy.train()
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    pre = Prefetcher(lambda: data.batch(rng, 64))
    wait = total = 0.0
    for i in range(steps + 5):
        t0 = time.perf_counter()
        b = pre.get()
        t1 = time.perf_counter()
        loss, _ = policy(b, augment=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 5:
            wait += t1 - t0
            total += time.perf_counter() - t0
    pre.close()
    return steps * 64 / total, wait / total


def main() -> None:
    os.environ.setdefault("COLUMNS", "140")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="datasets/tabletop")
    parser.add_argument("--arch", nargs="+", default=["vit", "bcz_resnet"], choices=["vit", "bcz_resnet"])
    args = parser.parse_args()
    encoder = SentenceEncoder()
    data = DemoData(args.dataset, encoder, 10, relabels=False, val_fraction=0)
    table = Table(title=f"Policy speed on this CPU ({torch.get_num_threads()} threads)")
    for col in (
        "network",
        "parameters",
        "inference per chunk (median)",
        "training samples/s",
        "data wait share",
    ):
        table.add_column(col, justify="right")
    for arch in args.arch:
        policy = build(arch, data, encoder)
        params = sum(p.numel() for p in policy.parameters()) / 1e6
        ms = latency(policy, data)
        sps, wait = training(policy, data)
        table.add_row(arch, f"{params:.2f} M", f"{ms:.2f} ms", f"{sps:.0f}", f"{wait:.1%}")
    Console().print(table)


if __name__ == "__main__":
    main()
