"""An exponential moving average of the weights (`bcz train ema_decay=...`).

The last iterate of stochastic gradient descent sits wherever the last few noisy batches pushed it; an
average over the recent iterates sits nearer the middle of the basin they wander in. Diffusion Policy
trains with one, and LeRobot's port only matched the original's success once it had one. The average is
what a run evaluates and saves as its snapshots and `final`; `checkpoints/last` keeps the raw weights
(training resumes from them) and the average beside them in train_state.pt.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class WeightAverage:
    def __init__(self, module: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema_decay={decay}: must be between 0 and 1 (0 turns it off)")
        self.decay = decay
        self.average = [p.detach().clone() for p in module.parameters()]

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """Move the average a (1 - decay) step towards the module's current weights."""
        torch._foreach_lerp_(self.average, [p.detach() for p in module.parameters()], 1.0 - self.decay)

    @contextmanager
    def applied(self, module: nn.Module) -> Iterator[nn.Module]:
        """The module with the averaged weights in place of its own for the duration of the block."""
        params = list(module.parameters())
        raw = [p.detach().clone() for p in params]
        with torch.no_grad():
            torch._foreach_copy_([p.data for p in params], self.average)
        try:
            yield module
        finally:
            with torch.no_grad():
                torch._foreach_copy_([p.data for p in params], raw)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "average": self.average}

    def load_state_dict(self, state: dict) -> None:
        if len(state["average"]) != len(self.average):
            raise ValueError("the saved weight average does not match this policy's parameters")
        self.decay = state["decay"]
        self.average = [a.to(b.device) for a, b in zip(state["average"], self.average, strict=True)]
