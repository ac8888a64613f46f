"""The moving average of the weights (ema_decay): what it averages, and what a run saves and resumes."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from policy.ema import WeightAverage
from policy.train import TrainConfig, train
from tests.conftest import tiny_train_config


def test_the_average_follows_the_weights_and_is_applied_only_inside_the_block():
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    average = WeightAverage(layer, decay=0.5)
    with torch.no_grad():
        layer.weight.fill_(4.0)
    average.update(layer)  # halfway: 2
    average.update(layer)  # 3
    with average.applied(layer):
        torch.testing.assert_close(layer.weight, torch.full((1, 2), 3.0))
    torch.testing.assert_close(layer.weight, torch.full((1, 2), 4.0))  # the raw weights are back
    with pytest.raises(ValueError, match=r"ema_decay=1\.0"):
        WeightAverage(layer, decay=1.0)
    with pytest.raises(ValueError, match=r"ema_decay=1\.5"):
        TrainConfig(ema_decay=1.5)


def test_a_run_saves_the_average_as_final_and_resumes_it(tiny_dataset, tmp_path):
    cfg = tiny_train_config(tiny_dataset, max_steps=20, checkpoint_every=10, ema_decay=0.9)
    train(cfg, tmp_path)
    final = load_file(tmp_path / "checkpoints" / "final" / "model.safetensors")
    raw = load_file(tmp_path / "checkpoints" / "last" / "model.safetensors")
    saved = torch.load(tmp_path / "checkpoints" / "last" / "train_state.pt", weights_only=False)["ema"]
    head = "net.head.weight"
    assert not torch.equal(final[head], raw[head])  # final is the average, last the raw weights
    names = [k for k in raw if k in final and raw[k].dtype.is_floating_point]
    index = [n for n, _ in _named_parameters(tmp_path)].index(head)
    torch.testing.assert_close(final[head], saved["average"][index])
    assert len(names) >= len(saved["average"])
    state = torch.load(tmp_path / "checkpoints" / "last" / "train_state.pt", weights_only=False)
    state["ema"]["average"] = [torch.zeros_like(a) for a in state["ema"]["average"]]
    torch.save(state, tmp_path / "checkpoints" / "last" / "train_state.pt")
    cfg.max_steps = 30  # resumed: the average carries on from the saved one (zeroed here to tell)
    train(cfg, tmp_path)
    final = load_file(tmp_path / "checkpoints" / "final" / "model.safetensors")[head]
    raw = load_file(tmp_path / "checkpoints" / "last" / "model.safetensors")[head]
    assert final.norm() < 0.8 * raw.norm()  # 10 steps at 0.9 keep 35% of the zeros


def _named_parameters(run):
    from policy.policy import Policy

    return list(Policy.from_pretrained(run / "checkpoints" / "last").named_parameters())
