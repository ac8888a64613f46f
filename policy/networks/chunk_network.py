"""What every policy network shares: `features` of the inputs, and an action `head` reading them."""

from __future__ import annotations

import torch
from torch import nn


class ChunkNetwork(nn.Module):
    """Subclasses set `chunk`, `action_dim`, `feature_dim` and `head` (whose last layer has
    `head_outputs()` units), and define `features`; the action chunk is the head's reading of them."""

    chunk: int
    action_dim: int
    feature_dim: int
    head: nn.Module

    def head_outputs(self) -> int:
        """Units of the head's last layer: one chunk of `chunk` actions."""
        return self.chunk * self.action_dim

    def forward(
        self, images: dict[str, torch.Tensor], state: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        """Normalized inputs -> the normalized action chunk (B, K, A)."""
        return self.head(self.features(images, state, cond)).reshape(-1, self.chunk, self.action_dim)

    def features(
        self, images: dict[str, torch.Tensor], state: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError
