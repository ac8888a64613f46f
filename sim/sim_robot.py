"""The simulated tabletop as a `Robot`: what `bcz run` drives when there is no real arm.

Connecting builds a scene (a task's layout from the suite, with its distractors); every action
advances the physics by one control period, as time passes for a real arm. The instruction typed by
the user is free text; when it names a task of the suite whose objects are on the table, the success
check of that task is reported too.
"""

from __future__ import annotations

import copy
import ctypes
import ctypes.util
import functools
from dataclasses import dataclass, field

import numpy as np

from robot.quiet import pybullet as p
from robot.robot import Feature, Robot
from sim.env import TabletopEnv, use_gui
from sim.env_config import EnvConfig
from sim.skills import SKILLS
from tasks.suite import TaskSpec, normalize


@functools.cache
def _malloc_trim() -> ctypes._CFuncPtr | None:
    """glibc's `malloc_trim`, or None where the C library has none (macOS, musl)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def return_freed_memory() -> None:
    """Give the heap a scene freed back to the system. A new scene frees the old one's many small blocks
    and the allocator keeps them: a running robot grew 15 MB over its first ten scenes without this, and
    none with it (docs/benchmarks.md, "Soak")."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


# PyBullet keeps every mesh file it parses, for the life of the process, and the clutter alone draws
# from 1000: a robot laying out 1000 new scenes grew 84.6 -> 101.3 MB (benchmarks/scene_memory.py)
MESH_CACHE_SCENES = 50


def forget_parsed_meshes(client: int) -> None:
    """Empty PyBullet's cache of parsed mesh files (one for the whole process): turning file caching off
    clears it, and on again it fills anew with the meshes the next scenes load."""
    p.setPhysicsEngineParameter(enableFileCaching=0, physicsClientId=client)
    p.setPhysicsEngineParameter(enableFileCaching=1, physicsClientId=client)


@dataclass
class SimRobotConfig:
    """The simulated robot of `bcz run robot=sim`: its env, first scene and whether to open a window."""

    env: EnvConfig = field(default_factory=EnvConfig)
    task: str | None = None  # the scene to lay out (task id or instruction); None: a random train task
    split: str = "train"
    seed: int | None = None  # None: a fresh scene each run
    gui: str = "auto"  # PyBullet's window where a display exists


class SimRobot(Robot):
    """The tabletop simulator as a `Robot` for `bcz run`: episodes never end, and it judges the task an
    instruction names."""

    name = "sim_tabletop"

    def __init__(self, config: SimRobotConfig) -> None:
        self.config = config
        self.env: TabletopEnv | None = None
        self.seed = config.seed if config.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        self._obs: dict[str, np.ndarray] | None = None
        self.scenes = 0  # laid out so far
        self.spec: TaskSpec | None = None  # the task the current instruction names, when the suite knows it

    @property
    def observation_features(self) -> dict[str, Feature]:
        return self._env().arm.observation_features

    @property
    def action_features(self) -> dict[str, Feature]:
        return self._env().arm.action_features

    @property
    def is_connected(self) -> bool:
        return self.env is not None

    def _env(self) -> TabletopEnv:
        if self.env is None:
            config = copy.deepcopy(self.config.env)
            config.max_steps = 10**12  # a deployed robot runs until told otherwise
            config.terminate_on_success = False
            gui = use_gui(str(self.config.gui).lower())
            self.env = TabletopEnv(
                config, split=self.config.split, task=self.config.task, render_mode="human" if gui else None
            )
        return self.env

    def connect(self) -> None:
        """Build the simulator (on first use) and lay out the first scene."""
        self.reset()

    def reset(self, task: TaskSpec | None = None) -> None:
        """A fresh scene (the next seed), laid out for `task` when given (its objects, with distractors).
        What the old scenes left behind is let go: their freed heap each time, the meshes they parsed
        every `MESH_CACHE_SCENES` scenes (the scene after that parses them again: a few ms more)."""
        env = self._env()
        if self.scenes and self.scenes % MESH_CACHE_SCENES == 0:
            forget_parsed_meshes(env.client)
        self._obs, _ = env.reset(seed=self.seed, options={"task": task} if task else None)
        self.seed += 1
        self.scenes += 1
        return_freed_memory()

    def disconnect(self) -> None:
        """Close the simulator; a later call builds a new one."""
        if self.env is not None:
            self.env.close()
        self.env = None

    def get_observation(self) -> dict[str, np.ndarray]:
        """The latest observation, rendered only after the arm has moved."""
        if self._obs is None:  # nothing has moved since the last one was rendered
            self._obs = self._env().arm.get_observation()
        return self._obs

    def send_action(self, action: np.ndarray) -> np.ndarray:
        """Step the simulator by one control step; returns the action the arm applied."""
        self._obs, _, _, _, info = self._env().step(action)
        return info["applied_action"]

    # ------------------------------------------------------------------ what only a simulator knows
    @property
    def objects(self) -> list[str]:
        """Names of the objects in the current scene."""
        return list(self._env().scene.bodies)

    def frame(self) -> np.ndarray:
        """The three-quarter view, for people watching."""
        return self._env().frame()

    def set_instruction(self, text: str, relayout: bool = False, task: TaskSpec | None = None) -> str | None:
        """Track the success check of `task` (the task `text` was read as; None: the one its words name
        most, `TaskSuite.closest`); returns what the operator should know.

        With `relayout`, a scene lacking the named objects is replaced by one laid out for the task."""
        self.spec = None
        suite = self._env().suite
        spec = task or suite.closest(text)
        if spec is None:
            return f"no success check for {text!r}: it names no object of the suite (the policy still tries)"
        missing = [o.name.replace("_", " ") for o in spec.objects if o.name not in self.objects]
        if missing and relayout:
            self.reset(spec)
        elif missing:
            on_table = ", ".join(o.replace("_", " ") for o in self.objects)
            return f"no {' or '.join(missing)} on the table (it has: {on_table}); `reset` for a scene with it"
        self.spec = spec
        if normalize(text) not in {normalize(t) for t in suite.instructions(spec)}:
            return f"checking success as {spec.id}"
        return None

    def success(self) -> bool | None:
        """Whether the instructed task is done (None when the instruction is not a known task here)."""
        if self.spec is None:
            return None
        return SKILLS[self.spec.skill].satisfied(self.spec, self._env().scene_state())
