"""Configuration of the tabletop environment (schema for conf/env/*.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field

from robot.pybullet_arm.config import PandaConfig


@dataclass
class RandomizationConfig:
    """Domain randomization, each switchable. All draws come from the episode's seed."""

    object_poses: bool = True  # positions and yaw; off: a fixed layout
    object_set: bool = True  # which distractors and clutter appear; off: only the task's objects
    colours: bool = True  # shade within each colour class
    lighting: bool = True
    camera_pose: bool = True
    table_colour: bool = True
    colour_jitter: float = 0.12  # relative brightness / tint change within a colour class
    camera_position_jitter: float = 0.02  # m, eye and target, per axis
    camera_fov_jitter: float = 2.0  # degrees


@dataclass
class SceneConfig:
    workspace_low: list[float] = field(default_factory=lambda: [0.32, -0.25])  # where objects are placed, m
    workspace_high: list[float] = field(default_factory=lambda: [0.68, 0.25])
    min_distractors: int = 1  # other suite objects besides the task's
    max_distractors: int = 3
    same_kind_distractor_prob: float = 0.5  # add one of the target's kind in another colour
    max_clutter: int = 1  # unnamed random meshes from pybullet_data
    spacing: float = 0.035  # m between object footprints
    table_colour: list[float] = field(default_factory=lambda: [0.62, 0.50, 0.38])
    settle_steps: int = 48  # physics steps after spawning, before the first observation


@dataclass
class EnvConfig:
    robot: PandaConfig = field(default_factory=PandaConfig)
    scene: SceneConfig = field(default_factory=SceneConfig)
    randomize: RandomizationConfig = field(default_factory=RandomizationConfig)
    suite: str = "default"  # conf/suites/<name>.yaml
    max_steps: int = 120  # control steps before truncation (12 s at 10 Hz)
    terminate_on_success: bool = True
    render_width: int = 320  # render() view for videos and the GUI-less demo
    render_height: int = 240
