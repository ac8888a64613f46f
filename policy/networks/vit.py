"""A small vision transformer policy, conditioned on language by FiLM in every block and by a token.

Tokens: a readout token, the task vector, proprioception, and per camera a grid of image tokens from
a strided conv stem (few tokens keep it fast on a CPU: 2 cameras x 4x4 = 32 image tokens by default)
plus one keypoint token: a spatial softmax over an early feature map gives the expected (x, y) of each
channel, the sub-token positions a coarse grid loses (robomimic's localizer). The stem's convolutions
are FiLM-conditioned on the task (as in BC-Z), so the visual features depend on what is asked.
Every block is pre-norm attention + MLP, then FiLM: x * (1 + gamma(task)) + beta(task), zero-initialized
so training starts from the plain transformer. The readout token's output predicts the action chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from policy.networks.chunk_network import ChunkNetwork


@dataclass
class ViTConfig:
    width: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    stem_channels: list[int] = field(default_factory=lambda: [16, 32, 64, 128])  # each conv has stride 2
    token_grid: int = 4  # image tokens per side per camera
    keypoint_layer: int = 2  # spatial softmax after this stem conv (1-based; 0: no keypoint token)
    dropout: float = 0.0
    film: bool = True  # FiLM in the transformer blocks
    stem_film: bool = True  # FiLM in the conv stem


class ConvStem(nn.Module):
    """Strided 3x3 convolutions (FiLM-conditioned), pooled to a token grid, plus a keypoint token."""

    def __init__(self, cfg: ViTConfig, cond_dim: int) -> None:
        super().__init__()
        self.convs, self.norms, self.films = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        c_in = 3
        for c in cfg.stem_channels:
            self.convs.append(nn.Conv2d(c_in, c, 3, stride=2, padding=1))
            self.norms.append(nn.GroupNorm(min(8, c), c))
            film = nn.Linear(cond_dim, 2 * c) if cfg.stem_film else None
            if film is not None:
                nn.init.zeros_(film.weight)
                nn.init.zeros_(film.bias)
            self.films.append(film)
            c_in = c
        self.pool = nn.AdaptiveAvgPool2d(cfg.token_grid)
        self.proj = nn.Linear(c_in, cfg.width)
        self.keypoint_layer = cfg.keypoint_layer
        if cfg.keypoint_layer:
            channels = cfg.stem_channels[cfg.keypoint_layer - 1]
            self.keypoint_proj = nn.Linear(2 * channels, cfg.width)

    @staticmethod
    def spatial_softmax(x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, 2C): the expected x and y in [-1, 1] of each channel's softmax."""
        b, c, h, w = x.shape
        attention = torch.softmax(x.flatten(2), dim=-1).view(b, c, h, w)
        xs = torch.linspace(-1, 1, w, device=x.device)
        ys = torch.linspace(-1, 1, h, device=x.device)
        return torch.cat([(attention.sum(2) * xs).sum(-1), (attention.sum(3) * ys).sum(-1)], dim=1)

    def forward(self, image: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, keypoints = image, None
        for i, (conv, norm, film) in enumerate(zip(self.convs, self.norms, self.films, strict=True), start=1):
            x = norm(conv(x))
            if film is not None:
                gamma, beta = film(cond)[:, :, None, None].chunk(2, dim=1)
                x = x * (1 + gamma) + beta
            x = torch.nn.functional.gelu(x)
            if i == self.keypoint_layer:
                keypoints = self.keypoint_proj(self.spatial_softmax(x)).unsqueeze(1)
        tokens = self.proj(self.pool(x).flatten(2).transpose(1, 2))  # B, g*g, width
        return tokens, keypoints


class Block(nn.Module):
    def __init__(self, cfg: ViTConfig, cond_dim: int) -> None:
        super().__init__()
        w = cfg.width
        self.norm1 = nn.LayerNorm(w)
        self.attn = nn.MultiheadAttention(w, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(w)
        hidden = int(w * cfg.mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(w, hidden), nn.GELU(), nn.Linear(hidden, w), nn.Dropout(cfg.dropout)
        )
        self.film = nn.Linear(cond_dim, 2 * w) if cfg.film else None
        if self.film is not None:
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        x = x + self.mlp(self.norm2(x))
        if self.film is not None:
            gamma, beta = self.film(cond).unsqueeze(1).chunk(2, dim=-1)
            x = x * (1 + gamma) + beta
        return x


class ViT(ChunkNetwork):
    def __init__(
        self,
        cfg: ViTConfig,
        cameras: list[str],
        state_dim: int,
        cond_dim: int,
        action_dim: int,
        chunk: int,
    ) -> None:
        super().__init__()
        w = cfg.width
        self.cameras, self.chunk, self.action_dim = list(cameras), chunk, action_dim
        self.stem = ConvStem(cfg, w)  # shared by the cameras, conditioned through cond_mlp
        n_img = cfg.token_grid**2
        self.image_pos = nn.Parameter(torch.zeros(1, n_img, w))
        self.camera_embed = nn.Parameter(torch.zeros(len(cameras), 1, w))
        self.readout = nn.Parameter(torch.zeros(1, 1, w))
        self.task_proj = nn.Sequential(nn.Linear(cond_dim, w), nn.GELU(), nn.Linear(w, w))
        self.state_proj = nn.Linear(state_dim, w)
        self.cond_mlp = nn.Sequential(nn.Linear(cond_dim, w), nn.GELU())  # what FiLM reads
        self.blocks = nn.ModuleList(Block(cfg, w) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(w)
        self.feature_dim = w
        self.head = nn.Linear(w, self.head_outputs())
        for p in (self.image_pos, self.camera_embed, self.readout):
            nn.init.normal_(p, std=0.02)

    def features(
        self, images: dict[str, torch.Tensor], state: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        """The readout token's output (B, width): what the action head (and any auxiliary head) reads."""
        b = state.shape[0]
        film = self.cond_mlp(cond)
        tokens = [
            self.readout.expand(b, -1, -1),
            self.task_proj(cond).unsqueeze(1),
            self.state_proj(state).unsqueeze(1),
        ]
        for i, cam in enumerate(self.cameras):
            grid, keypoints = self.stem(images[cam], film)
            tokens.append(grid + self.image_pos + self.camera_embed[i])
            if keypoints is not None:
                tokens.append(keypoints + self.camera_embed[i])
        x = torch.cat(tokens, dim=1)
        for block in self.blocks:
            x = block(x, film)
        return self.norm(x[:, 0])
