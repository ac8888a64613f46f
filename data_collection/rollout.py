"""Playing scripted-expert episodes and chains in the env and recording them (a collection worker)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from data_collection.episode import Episode, EpisodeInfo, EpisodeRecorder
from sim.chain import Chain
from sim.env import TabletopEnv
from sim.expert import dart_noise
from sim.state import SceneState


def play_expert(
    env: TabletopEnv, task: str, seed: int, dart: float = 0.0, job: int = -1, layout: str | None = None
) -> Episode:
    """One seeded expert episode (in the scene laid out for `layout` when given). With DART noise the
    executed action is perturbed and the recorded action is the expert's clean one. Failed episodes are
    returned too (flagged by `success`)."""
    noise = np.random.default_rng([seed, 7])  # its own stream: the scene does not depend on the noise
    return record_episode(env, task, seed, lambda: expert_driver(env, noise, dart), "expert", job, layout)


# A driver acts for one instruction: (observation, info, scene) -> (recorded label, executed action,
# whether it was an intervention). `record_chain` asks for a fresh one at every instruction.
Driver = Callable[[dict, dict, SceneState], tuple[np.ndarray, np.ndarray, bool]]


def record_instruction(
    env: TabletopEnv, recorder: EpisodeRecorder, drive: Driver, obs: dict, info: dict
) -> dict:
    """Step `env` under `drive` from `obs` until its instruction ends, recording every frame and the
    final one; the last step's info (its `success` says how the instruction ended)."""
    while True:
        scene = env.scene_state()
        label, executed, intervention = drive(obs, info, scene)
        recorder.add(obs, label, scene, intervention)
        obs, _, terminated, truncated, info = env.step(executed)
        if terminated or truncated:
            break
    recorder.add_final(obs, env.scene_state())
    return info


def record_episode(
    env: TabletopEnv,
    task: str,
    seed: int,
    driver_for: Callable[[], Driver],
    source: str,
    job: int = -1,
    layout: str | None = None,
) -> Episode:
    """One seeded single-instruction episode, driven by the driver `driver_for()` builds once the scene
    is laid out (for `layout` when given), recorded with its `source` ("expert" or "policy")."""
    obs, info = env.reset(seed=seed, options={"task": task, "layout": layout})
    recorder = EpisodeRecorder(list(env.scene.bodies))
    info = record_instruction(env, recorder, driver_for(), obs, info)
    return recorder.finish(
        EpisodeInfo(
            info["instruction"], info["task"], bool(info["success"]), source, recorder.objects, job, seed
        )
    )


def record_chain(
    env: TabletopEnv, chain: Chain, driver_for: Callable[[], Driver], source: str, job: int = -1
) -> Episode:
    """Play and record one chain of instructions in one scene as one episode (`sim.chain`): each
    instruction's frames carry it, and each ends with a "hold still" frame under it before the next
    starts from that same observation, as a running robot holds once done until told the next thing.
    A failed instruction ends the chain (kept, flagged in its segment)."""
    recorder: EpisodeRecorder | None = None
    segments = []
    for task in chain:
        if recorder is None:  # the scene exists once the chain has laid it out
            recorder = EpisodeRecorder(list(env.scene.bodies))
        obs, info = chain.obs, chain.info
        start = recorder.segment(info["instruction"])
        info = record_instruction(env, recorder, driver_for(), obs, info)
        ok = bool(info["success"])
        segment = {"task": task.id, "instruction": info["instruction"], "start": start, "end": len(recorder)}
        segments.append({**segment, "success": ok})
        chain.report(ok)
    first, done = segments[0], all(seg["success"] for seg in segments)
    info = EpisodeInfo(
        first["instruction"], first["task"], done, source, recorder.objects, job, chain.seed, segments
    )
    return recorder.finish(info)


def expert_driver(env: TabletopEnv, noise: np.random.Generator, dart: float) -> Driver:
    """The scripted expert drives the env's current task from here; with DART noise (`dart` m, 5x in
    rad) the executed action is perturbed and the recorded label is the clean one."""
    expert = env.expert()

    def drive(obs: dict, info: dict, scene: SceneState) -> tuple[np.ndarray, np.ndarray, bool]:
        """The clean expert action as the label, the noisy one to execute, and no intervention."""
        action = expert.act(scene)
        return action, dart_noise(action, noise, dart, 5 * dart) if dart > 0 else action, False

    return drive


def play_chain(
    env: TabletopEnv, first: str, seed: int, length: int, split: str, dart: float = 0.0, job: int = -1
) -> Episode:
    """One seeded chain of expert demonstrations (`record_chain`, `expert_driver`)."""
    chain = Chain(env, seed, length, split, first=env.suite.resolve(first))
    noise = np.random.default_rng([seed, 7])
    return record_chain(env, chain, lambda: expert_driver(env, noise, dart), "expert", job)
