"""Fine-tuning a policy into a richer task vector (`bcz finetune policy.pooling=...`) or a head with
more modes (`bcz finetune policy.modes=...`).

mean+order and tokens both hand the network the mean sentence vector first and something more after it,
so every layer that reads the task vector is widened with zero weights for the new part: the widened
policy acts exactly as before until it is trained (tests/test_language.py checks this for both
networks), and a fine-tune starts from what the mean-pooled policy knew instead of from scratch.
"""

from __future__ import annotations

import copy
import dataclasses

import torch

from policy.language import VECTORS, check_pooling
from policy.policy import Policy


def with_pooling(policy: Policy, pooling: str) -> Policy:
    """`policy` reading `pooling` task vectors. Asking for mean, or for the pooling it has, keeps the policy
    as it is, as fine-tuning keeps the rest of its config; only a mean-pooled policy can be widened."""
    check_pooling(pooling, policy.config.encoder, "policy.pooling")
    if pooling == policy.config.pooling or pooling == "mean":
        return policy
    if policy.config.pooling != "mean":
        raise ValueError(
            f"policy.pooling={pooling} cannot be fine-tuned into from a {policy.config.pooling}-pooled "
            f"checkpoint, only from a mean-pooled one; train it from scratch (bcz train)"
        )
    config = copy.deepcopy(policy.config)
    config.pooling = pooling
    wide = Policy(config, policy.cond_dim * VECTORS[pooling]).to(policy.state_mean.device)
    extra = wide.task_dim - policy.task_dim
    state = wide.state_dict()
    for key, value in policy.state_dict().items():
        new = state[key]
        if new.shape == value.shape:
            state[key] = value
        elif new.shape[:-1] == value.shape[:-1] and new.shape[-1] == value.shape[-1] + extra:
            new.zero_()[..., : value.shape[-1]] = value  # the task vector is the last part of any input
        else:
            raise ValueError(f"cannot widen {key}: {tuple(value.shape)} -> {tuple(new.shape)}")
    wide.load_state_dict(state)  # the learned pooling (pool.*) keeps its fresh initialization
    wide.meta = {**copy.deepcopy(policy.meta), "cond_dim": wide.cond_dim}
    return wide.train(policy.training)


def with_modes(policy: Policy, modes: int, spread: float = 0.1) -> Policy:
    """`policy` with a head of `modes` proposals, all scored alike: the first is the one-mode head's chunk
    (so the policy acts exactly as before until trained), the others that chunk plus a small random
    offset (`spread`, in normalized units) so that winner-takes-all training pulls them apart. Asking
    for one mode, or for the modes it has, keeps the policy as it is."""
    if modes == policy.config.modes or modes == 1:
        return policy
    if policy.config.modes != 1:
        raise ValueError(
            f"policy.modes={modes} cannot be fine-tuned into from a checkpoint with "
            f"{policy.config.modes} modes, only from one with a single mode; train it from scratch"
        )
    config = dataclasses.replace(copy.deepcopy(policy.config), modes=modes)  # PolicyConfig checks modes
    wide = Policy(config, policy.cond_dim).to(policy.state_mean.device)
    old, new = policy.net.out_layer, wide.net.out_layer
    head = {f"net.{name}" for name, p in policy.net.named_parameters() if p is old.weight or p is old.bias}
    state = {k: v for k, v in policy.state_dict().items() if k not in head}
    wide.load_state_dict(state, strict=False)
    n = old.out_features
    with torch.no_grad():
        new.weight.zero_()
        new.bias.zero_()
        for m in range(modes):
            new.weight[m * n : (m + 1) * n] = old.weight
            new.bias[m * n : (m + 1) * n] = old.bias + (spread * torch.randn_like(old.bias) if m else 0.0)
    wide.meta = copy.deepcopy(policy.meta)
    return wide.train(policy.training)
