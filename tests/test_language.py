"""Order-aware pooling of the sentence encoder, and widening a mean-pooled policy to it."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from policy.data import DemoData
from policy.language import SentenceEncoder
from policy.networks import ResNetConfig
from policy.policy import Policy
from policy.rollouts import RolloutConfig
from policy.train import TrainConfig, train

MOVE_RED = "stack the red block on the blue block"
MOVE_BLUE = "stack the blue block on the red block"


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_the_order_vector_tells_which_block_moves(tmp_path):
    mean = SentenceEncoder(cache=tmp_path)
    order = SentenceEncoder(cache=tmp_path, pooling="mean+order")
    assert (mean.dim, order.dim) == (384, 768) and order.cache_file != mean.cache_file
    m, v = mean.encode([MOVE_RED, MOVE_BLUE]), order.encode([MOVE_RED, MOVE_BLUE])
    np.testing.assert_allclose(v[:, :384], m, atol=1e-6)  # the first half is the plain sentence vector
    np.testing.assert_allclose(np.linalg.norm(v[:, 384:], axis=1), 1.0, atol=1e-5)
    assert cosine(*m) > 0.98  # the mean barely hears which block moves...
    assert cosine(*v[:, 384:]) < 0.9  # ...the order half does (about 0.80)
    texts = ["put the green block on top of the purple block please", MOVE_RED, "lift"]
    alone = np.concatenate([order._forward([t]) for t in texts])
    np.testing.assert_allclose(order._forward(texts), alone, atol=1e-5)  # padding has no place
    with pytest.raises(ValueError, match=r"pooling='max'; valid: mean, mean\+order"):
        SentenceEncoder(cache=tmp_path, pooling="max")


@pytest.mark.parametrize("arch", ["vit", "bcz_resnet"])
def test_a_widened_policy_acts_as_before_until_fine_tuned(tiny_checkpoint, tiny_dataset, tmp_path, arch):
    config = copy.deepcopy(Policy.from_pretrained(tiny_checkpoint).config)
    config.arch, config.goal_loss = arch, 1.0
    config.resnet = ResNetConfig(widths=[8, 16, 16, 16], blocks=[1, 1, 1, 1], head_hidden=32)
    torch.manual_seed(0)
    policy = Policy(config, 384).eval()
    for p in policy.parameters():  # FiLM starts at zero: make every input of the task vector count
        torch.nn.init.normal_(p, std=0.1)
    wide = policy.with_pooling("mean+order")
    assert wide.config.pooling == "mean+order" and wide.cond_dim == 768
    assert policy.with_pooling("mean") is policy and wide.with_pooling("mean") is wide  # never narrows
    with pytest.raises(ValueError, match=r"policy\.pooling='max'; valid: mean, mean\+order"):
        policy.with_pooling("max")
    data = DemoData(str(tiny_dataset), policy.encoder, config.chunk, val_fraction=0, progress=False)
    batch = data.batch(np.random.default_rng(0), 6)
    texts = [MOVE_RED, MOVE_BLUE, "pick up the red block", "knock over the purple bottle", "lift", "push it"]
    outputs = []
    for p in (policy, wide):
        x, s = p._inputs(batch["images"], batch["state"])
        cond = torch.as_tensor(p.encoder.encode(texts))
        with torch.no_grad():
            outputs.append(
                (
                    p.predict_chunk(batch["images"], batch["state"], cond),
                    p.goal_head(p.net.features(x, s, cond)),
                )
            )
    for before, after in zip(*outputs, strict=True):
        torch.testing.assert_close(after, before)
    reloaded = Policy.from_pretrained(wide.save_pretrained(tmp_path / "wide"))
    assert reloaded.config.pooling == "mean+order" and reloaded.encoder.dim == 768


def test_finetune_with_order_pooling_widens_learns_and_resumes(tiny_checkpoint, tiny_dataset, tmp_path):
    cfg = TrainConfig(
        dataset=str(tiny_dataset),
        init_from=tiny_checkpoint,
        max_minutes=None,
        max_steps=4,
        batch_size=8,
        warmup_steps=1,
        val_every=1000,
        checkpoint_every=2,
        rollouts=RolloutConfig(every_minutes=0),
    )
    cfg.policy.pooling = "mean+order"
    tuned = Policy.from_pretrained(train(cfg, tmp_path)["checkpoint"])
    assert tuned.config.pooling == "mean+order" and tuned.cond_dim == 768
    assert tuned.net.task_proj[0].weight[:, 384:].abs().sum() > 0  # the order half is being learned
    cfg.max_steps = 6
    assert train(cfg, tmp_path)["step"] == 6  # resumes the widened run as it is


def test_one_hot_ids_have_no_words_to_order(tiny_checkpoint):
    config = copy.deepcopy(Policy.from_pretrained(tiny_checkpoint).config)
    config.encoder, config.pooling = "onehot", "mean+order"
    with pytest.raises(ValueError, match="needs a sentence encoder"):
        Policy(config, 10)
