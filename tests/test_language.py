"""The sentence encoder's two outputs: the mean-pooled sentence vector a policy reads, and the token
states the instruction reader reads; and checkpoints written with options since retired."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from policy.language import TOKEN_SLOTS, SentenceEncoder
from policy.policy import Policy

MOVE_RED = "stack the red block on the blue block"
MOVE_BLUE = "stack the blue block on the red block"


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_token_states_keep_which_word_comes_where_that_the_mean_loses(tmp_path):
    mean = SentenceEncoder(cache=tmp_path)
    tokens = SentenceEncoder(cache=tmp_path, pooling="tokens")
    assert (mean.dim, tokens.dim) == (384, TOKEN_SLOTS * 384) and tokens.cache_file != mean.cache_file
    texts = [MOVE_RED, MOVE_BLUE, "lift"]
    states = tokens.encode(texts)
    rows = np.abs(states.reshape(3, TOKEN_SLOTS, 384)).sum(-1) > 0
    assert rows.sum(1).tolist() == [10, 10, 3]  # [CLS] + words + [SEP]; padding rows are zero
    alone = np.concatenate([tokens._forward([t]) for t in texts])
    np.testing.assert_allclose(states, alone, atol=1e-5)  # batching does not change a sentence
    slots = states.reshape(3, TOKEN_SLOTS, 384)
    assert cosine(slots[0, 3], slots[1, 3]) < 0.8  # the 3rd word (the block that moves) is told apart...
    assert cosine(*mean.encode([MOVE_RED, MOVE_BLUE])) > 0.98  # ...where the mean barely hears it
    with pytest.raises(ValueError, match=r"pooling='mean\+order'; valid: mean, tokens"):
        SentenceEncoder(cache=tmp_path, pooling="mean+order")


def test_a_running_policy_remembers_only_its_newest_instructions(tmp_path):
    """A long run hears many instructions: the token states of only the newest `keep` stay in memory."""
    tokens = SentenceEncoder(cache=tmp_path, pooling="tokens", memory_only=True, keep=2)
    first = tokens.encode([MOVE_RED])
    tokens.encode([MOVE_BLUE, "lift", "lift the red block"])
    assert len(tokens._cache) == 2 and MOVE_RED not in tokens._cache
    np.testing.assert_allclose(tokens.encode([MOVE_RED]), first, atol=1e-6)  # read again, the same
    assert not tokens.cache_file.exists()


def test_a_running_robot_reads_the_disk_cache_but_no_longer_rewrites_it(tmp_path):
    """`bcz run` stops saving: what it hears later stays in memory (the newest few), the file untouched."""
    SentenceEncoder(cache=tmp_path).encode([MOVE_RED, "lift"])  # an earlier run saved these
    encoder = SentenceEncoder(cache=tmp_path)
    saved = encoder.cache_file.read_bytes()
    encoder.stop_saving(keep_new=1)
    red = encoder.encode([MOVE_RED])
    encoder.encode([MOVE_BLUE, "lift the red block", "lift the blue block"])
    assert encoder.cache_file.read_bytes() == saved
    assert len(encoder._cache) == 3 and "lift the blue block" in encoder._cache  # 2 loaded + 1; oldest go
    np.testing.assert_allclose(encoder.encode([MOVE_RED]), red, atol=1e-6)


@pytest.mark.parametrize(
    ("key", "inert", "used"),
    [
        ("modes", 1, 2),
        ("pooling", "mean", "tokens"),
        ("goal_loss", 0.0, 1.0),
        ("vit.keypoint_sharpness", 0.0, 10.0),
    ],
)
def test_a_checkpoint_with_a_retired_option_loads_when_it_was_off_and_is_refused_when_on(
    tiny_checkpoint, tmp_path, key, inert, used
):
    def written_with(value, name: str) -> str:
        path = tmp_path / name
        shutil.copytree(tiny_checkpoint, path)
        meta = json.loads((path / "config.json").read_text())
        *parents, leaf = ["policy", *key.split(".")]
        node = meta
        for k in parents:
            node = node.setdefault(k, {})
        node[leaf] = value
        (path / "config.json").write_text(json.dumps(meta))
        return str(path)

    loaded = Policy.from_pretrained(written_with(inert, "off"))
    assert loaded.config == Policy.from_pretrained(tiny_checkpoint).config
    with pytest.raises(
        ValueError, match=rf"trained with policy\.{key} .*retired.*docs/notes/retired-options"
    ):
        Policy.from_pretrained(written_with(used, "on"))
