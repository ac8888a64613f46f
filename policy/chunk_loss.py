"""The behavior-cloning loss of an action chunk, for a head with one mode or several.

Continuous channels: Huber loss on normalized targets; gripper channels: binary cross-entropy on the
desired open/closed state; both averaged over the chunk. With several modes (`policy.modes`), only the
mode closest to the demonstration is trained on it (winner takes all), and the scores learn which mode
that was (cross-entropy), so at run time the best-scored mode's chunk is executed. A regression with
one mode learns the mean of what the demonstrations did in states it cannot tell apart: between two
blocks it cannot tell apart, it goes to the table between them and closes on air.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def chunk_loss(
    chunks: torch.Tensor,
    scores: torch.Tensor | None,
    target: torch.Tensor,
    closed: torch.Tensor,
    continuous: list[int],
    grippers: list[int],
) -> tuple[torch.Tensor, dict[str, float]]:
    """chunks (B, M, K, A) normalized, scores (B, M) or None, target (B, K, A) normalized, closed (B, K, G)
    the gripper states -> the loss and its parts (for the logs)."""
    per_mode, named = chunks.new_zeros(chunks.shape[:2]), {}
    if continuous:
        huber = F.smooth_l1_loss(
            chunks[..., continuous],
            target[:, None, :, continuous].expand_as(chunks[..., continuous]),
            reduction="none",
        ).mean((-2, -1))
        per_mode, named["huber"] = per_mode + huber, huber
    if grippers:
        logits = chunks[..., grippers]
        bce = F.binary_cross_entropy_with_logits(
            logits, closed[:, None].float().expand_as(logits), reduction="none"
        ).mean((-2, -1))
        per_mode, named["gripper_bce"] = per_mode + bce, bce
    winner = per_mode.detach().argmin(1, keepdim=True)  # (B, 1): always 0 with one mode
    loss = per_mode.gather(1, winner).mean()
    parts = {name: value.gather(1, winner).mean().item() for name, value in named.items()}
    if scores is not None:
        choice = F.cross_entropy(scores, winner[:, 0])
        loss, parts["mode_ce"] = loss + choice, choice.item()
    return loss, parts
