"""What every policy network shares: `features` of the inputs, and an action `head` reading them.

With `modes` > 1 the head proposes that many chunks and scores them (a multiple-choice head, as motion
forecasting's MTP and multiple-choice learning do): a network unsure which of two blocks is meant can
put one proposal on each and pick one, where a single regressed chunk lands between them.
"""

from __future__ import annotations

import torch
from torch import nn


class ChunkNetwork(nn.Module):
    """Subclasses set `chunk`, `action_dim`, `modes`, `feature_dim` and `head` (whose last layer is an
    `nn.Linear` of `head_outputs()` units), and define `features`; the action chunk is the head's
    reading of the features, so auxiliary heads can read exactly what it reads."""

    chunk: int
    action_dim: int
    modes: int = 1
    feature_dim: int
    head: nn.Module

    def head_outputs(self) -> int:
        """Units of the head's last layer: `modes` chunks, then one score per mode when there are several."""
        return self.modes * self.chunk * self.action_dim + (self.modes if self.modes > 1 else 0)

    @property
    def out_layer(self) -> nn.Linear:
        """The head's last layer (the one that widening to more modes copies)."""
        return self.head if isinstance(self.head, nn.Linear) else self.head[-1]

    def forward(
        self, images: dict[str, torch.Tensor], state: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        return self.act(self.features(images, state, cond))

    def act(self, features: torch.Tensor) -> torch.Tensor:
        """(B, feature_dim) -> the action chunk (B, K, A): the best-scored mode's when there are several."""
        chunks, scores = self.proposals(features)
        if scores is None:
            return chunks[:, 0]
        return chunks[torch.arange(len(chunks), device=chunks.device), scores.argmax(-1)]

    def proposals(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, feature_dim) -> every mode's chunk (B, M, K, A) and their scores (B, M) (None for one mode)."""
        out = self.head(features)
        n = self.modes * self.chunk * self.action_dim
        chunks = out[:, :n].reshape(-1, self.modes, self.chunk, self.action_dim)
        return chunks, (out[:, n:] if self.modes > 1 else None)

    def features(
        self, images: dict[str, torch.Tensor], state: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError
