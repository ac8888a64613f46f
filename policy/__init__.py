"""The learner: frozen language encoder, instruction reader, ViT and BC-Z networks, training and
checkpoints (`Policy.from_pretrained`). It imports no simulator: evaluation lives in `evaluation/`."""

from policy.policy import Policy, PolicyConfig

__all__ = ["Policy", "PolicyConfig"]
