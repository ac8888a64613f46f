"""A head of several modes (policy.modes): it commits where one regressed chunk averages, it widens from
a one-mode checkpoint without changing what the policy does, and it trains, saves and reloads."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from policy.chunk_loss import chunk_loss
from policy.networks import ResNetConfig
from policy.networks.chunk_network import ChunkNetwork
from policy.policy import Policy
from policy.train import train
from policy.widen import with_modes
from tests.conftest import tiny_train_config


class Blind(ChunkNetwork):
    """A head on features that cannot tell two situations apart (one learned constant)."""

    def __init__(self, modes: int) -> None:
        super().__init__()
        self.chunk, self.action_dim, self.modes, self.feature_dim = 2, 2, modes, 8
        self.constant = nn.Parameter(torch.randn(1, 8))
        self.head = nn.Linear(8, self.head_outputs())

    def features(self, images, state, cond):
        return self.constant.expand(len(state), -1)


@pytest.mark.parametrize("modes", [1, 2])
def test_several_modes_commit_where_one_averages(modes):
    """Half the demonstrations go to +1, half to -1, from inputs the network cannot tell apart: one mode
    learns the midpoint (where nothing is), two modes learn both and the executed chunk is one of them."""
    torch.manual_seed(0)
    net = Blind(modes)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    side = torch.tensor([1.0, -1.0]).repeat(32)[:, None, None]
    target = torch.cat([side.expand(-1, 2, 1), torch.zeros(64, 2, 1)], -1)  # (B, K=2, A=2): x = +-1
    closed = torch.zeros(64, 2, 1, dtype=torch.bool)
    for _ in range(300):
        chunks, scores = net.proposals(net.features(None, torch.zeros(64, 1), None))
        loss, parts = chunk_loss(chunks, scores, target, closed, [0], [1])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x = net(None, torch.zeros(1, 1), None)[0, :, 0]
    if modes == 1:
        assert x.abs().max() < 0.1  # between the two: a grasp that closes on air
    else:
        assert (x - 1).abs().max() < 0.1 or (x + 1).abs().max() < 0.1
        assert parts["mode_ce"] == pytest.approx(0.693, abs=0.05)  # both modes equally likely, as they are


def test_only_the_closest_mode_learns_from_a_demonstration():
    chunks = torch.zeros(1, 2, 3, 2, requires_grad=True)
    target = torch.zeros(1, 3, 2)
    with torch.no_grad():
        chunks[0, 1] += 0.5  # mode 1 is further from the demonstration
    loss, parts = chunk_loss(chunks, torch.zeros(1, 2), target, torch.zeros(1, 3, 1), [0], [1])
    loss.backward()
    assert chunks.grad[0, 1].abs().sum() == 0 and chunks.grad[0, 0].abs().sum() > 0
    assert parts["huber"] == 0.0 and parts["mode_ce"] == pytest.approx(0.693, abs=1e-3)  # ln 2: mode 0 won


@pytest.mark.parametrize("arch", ["vit", "bcz_resnet"])
def test_a_policy_widened_to_modes_acts_as_before(tiny_checkpoint, tiny_dataset, arch):
    config = copy.deepcopy(Policy.from_pretrained(tiny_checkpoint).config)
    config.arch = arch
    config.resnet = ResNetConfig(widths=[8, 16, 16, 16], blocks=[1, 1, 1, 1], head_hidden=32)
    torch.manual_seed(0)
    policy = Policy(config, 384).eval()
    wide = with_modes(policy, 4)
    assert wide.config.modes == 4 and policy.config.modes == 1
    assert with_modes(wide, 1) is wide and with_modes(policy, 1) is policy
    images = {c: torch.randint(0, 255, (3, 32, 32, 3), dtype=torch.uint8) for c in config.cameras}
    state, cond = torch.rand(3, 8), torch.nn.functional.normalize(torch.randn(3, 384), dim=-1)
    torch.testing.assert_close(
        wide.predict_chunk(images, state, cond), policy.predict_chunk(images, state, cond)
    )
    chunks, _ = wide.net.proposals(wide.net.features(*wide._inputs(images, state), cond))
    assert chunks.shape[1] == 4 and (chunks[:, 1:] - chunks[:, :1]).abs().amax() > 0  # the others moved off
    with pytest.raises(ValueError, match="only from one with a single mode"):
        with_modes(wide, 2)


def test_a_policy_with_modes_trains_saves_and_reloads(tiny_dataset, tmp_path):
    cfg = tiny_train_config(tiny_dataset)
    cfg.policy.modes = 3
    result = train(cfg, tmp_path)
    policy = Policy.from_pretrained(result["checkpoint"])
    assert policy.config.modes == 3 and policy.net.out_layer.out_features == 3 * 10 * 7 + 3
    state = torch.rand(2, 8)
    images = {c: torch.randint(0, 255, (2, 32, 32, 3), dtype=torch.uint8) for c in policy.config.cameras}
    cond = policy.embed(["pick up the red block", "knock over the red bottle"])
    chunk = policy.predict_chunk(images, state, cond)
    assert chunk.shape == (2, 10, 7) and set(chunk[..., 6].unique().tolist()) <= {0.0, 1.0}
