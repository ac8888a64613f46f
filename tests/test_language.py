"""Order-aware pooling of the sentence encoder, widening a mean-pooled policy to it, and learned pooling
over the token states (pooling=tokens)."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch

from policy.data import DemoData
from policy.language import TOKEN_SLOTS, SentenceEncoder
from policy.networks import ResNetConfig
from policy.networks.token_pool import TokenPool
from policy.policy import Policy
from policy.rollouts import RolloutConfig
from policy.train import TrainConfig, train
from policy.widen import with_pooling
from tests.conftest import tiny_train_config

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


@pytest.mark.parametrize("pooling", ["mean+order", "tokens"])
@pytest.mark.parametrize("arch", ["vit", "bcz_resnet"])
def test_a_widened_policy_acts_as_before_until_fine_tuned(
    tiny_checkpoint, tiny_dataset, tmp_path, arch, pooling
):
    config = copy.deepcopy(Policy.from_pretrained(tiny_checkpoint).config)
    config.arch, config.goal_loss = arch, 1.0
    config.resnet = ResNetConfig(widths=[8, 16, 16, 16], blocks=[1, 1, 1, 1], head_hidden=32)
    torch.manual_seed(0)
    policy = Policy(config, 384).eval()
    for p in policy.parameters():  # FiLM starts at zero: make every input of the task vector count
        torch.nn.init.normal_(p, std=0.1)
    wide = with_pooling(policy, pooling)
    assert (
        wide.config.pooling == pooling and wide.cond_dim == {"mean+order": 768, "tokens": 32 * 384}[pooling]
    )
    assert with_pooling(policy, "mean") is policy and with_pooling(wide, "mean") is wide  # never narrows
    with pytest.raises(ValueError, match=r"policy\.pooling='max'; valid: mean, mean\+order, tokens"):
        with_pooling(policy, "max")
    other = "tokens" if pooling == "mean+order" else "mean+order"
    refused = re.escape(f"cannot be fine-tuned into from a {pooling}-pooled checkpoint")
    with pytest.raises(ValueError, match=refused):
        with_pooling(wide, other)
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
                    p.goal_head(p.net.features(x, s, p._task(cond))),
                )
            )
    for before, after in zip(*outputs, strict=True):
        torch.testing.assert_close(after, before)
    reloaded = Policy.from_pretrained(wide.save_pretrained(tmp_path / "wide"))
    assert reloaded.config.pooling == pooling and reloaded.encoder.dim == wide.cond_dim


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


def test_token_states_keep_the_sentence_vector_and_which_word_comes_where(tmp_path):
    mean = SentenceEncoder(cache=tmp_path)
    tokens = SentenceEncoder(cache=tmp_path, pooling="tokens")
    assert tokens.dim == TOKEN_SLOTS * 384 and tokens.cache_file != mean.cache_file
    texts = [MOVE_RED, MOVE_BLUE, "lift"]
    states = tokens.encode(texts)
    rows = np.abs(states.reshape(3, TOKEN_SLOTS, 384)).sum(-1) > 0
    assert rows.sum(1).tolist() == [10, 10, 3]  # [CLS] + words + [SEP]; padding rows are zero
    alone = np.concatenate([tokens._forward([t]) for t in texts])
    np.testing.assert_allclose(states, alone, atol=1e-5)  # batching does not change a sentence
    torch.manual_seed(0)
    pooled = TokenPool(TOKEN_SLOTS, 384)(torch.as_tensor(states)).detach().numpy()
    assert pooled.shape == (3, 384 + 4 * 128)
    np.testing.assert_allclose(pooled[:, :384], mean.encode(texts), atol=1e-6)  # the mean is kept
    slots = states.reshape(3, TOKEN_SLOTS, 384)
    assert cosine(slots[0, 3], slots[1, 3]) < 0.8  # the 3rd word (the block that moves) is told apart...
    assert cosine(*mean.encode([MOVE_RED, MOVE_BLUE])) > 0.98  # ...where the mean barely hears it


def test_a_token_pooled_policy_trains_from_scratch_and_reloads(tiny_dataset, tmp_path):
    cfg = tiny_train_config(tiny_dataset, max_steps=4, batch_size=8, warmup_steps=1)
    cfg.policy.pooling = "tokens"
    torch.manual_seed(0)
    start = TokenPool(TOKEN_SLOTS, 384).state_dict()
    policy = Policy.from_pretrained(train(cfg, tmp_path)["checkpoint"])
    assert policy.config.pooling == "tokens" and policy.cond_dim == TOKEN_SLOTS * 384
    assert not torch.equal(policy.pool.queries, start["queries"])  # the pooling is learned
    data = DemoData(str(tiny_dataset), policy.encoder, policy.config.chunk, val_fraction=0, progress=False)
    batch = data.batch(np.random.default_rng(0), 2)
    cond = policy.embed([MOVE_RED, MOVE_BLUE])
    again = Policy.from_pretrained(policy.save_pretrained(tmp_path / "again"))
    chunks = policy.predict_chunk(batch["images"], batch["state"], cond)
    torch.testing.assert_close(again.predict_chunk(batch["images"], batch["state"], cond), chunks)
    with pytest.raises(ValueError, match=r"instruction too long: 3[0-9] tokens"):
        policy.embed(["pick up the red block " * 7])
