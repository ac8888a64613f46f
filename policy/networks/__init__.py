"""Policy networks: the default vision transformer and the BC-Z ResNet-18, same inputs and outputs.

Both map camera images (B, 3, H, W per camera, normalized), proprioception (B, S) and a task vector
(B, D) to an action chunk (B, K, A): normalized end-effector deltas and a gripper logit per step.
Both are `ChunkNetwork`s: `features` (B, feature_dim) read by `act` (features -> chunk), so auxiliary
heads can read what the action head reads.
"""

from policy.networks.bcz_resnet import BCZResNet, ResNetConfig
from policy.networks.chunk_network import ChunkNetwork
from policy.networks.vit import ViT, ViTConfig

NETWORKS = {"vit": ViT, "bcz_resnet": BCZResNet}

__all__ = ["NETWORKS", "BCZResNet", "ChunkNetwork", "ResNetConfig", "ViT", "ViTConfig"]
