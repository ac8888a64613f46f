"""The BC-Z network: a ResNet-18 whose residual blocks are FiLM-conditioned on the task embedding,
shared by the cameras, average-pooled, concatenated with proprioception, and an MLP head that
predicts the action chunk. Trained from scratch here (no ImageNet weights are downloaded)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from policy.networks.chunk_network import ChunkNetwork


@dataclass
class ResNetConfig:
    widths: list[int] = field(default_factory=lambda: [64, 128, 256, 512])  # ResNet-18
    blocks: list[int] = field(default_factory=lambda: [2, 2, 2, 2])
    head_hidden: int = 256


class FiLMBasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, cond_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.film = nn.Linear(cond_dim, 2 * c_out)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.skip = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        gamma, beta = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        return torch.relu(h * (1 + gamma) + beta + self.skip(x))


class BCZResNet(ChunkNetwork):
    def __init__(
        self,
        cfg: ResNetConfig,
        cameras: list[str],
        state_dim: int,
        cond_dim: int,
        action_dim: int,
        chunk: int,
    ) -> None:
        super().__init__()
        self.cameras, self.chunk, self.action_dim = list(cameras), chunk, action_dim
        self.stem = nn.Sequential(
            nn.Conv2d(3, cfg.widths[0], 7, 2, 3, bias=False),
            nn.BatchNorm2d(cfg.widths[0]),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, 1),
        )
        blocks, c_in = [], cfg.widths[0]
        for stage, (c, n) in enumerate(zip(cfg.widths, cfg.blocks, strict=True)):
            for i in range(n):
                blocks.append(FiLMBasicBlock(c_in, c, 2 if i == 0 and stage > 0 else 1, cond_dim))
                c_in = c
        self.blocks = nn.ModuleList(blocks)
        self.feature_dim = c_in * len(cameras) + state_dim + cond_dim
        self.head = nn.Sequential(
            nn.Linear(self.feature_dim, cfg.head_hidden),
            nn.ReLU(),
            nn.Linear(cfg.head_hidden, cfg.head_hidden),
            nn.ReLU(),
            nn.Linear(cfg.head_hidden, self.head_outputs()),
        )

    def features(
        self, images: dict[str, torch.Tensor], state: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        """Pooled image features of every camera, proprioception and the task vector (B, feature_dim)."""
        b = state.shape[0]
        x = torch.cat([images[c] for c in self.cameras], dim=0)  # one pass over all cameras
        cams = len(self.cameras)
        c = cond.repeat(cams, 1)
        x = self.stem(x)
        for block in self.blocks:
            x = block(x, c)
        features = x.mean(dim=(2, 3)).view(cams, b, -1).transpose(0, 1).reshape(b, -1)
        return torch.cat([features, state, cond], dim=1)
