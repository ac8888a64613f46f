"""Offline metrics, for data this simulator cannot roll out (another robot's LeRobot dataset).

A policy trained on a foreign dataset cannot be scored by success in PyBullet: its cameras, state and
action belong to another robot. What is left is how closely it reproduces what the demonstrator did
on episodes it never trained on: the per-channel error of the first predicted action (the one a
robot would execute now) against the recorded one, in the dataset's own units (mean absolute error;
for a gripper channel, the share of frames where open/closed is wrong), each beside the same error
of a policy that ignores its inputs and always predicts the training mean (for a gripper, the more
common state): a number that means something without knowing the robot's units.
"""

from __future__ import annotations

import numpy as np
import torch

from policy.data import DemoData
from policy.policy import Policy


@torch.no_grad()
def action_errors(
    policy: Policy, data: DemoData, device: torch.device, frames: int = 2048, batch_size: int = 64
) -> dict[str, tuple[float, float]]:
    """Per action channel: (the policy's error, the mean predictor's) for the first predicted action
    on held-out (validation) frames; the same frames every call (a fixed seed), so values compare."""
    if not len(data.val_index[0]):
        return {}
    policy.eval()
    rng = np.random.default_rng(1234)
    predicted, recorded = [], []
    for _ in range(max(1, frames // batch_size)):
        b = data.batch(rng, batch_size, split="val")
        images = {c: v.to(device) for c, v in b["images"].items()}
        chunk = policy.predict_chunk(images, b["state"].to(device), b["cond"].to(device))
        predicted.append(chunk[:, 0].float().cpu().numpy())
        recorded.append(b["actions"][:, 0].numpy())
    policy.train()
    pred, true = np.concatenate(predicted), np.concatenate(recorded)
    layout, names = policy.layout, policy.config.action_names
    mean = data.action_statistics()[0][0]  # this data's training targets, first step of the chunk
    out = {}
    for i, name in enumerate(names):
        if i in layout.grippers:
            g = layout.grippers.index(i)
            wrong = np.mean(layout.closed(pred, g) != layout.closed(true, g))
            closed = np.mean(layout.closed(true, g))  # the majority state errs on the minority's share
            out[f"{name} wrong open/closed"] = (float(wrong), float(min(closed, 1 - closed)))
        else:
            error = np.mean(np.abs(pred[:, i] - true[:, i]))
            out[f"{name} abs error"] = (float(error), float(np.mean(np.abs(mean[i] - true[:, i]))))
    return out
