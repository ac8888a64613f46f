"""Attention pooling over the frozen sentence encoder's token states (`policy.pooling=tokens`).

The mean of the token states is the sentence vector the encoder was trained for, and it hardly depends
on word order: "stack the red block on the blue block" and its role swap are 0.997 cosine apart, so a
mean-pooled policy hears only faintly which block moves (docs/notes/language.md). Here a few learned
queries attend over the token states plus a learned embedding of each token's place in the sentence, so
the policy can learn to read which block comes first. The mean stays in the output, so nothing the mean
told the policy is lost; the network after this reads the concatenation as its task vector.
"""

from __future__ import annotations

import torch
from torch import nn

from policy.language import present_rows, sentence_vector


class TokenPool(nn.Module):
    """(B, slots * dim) token states, zero rows after the last token -> (B, dim + queries * width): the
    mean of the states, then what each query read."""

    def __init__(self, slots: int, dim: int, queries: int = 4, width: int = 128, heads: int = 4) -> None:
        super().__init__()
        self.slots, self.dim = slots, dim
        self.proj = nn.Linear(dim, width)
        self.place = nn.Parameter(torch.randn(1, slots, width) * 0.02)
        self.queries = nn.Parameter(torch.randn(1, queries, width) * 0.02)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.out_dim = dim + queries * width

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b = tokens.shape[0]
        states = tokens.reshape(b, self.slots, self.dim)
        present = present_rows(states)  # (B, slots)
        mean = sentence_vector(states)  # the usual sentence vector
        keys = self.proj(states) + self.place
        queries = self.queries.expand(b, -1, -1)
        read = self.attn(queries, keys, keys, key_padding_mask=~present, need_weights=False)[0]
        # every part a unit vector, as the sentence vector is, so neither drowns the other
        return torch.cat([mean, nn.functional.normalize(read, dim=-1).flatten(1)], dim=-1)
