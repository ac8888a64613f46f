"""Checkpoints written by older versions of this project, loaded by today's: everything a config.json
or weights file from before lacks, or holds that `PolicyConfig` no longer has, in one place.
`Policy.from_pretrained` passes every checkpoint through `upgrade_config` and `upgrade_weights`.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

# Options removed after they were measured not to help (docs/notes/retired-options.md), each with the
# value at which it did nothing: a checkpoint holding that value loads as if it never had the key; one
# trained with another value is refused, since today's network cannot rebuild it.
RETIRED: dict[tuple[str, ...], object] = {
    ("modes",): 1,
    ("pooling",): "mean",
    ("goal_loss",): 0.0,
    ("vit", "keypoint_sharpness"): 0.0,
}


def upgrade_config(policy: dict, path: Path) -> dict:
    """The "policy" section of a checkpoint's config.json, as today's `PolicyConfig` reads it."""
    policy = copy.deepcopy(policy)
    policy.setdefault("actions", "delta")  # written before chunk-relative actions existed
    for keys, inert in RETIRED.items():
        *parents, leaf = keys
        node = policy
        for key in parents:
            node = node.get(key) or {}
        if leaf in node and node.pop(leaf) != inert:
            raise ValueError(
                f"{path} was trained with policy.{'.'.join(keys)} (not {inert!r}), an option retired after "
                "it was measured not to help (docs/notes/retired-options.md); retrain it, or load it with "
                "a bcz from before the option was retired"
            )
    return policy


def upgrade_weights(weights: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> dict:
    """The weights file's tensors, shaped as `expected` (the rebuilt policy's state dict) wants them."""
    for key in ("action_mean", "action_std"):  # one row for every chunk step before per-step statistics
        weights[key] = weights[key].expand_as(expected[key]).clone()
    return weights
