"""Running a policy in the simulator: one episode, or the quick in-process evaluation that `bcz train`
runs every few minutes (`SimRollouts`, handed to `policy.train.train` as its periodic evaluation)."""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from policy.action_layout import is_end_effector
from policy.policy import Policy
from policy.train_config import RolloutConfig
from sim.env import TabletopEnv
from sim.env_config import EnvConfig
from sim.predicates import GRIPPER_CLOSED_BELOW, grasped
from sim.skills.base import grasp_point
from sim.state import SceneState
from tasks.suite import TaskSpec, TaskSuite

NOTHING = "nothing"  # what `first_grasp` says when the fingers closed on air
SETTLED = 0.001  # m the finger gap may still change in a step once the fingers have closed


@dataclass
class EpisodeResult:
    """One simulated episode's outcome, with what the fingers first closed on (for the failure table)."""

    task: str
    instruction: str
    seed: int
    success: bool
    steps: int
    frames: list[np.ndarray] | None = None
    first_grasp: str | None = None  # what the fingers first closed on: an object, NOTHING, None (never)
    grasp_miss: float | None = None  # m: then, from the grasp point to the named object's (x, y)


def env_config_for(policy: Policy, base: EnvConfig | None = None) -> EnvConfig:
    """The env config with the policy's cameras as it saw them: image size, and pose and field of view
    when the checkpoint records them."""
    config = copy.deepcopy(base) if base is not None else EnvConfig()
    h, w = policy.config.image_size
    missing = [c for c in policy.config.cameras if c not in config.robot.cameras]
    if missing:
        raise ValueError(
            f"the policy uses cameras {missing} that the env config lacks "
            f"(it has {sorted(config.robot.cameras)})"
        )
    config.robot.cameras = {c: config.robot.cameras[c] for c in policy.config.cameras}
    for name, cam in config.robot.cameras.items():
        cam.width, cam.height = w, h
        for key, value in policy.config.camera_setup.get(name, {}).items():
            setattr(cam, key, list(value) if isinstance(value, list | tuple) else value)
    return config


def closed_on(state: SceneState) -> str:
    """What closed fingers hold: the graspable object they stopped on, or NOTHING (air)."""
    objects = [(n, o) for n, o in state.objects.items() if o.geometry.graspable and grasped(o, state)]
    return (
        min(objects, key=lambda no: np.linalg.norm(no[1].position - state.ee_position))[0]
        if objects
        else NOTHING
    )


def rollout(
    policy: Policy,
    env: TabletopEnv,
    task: TaskSpec | str,
    seed: int,
    instruction: str | None = None,
    record: bool = False,
) -> EpisodeResult:
    """One episode of `task`, the policy told `instruction` (default: a phrasing drawn from the seed)."""
    obs, info = env.reset(seed=seed, options={"task": task, "instruction": instruction})
    policy.reset()
    frames = [env.frame()] if record else None
    first, miss, width = None, None, env.initial_state.gripper_width
    target = env.task.target.name
    while True:
        obs, _, terminated, truncated, info = env.step(policy.select_action(obs, info["instruction"]))
        if first is None:  # read the scene only until the first grasp is known
            state = env.scene_state()
            settled = abs(state.gripper_width - width) < SETTLED  # judged once the fingers stop closing
            if state.gripper_width < GRIPPER_CLOSED_BELOW and settled:
                first = closed_on(state)
                miss = float(np.linalg.norm(state.ee_position[:2] - grasp_point(state[target])[:2]))
            width = state.gripper_width
        if record:
            frames.append(env.frame())
        if terminated or truncated:
            return EpisodeResult(
                info["task"], info["instruction"], seed, bool(info["success"]), env.steps, frames, first, miss
            )


def task_sample(suite: TaskSuite, split: str, per_skill: int, seed: int) -> list[TaskSpec]:
    """Up to `per_skill` tasks of each skill in `split`, the same ones for the same seed."""
    by_skill: dict[str, list[TaskSpec]] = defaultdict(list)
    for t in suite.tasks(split):
        by_skill[t.skill].append(t)
    rng = np.random.default_rng(seed)
    out = []
    for skill in sorted(by_skill):
        tasks = by_skill[skill]
        out += [
            tasks[i] for i in sorted(rng.choice(len(tasks), size=min(per_skill, len(tasks)), replace=False))
        ]
    return out


def evaluate_in_process(policy: Policy, cfg: RolloutConfig) -> dict[str, float]:
    """Success rate per split over a fixed sample of tasks (sequential, in this process)."""
    env = TabletopEnv(env_config_for(policy), split="all")
    try:
        rates = {}
        for split in cfg.splits:
            results = [
                rollout(policy, env, task, cfg.seed + 1000 * i + k).success
                for i, task in enumerate(task_sample(env.suite, split, cfg.tasks_per_skill, cfg.seed))
                for k in range(cfg.episodes_per_task)
            ]
            rates[split] = float(np.mean(results)) if results else float("nan")
        return rates
    finally:
        env.close()


def why_no_rollouts(policy: Policy) -> str | None:
    """None when the simulator can run this policy; otherwise, in a few words, why not."""
    cfg = policy.config
    if not is_end_effector(cfg.state_names, cfg.action_names):
        return f"the data's state {cfg.state_names} and action {cfg.action_names} are another robot's"
    try:
        env_config_for(policy)  # what every rollout builds its simulator from
    except ValueError as error:
        return str(error)
    return None


class SimRollouts:
    """Training's periodic evaluation (`policy.train.Rollouts`): success per split in this simulator."""

    def __init__(self, cfg: RolloutConfig) -> None:
        self.cfg = cfg

    def unavailable(self, policy: Policy) -> str | None:
        """None when the simulator can run this policy; else why not, in a few words."""
        return why_no_rollouts(policy)

    def __call__(self, policy: Policy) -> dict[str, float]:
        return evaluate_in_process(policy, self.cfg)
