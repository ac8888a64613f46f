"""Shared fixtures: small, fast, seeded environments."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pybullet as p
import pytest

from sim.env import TabletopEnv
from sim.env_config import EnvConfig
from tasks.suite import TaskSuite

# Frame caches (and anything else under the user's cache directory) go to a scratch folder, also for
# the `bcz` subprocesses the tests start: the suite never writes to the developer's ~/.cache.
if "BCZ_CACHE" not in os.environ:
    os.environ["BCZ_CACHE"] = tempfile.mkdtemp(prefix="bcz-test-cache-")
    atexit.register(shutil.rmtree, os.environ["BCZ_CACHE"], ignore_errors=True)


@pytest.fixture(scope="session")
def local_ray():
    """One private Ray instance for the whole session (starting Ray costs ~5 s)."""
    import ray

    from data_collection.cluster import RayConfig, connect

    connect(RayConfig(num_cpus=2), workers=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def suite() -> TaskSuite:
    return TaskSuite.load("default")


@pytest.fixture(scope="session")
def unseen_phrasings() -> ModuleType:
    """benchmarks/unseen_phrasings.py (benchmarks are scripts, not a package): its words and its user."""
    path = Path(__file__).parents[1] / "benchmarks" / "unseen_phrasings.py"
    spec = importlib.util.spec_from_file_location("unseen_phrasings", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def blind_config(**randomize: bool) -> EnvConfig:
    """No cameras (physics only), fixed layout and no distractors unless asked otherwise."""
    config = EnvConfig()
    config.robot.cameras = {}
    config.randomize.object_poses = randomize.get("object_poses", False)
    config.randomize.object_set = randomize.get("object_set", False)
    return config


@pytest.fixture
def blind_env(suite):
    env = TabletopEnv(blind_config(), suite=suite, split="all")
    yield env
    env.close()


def settle(env: TabletopEnv, steps: int = 240) -> None:
    for _ in range(steps):
        p.stepSimulation(physicsClientId=env.client)


def place(env: TabletopEnv, name: str, xyz, euler=(0.0, 0.0, 0.0)) -> None:
    """Teleport a scene object (keeping its spawn orientation, then applying `euler`) and let it settle."""
    body = env.scene.bodies[name]
    _, orn = p.getBasePositionAndOrientation(body, physicsClientId=env.client)
    _, orn = p.multiplyTransforms([0, 0, 0], p.getQuaternionFromEuler(euler), [0, 0, 0], orn)
    p.resetBasePositionAndOrientation(body, list(xyz), orn, physicsClientId=env.client)
    p.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0], physicsClientId=env.client)


def xy_of(env: TabletopEnv, name: str) -> np.ndarray:
    return env.scene_state()[name].xy


TINY_VIT = {
    "policy.vit.width": 32,
    "policy.vit.depth": 1,
    "policy.vit.heads": 2,
    "policy.vit.stem_channels": [8, 16],
    "policy.vit.token_grid": 2,
    "policy.vit.keypoint_layer": 1,
}


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory, suite):
    """Six expert episodes at 32x32: enough to exercise training, evaluation and deployment."""
    from data_collection.episode import encode_episode
    from data_collection.layout import tabletop_features
    from data_collection.rollout import play_expert
    from data_collection.video_codec import VideoConfig
    from data_collection.writer import DatasetWriter

    root = tmp_path_factory.mktemp("data") / "ds"
    config = EnvConfig()
    for cam in config.robot.cameras.values():
        cam.width = cam.height = 32
    env = TabletopEnv(config, suite=suite)
    features = tabletop_features(
        env.arm.observation_features, env.arm.action_features["action"], VideoConfig(), 10
    )
    writer = DatasetWriter(root, features, 10, env.arm.name)
    for seed, task in enumerate(["pick_up/red_block", "knock_over/red_bottle", "pick_up/blue_block"] * 2):
        writer.add(encode_episode(play_expert(env, task, seed), 10, VideoConfig()))
    env.close()
    return root


def tiny_train_config(dataset, **fields):
    """A TrainConfig for a tiny ViT on `dataset`, by steps, without rollouts; `fields` override."""
    from policy.train import RolloutConfig, TrainConfig

    settings = dict(max_minutes=None, max_steps=30, batch_size=16, warmup_steps=5, val_every=1000)
    cfg = TrainConfig(dataset=str(dataset), rollouts=RolloutConfig(every_minutes=0), **{**settings, **fields})
    for key, value in TINY_VIT.items():
        setattr(cfg.policy.vit, key.removeprefix("policy.vit."), value)
    return cfg


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_dataset, tmp_path_factory) -> str:
    """A tiny policy trained for 30 steps on the tiny dataset (behaviour is not the point; plumbing is)."""
    from policy.train import train

    return train(tiny_train_config(tiny_dataset), tmp_path_factory.mktemp("tiny_run"))["checkpoint"]


@pytest.fixture(autouse=True)
def ordinary_scheduling():
    """Something outside the repository has twice switched the test process to SCHED_FIFO priority 99
    mid-suite (no code here asks for it); threads started after that inherit it, and a real-time thread
    that polls starves the two cores. Each test starts from ordinary scheduling."""
    if hasattr(os, "sched_getscheduler") and os.sched_getscheduler(0) != os.SCHED_OTHER:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    yield
