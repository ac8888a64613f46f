"""The learner: frozen language encoder, instruction reader, ViT and BC-Z networks, training and
checkpoints (`Policy.from_pretrained`). It imports no simulator: evaluation lives in `evaluation/`.

`Policy` and `PolicyConfig` are loaded on first use (PEP 562), so that `python -m policy.from_pack`
can put a pack's wheels on the path before anything imports them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policy.policy import Policy, PolicyConfig

__all__ = ["Policy", "PolicyConfig"]


def __getattr__(name: str):
    if name in __all__:
        from policy import policy

        return getattr(policy, name)
    raise AttributeError(f"module 'policy' has no attribute {name!r}")
