"""The behavior-cloning loss of an action chunk.

Continuous channels: Huber loss on normalized targets; gripper channels: binary cross-entropy on the
desired open/closed state; both averaged over the chunk and the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def chunk_loss(
    chunk: torch.Tensor,
    target: torch.Tensor,
    closed: torch.Tensor,
    continuous: list[int],
    grippers: list[int],
) -> tuple[torch.Tensor, dict[str, float]]:
    """chunk (B, K, A) normalized, target (B, K, A) normalized, closed (B, K, G) the gripper states ->
    the loss and its parts (for the logs)."""
    loss, parts = chunk.new_zeros(()), {}
    if continuous:
        huber = F.smooth_l1_loss(chunk[..., continuous], target[..., continuous])
        loss, parts["huber"] = loss + huber, huber.item()
    if grippers:
        bce = F.binary_cross_entropy_with_logits(chunk[..., grippers], closed.float())
        loss, parts["gripper_bce"] = loss + bce, bce.item()
    return loss, parts
