"""What every policy network shares: `features` of the inputs, and an action `head` reading them."""

from __future__ import annotations

import torch
from torch import nn


class ChunkNetwork(nn.Module):
    """Subclasses set `chunk`, `action_dim`, `feature_dim` and `head`, and define `features`; the action
    chunk is the head's reading of the features, so auxiliary heads can read exactly what it reads."""

    chunk: int
    action_dim: int
    feature_dim: int
    head: nn.Module

    def forward(
        self, images: dict[str, torch.Tensor], state: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        return self.act(self.features(images, state, cond))

    def act(self, features: torch.Tensor) -> torch.Tensor:
        """(B, feature_dim) -> the action chunk (B, K, A)."""
        return self.head(features).view(-1, self.chunk, self.action_dim)

    def features(
        self, images: dict[str, torch.Tensor], state: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError
