"""Shared fixtures: small, fast, seeded environments."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from sim.config import EnvConfig
from sim.env import TabletopEnv
from sim.suite import TaskSuite


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
