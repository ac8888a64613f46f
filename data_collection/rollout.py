"""Playing one scripted-expert episode in the env and recording it (what a collection worker does)."""

from __future__ import annotations

import numpy as np

from data_collection.episode import Episode, EpisodeInfo, EpisodeRecorder
from sim.env import TabletopEnv
from sim.expert import dart_noise


def play_expert(
    env: TabletopEnv, task: str, seed: int, dart: float = 0.0, job: int = -1, layout: str | None = None
) -> Episode:
    """One seeded expert episode (in the scene laid out for `layout` when given). With DART noise the
    executed action is perturbed and the recorded action is the expert's clean one. Failed episodes are
    returned too (flagged by `success`)."""
    obs, info = env.reset(seed=seed, options={"task": task, "layout": layout})
    objects = list(env.scene.bodies)
    recorder = EpisodeRecorder(objects)
    expert = env.expert()
    noise = np.random.default_rng([seed, 7])  # its own stream: the scene does not depend on the noise
    while True:
        scene = env.scene_state()
        action = expert.act(scene)
        recorder.add(obs, action, scene, intervention=False)
        executed = dart_noise(action, noise, dart, 5 * dart) if dart > 0 else action
        obs, _, terminated, truncated, info = env.step(executed)
        if terminated or truncated:
            break
    recorder.add_final(obs, env.scene_state())
    return recorder.finish(
        EpisodeInfo(info["instruction"], info["task"], bool(info["success"]), "expert", objects, job, seed)
    )
