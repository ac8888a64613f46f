"""The gymnasium environment: a Panda on a tabletop, a language instruction, success from sim state.

    env = gymnasium.make("bcz/Tabletop-v0", split="train")
    obs, info = env.reset(seed=0)          # info: task, instruction, success
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

Observations: "state" (EE pose + gripper, see robot.EE_STATE_NAMES) and one uint8 HWC image per
camera. Actions: EE deltas + gripper (robot.EE_ACTION_NAMES). The world is rebuilt from scratch at
every reset, so the same seed always gives the same first frame and the same expert trajectory.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from robot.cameras.camera import CameraConfig
from robot.cameras.pybullet_camera import PyBulletCamera
from robot.pybullet_arm.panda import PandaArm
from robot.quiet import pybullet as p
from robot.robot import EE_STATE_NAMES
from sim.env_config import EnvConfig
from sim.expert import ScriptedExpert
from sim.objects import KINDS
from sim.scene import TabletopScene
from sim.skills import SKILLS
from sim.skills.base import free_hand
from sim.state import SceneState
from tasks.registry import check_implemented
from tasks.suite import SPLITS, ObjectRef, TaskSpec, TaskSuite, UnknownTaskError

# A wider three-quarter view for videos and the GUI-less demo (not seen by policies).
RENDER_CAMERA = CameraConfig(eye=[1.05, -0.55, 0.62], target=[0.45, 0.0, 0.06], fov_deg=45.0)


def use_gui(choice: str) -> bool:
    """`gui=auto|true|false` as a yes or no: PyBullet's window opens only where a display exists."""
    if choice not in ("auto", "true", "false"):
        raise ValueError(f"gui={choice!r}; valid: auto, true, false")
    if choice == "auto":
        return bool(os.environ.get("DISPLAY"))
    if choice == "true" and not os.environ.get("DISPLAY"):
        raise ValueError(
            "gui=true opens PyBullet's window, which needs a display (DISPLAY is unset); use gui=false"
        )
    return choice == "true"


class TabletopEnv(gym.Env):
    """The Gymnasium tabletop: a Panda arm and a scene of suite objects; one task per episode, scored by
    its skill's success check on the privileged state."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array", "human"], "render_fps": 10}

    def __init__(
        self,
        config: EnvConfig | None = None,
        suite: TaskSuite | str | None = None,
        split: str = "train",
        task: str | TaskSpec | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.config = config or EnvConfig()
        self.suite = suite if isinstance(suite, TaskSuite) else TaskSuite.load(suite or self.config.suite)
        check_implemented(self.suite, KINDS, "sim/objects.py")
        if split not in SPLITS:
            raise UnknownTaskError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unknown render_mode {render_mode!r}; valid: {self.metadata['render_modes']}")
        if render_mode == "human" and not os.environ.get("DISPLAY"):
            # PyBullet's GUI would exit the whole process when it finds no X server.
            raise ValueError(
                "render_mode='human' opens PyBullet's GUI and needs a display (DISPLAY is unset); "
                "use render_mode='rgb_array' for headless runs"
            )
        self.split = split
        self.fixed_task = self.suite.resolve(task) if task is not None else None
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": self.config.robot.control_hz}
        self.client = p.connect(p.GUI if render_mode == "human" else p.DIRECT)
        if render_mode == "human":
            p.configureDebugVisualizer(p.COV_ENABLE_GUI, 0, physicsClientId=self.client)
            p.resetDebugVisualizerCamera(1.1, 90, -35, [0.45, 0, 0.05], physicsClientId=self.client)
        self.arm = PandaArm(self.config.robot, self.client)
        self.scene = TabletopScene(self.client, self.config.scene, self.config.randomize, self.suite)
        self._render_camera = PyBulletCamera(
            CameraConfig(
                **{
                    **RENDER_CAMERA.__dict__,
                    "width": self.config.render_width,
                    "height": self.config.render_height,
                }
            ),
            self.client,
        )
        limits = self.config.robot.limits
        self.action_space = gym.spaces.Box(limits.action_low, limits.action_high, dtype=np.float32)
        spaces: dict[str, gym.Space] = {
            "state": gym.spaces.Box(-np.inf, np.inf, (len(EE_STATE_NAMES),), dtype=np.float32)
        }
        for name, feature in self.arm.observation_features.items():
            if name != "state":
                spaces[name] = gym.spaces.Box(0, 255, feature.shape, dtype=np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        self.task: TaskSpec | None = None
        self.instruction = ""
        self.steps = 0

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """A new seeded scene for a task (options: "task", "instruction", "layout", "include"); info holds
        the task and instruction."""
        super().reset(seed=seed)
        options = options or {}
        rng = self.np_random
        if options.get("task") is not None:
            self.task = self.suite.resolve(options["task"])
        elif self.fixed_task is not None:
            self.task = self.fixed_task
        else:
            tasks = self.suite.tasks(self.split)
            self.task = tasks[int(rng.integers(len(tasks)))]
        # options["layout"]: lay the scene out for this task instead (the same first frame as its episode
        # on this seed), e.g. to demonstrate the role-swapped task in it (`bcz collect swap_roles=true`)
        layout = self.suite.resolve(options["layout"]) if options.get("layout") else self.task
        drawn = self.suite.instruction(layout, rng)  # drawn either way: a seed's scene is the same
        if layout != self.task:  # the task's own phrasing, from a stream of its own
            drawn = self.suite.instruction(self.task, np.random.default_rng([seed or 0, 1]))
        self.instruction = options.get("instruction") or drawn  # whatever the instruction says
        self._split = self.suite.split_of(self.task)
        include = [ObjectRef.parse(n) for n in options.get("include") or ()]  # e.g. a chain's objects
        self._build_world(rng, layout, include)
        self.steps = 0
        self.initial_state = self.scene_state()
        return self.arm.get_observation(), self._info(False)

    def step(self, action: np.ndarray):
        """Apply one delta action (7,) for one control step; reward is 1.0 on success,
        info["applied_action"] is what the arm executed."""
        if self.task is None:
            raise RuntimeError("call reset() before step()")
        applied = self.arm.send_action(action)
        for _ in range(self.config.robot.substeps):
            p.stepSimulation(physicsClientId=self.client)
        self.steps += 1
        success = SKILLS[self.task.skill].satisfied(self.task, self.scene_state())
        obs = self.arm.get_observation()
        terminated = success and self.config.terminate_on_success
        truncated = self.steps >= self.config.max_steps and not terminated
        info = self._info(success)
        info["applied_action"] = applied
        return obs, float(success), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """The three-quarter view with render_mode="rgb_array"; None otherwise (the GUI draws itself)."""
        return self.frame() if self.render_mode == "rgb_array" else None

    def frame(self) -> np.ndarray:
        """The three-quarter view at render_width x render_height, whatever the render mode."""
        self._render_camera.lighting = self.scene.lighting
        return self._render_camera.read()

    def close(self) -> None:
        if p.isConnected(self.client):
            p.disconnect(self.client)

    # ------------------------------------------------------------------ privileged access
    def scene_state(self) -> SceneState:
        """Object poses and gripper state, for success checks, experts and relabeling."""
        return self.scene.state(self.arm)

    def expert(self) -> ScriptedExpert:
        """The scripted expert for the current task (privileged: it reads `scene_state()`)."""
        if self.task is None:
            raise RuntimeError("call reset() before asking for the expert")
        skill = SKILLS[self.task.skill]
        phases = free_hand(self.task, skill) + skill.plan(self.task)
        return ScriptedExpert(phases, self.config.robot.control_hz)

    def switch_task(self, task: str | TaskSpec, instruction: str | None = None, seed: int = 0):
        """The next instruction in the same scene, as at a running robot: nothing is reset, the step
        count starts again and success is judged for `task` from here (a chain of instructions)."""
        if self.task is None:
            raise RuntimeError("call reset() before switch_task()")
        task = self.suite.resolve(task)
        missing = [o.name for o in task.objects if o.name not in self.scene.bodies]
        if missing:
            raise UnknownTaskError(
                f"{task.id} needs {', '.join(missing)}, not in this scene "
                f"(it has {', '.join(self.scene.bodies)})"
            )
        self.task = task
        self.instruction = instruction or self.suite.instruction(self.task, np.random.default_rng(seed))
        self._split = self.suite.split_of(self.task)
        self.steps = 0
        self.initial_state = self.scene_state()
        success = SKILLS[self.task.skill].satisfied(self.task, self.initial_state)
        return self.arm.get_observation(), self._info(success)

    # ------------------------------------------------------------------ internals
    def _build_world(self, rng: np.random.Generator, layout: TaskSpec, include: list[ObjectRef]) -> None:
        cid = self.client
        if self.render_mode == "human":
            p.configureDebugVisualizer(p.COV_ENABLE_RENDERING, 0, physicsClientId=cid)
        p.resetSimulation(physicsClientId=cid)
        p.setGravity(0, 0, -9.81, physicsClientId=cid)
        p.setTimeStep(1.0 / self.config.robot.physics_hz, physicsClientId=cid)
        self.scene.build(layout, rng, include)
        self.arm.connect()
        self.scene.randomize_sensors(self.arm.cameras, rng)
        for _ in range(self.config.scene.settle_steps):
            p.stepSimulation(physicsClientId=cid)
        if self.render_mode == "human":
            p.configureDebugVisualizer(p.COV_ENABLE_RENDERING, 1, physicsClientId=cid)

    def _info(self, success: bool) -> dict[str, Any]:
        return {
            "task": self.task.id,
            "instruction": self.instruction,
            "success": success,
            "split": self._split,
        }
