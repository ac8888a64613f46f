"""`bcz train`: `policy.train.train`, judged every few minutes by success in the
simulator (`SimRollouts`), which training itself does not import."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from evaluation.rollouts import SimRollouts
from policy.train import TrainConfig, train


def main(cfg) -> None:
    """Hydra entry point of `bcz train`: `policy.train.train`, judged periodically by `SimRollouts`."""
    config: TrainConfig = OmegaConf.to_object(cfg)
    output_dir = Path(config.output_dir or HydraConfig.get().runtime.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    train(config, output_dir, rollouts=SimRollouts(config.rollouts))
