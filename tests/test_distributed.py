"""`bcz train workers=N` on real Ray Train workers (gloo DDP on this machine's CPUs)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console
from safetensors.torch import load_file

from policy import Policy
from policy.train import train
from tests.conftest import tiny_train_config

RUN = dict(threads=1, lr=1e-3, warmup_steps=0, log_every=1, val_fraction=0.0)


def weights(run: Path, name: str = "final") -> dict[str, torch.Tensor]:
    return load_file(run / "checkpoints" / name / "model.safetensors")


def test_two_workers_take_the_step_one_worker_takes_at_the_same_global_batch(
    local_ray, tiny_dataset, tmp_path
):
    """Same initial weights, same samples (a mixed-in dataset's share, 0.3 of 16, too): the data split and
    the gradient averaging are right."""
    mixed = dict(mix_dataset=str(tiny_dataset), mix_ratio=0.3, **RUN)
    one = train(tiny_train_config(tiny_dataset, max_steps=1, batch_size=16, **mixed), tmp_path / "one")
    two = train(
        tiny_train_config(tiny_dataset, max_steps=1, batch_size=8, workers=2, **mixed), tmp_path / "two"
    )
    assert two["samples"] == one["samples"] == 16
    assert two["last_loss"] == pytest.approx(one["last_loss"], rel=1e-5)
    a, b = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert a.keys() == b.keys()
    gaps = torch.cat([(a[k] - b[k]).abs().flatten() for k in a])
    # An Adam step moves each weight by ~lr (1e-3) whatever its gradient's size, so a weight whose gradient
    # is ~1e-8 carries summation-order rounding into its step; all others agree to float precision.
    worst, apart = float(gaps.max()), float((gaps > 1e-6).float().mean())
    assert worst < 1e-4 and apart < 0.01, f"weights after one step: max gap {worst:g}, {apart:.2%} over 1e-6"
    policy = Policy.from_pretrained(tmp_path / "two" / "checkpoints" / "final")  # rebuilds alone, and acts
    h, w = policy.config.image_size
    obs = {c: np.zeros((h, w, 3), np.uint8) for c in policy.config.cameras}
    obs["state"] = np.zeros(len(policy.config.state_names), np.float32)
    assert policy.select_action(obs, "pick up the red block").shape == (7,)


def test_a_run_stopped_with_one_worker_resumes_from_last_with_two(local_ray, tiny_dataset, tmp_path):
    """The checkpoint does not depend on the number of workers: the counters and weights carry on."""
    settings = dict(batch_size=8, checkpoint_every=2, **RUN)
    train(tiny_train_config(tiny_dataset, max_steps=4, **settings), tmp_path)
    resumed = train(tiny_train_config(tiny_dataset, max_steps=8, workers=2, **settings), tmp_path)
    assert resumed["step"] == 8 and resumed["samples"] == 4 * 8 + 4 * 2 * 8


def training_worker_pids() -> list[int]:
    """The processes of Ray Train's workers on this machine (Ray names them after their actor class)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::RayTrainWorker"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return sorted(pids)


def test_a_killed_worker_is_replaced_and_the_run_ends_with_a_checkpoint(local_ray, tiny_dataset, tmp_path):
    cfg = tiny_train_config(
        tiny_dataset, max_steps=60, batch_size=8, workers=2, checkpoint_every=5, max_failures=2, **RUN
    )
    result: dict = {}
    console = Console(record=True, width=200)  # what the command would print
    run = threading.Thread(target=lambda: result.update(train(cfg, tmp_path, console)))
    run.start()
    last, deadline = tmp_path / "checkpoints" / "last" / "train_state.pt", time.monotonic() + 300
    while not last.is_file() and run.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    pids = training_worker_pids()
    assert len(pids) == 2 and run.is_alive(), "the run should be under way with its two workers"
    os.kill(pids[-1], signal.SIGKILL)
    run.join(timeout=300)
    assert not run.is_alive()
    assert result["step"] == 60 and result["samples"] == 60 * 16  # nothing lost or counted twice
    assert (tmp_path / "checkpoints" / "final" / "model.safetensors").is_file()
    assert "resuming from" in console.export_text()  # the workers were restarted from the checkpoint
