"""The tabletop world: a table, the task's objects, distractors and clutter, laid out from a seed.

Layouts are sampled so the scripted expert can always act (each skill says what room it needs) and
the task is never already done at the start. Every random draw comes from the generator passed to
`build`, in a fixed order, so a seed fixes the whole scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robot.cameras.pybullet_camera import Lighting, PyBulletCamera
from robot.pybullet_arm.panda import PandaArm
from robot.quiet import pybullet as p
from sim.env_config import RandomizationConfig, SceneConfig
from sim.objects import CLUTTER_RADIUS, KINDS, RANDOM_MESHES, build_clutter, jitter_colour
from sim.skills import SKILLS
from sim.skills.base import HAND_REACH, Zone
from sim.state import ObjectState, SceneState
from tasks.suite import ObjectRef, TaskSpec, TaskSuite

TABLE_HALF_EXTENTS = (0.65, 0.6, 0.02)
TABLE_CENTRE = (0.4, 0.0, -0.02)  # top surface at z = 0
FIXED_TASK_XY = [np.array([0.50, -0.10]), np.array([0.50, 0.12])]  # object_poses off: target, reference
FIXED_DISTRACTOR_XY = [np.array(xy) for xy in [(0.63, -0.20), (0.63, 0.20), (0.36, 0.02), (0.66, 0.0)]]


@dataclass
class Placement:
    """Where one object goes in a layout: body name, suite object (None: clutter), xy (m) and yaw (rad)."""

    name: str  # "red_block", or "clutter_417" for an unnamed mesh
    ref: ObjectRef | None  # None for clutter
    xy: np.ndarray
    yaw: float

    @property
    def radius(self) -> float:
        """The object's footprint radius (m), what layouts keep apart."""
        return KINDS[self.ref.kind].radius if self.ref else CLUTTER_RADIUS

    @property
    def tall(self) -> bool:
        """Whether it is a tall kind (a bottle) that must stand clear of where the hand comes down."""
        return bool(self.ref and KINDS[self.ref.kind].tall)


def _at_rest(placement: Placement) -> ObjectState:
    geo = KINDS[placement.ref.kind]
    quat = p.getQuaternionFromEuler([0, 0, placement.yaw])
    return ObjectState(
        placement.name,
        geo.name,
        placement.ref.colour,
        np.array([*placement.xy, geo.rest_z]),
        np.asarray(quat),
    )


class LayoutError(RuntimeError):
    """No layout satisfying the task's needs was found."""


class TabletopScene:
    """The objects on the table in one PyBullet client: laid out per task, randomized, and read back as
    `SceneState`."""

    def __init__(
        self, client: int, config: SceneConfig, randomize: RandomizationConfig, suite: TaskSuite
    ) -> None:
        self.client = client
        self.config = config
        self.randomize = randomize
        self.suite = suite
        self.workspace = (np.asarray(config.workspace_low), np.asarray(config.workspace_high))
        self.bodies: dict[str, int] = {}
        self.refs: dict[str, ObjectRef] = {}
        self.clutter: list[int] = []
        self.lighting = Lighting()

    # ------------------------------------------------------------------ building
    def build(
        self, task: TaskSpec, rng: np.random.Generator, include: list[ObjectRef] = ()
    ) -> list[Placement]:
        """Spawn table and objects into the (freshly reset) world; returns the layout used. `include`:
        objects to place among the distractors first (a chain's later tasks), as far as they fit."""
        layout = self.sample_layout(task, rng, include)
        self.bodies, self.refs, self.clutter = {}, {}, []
        table_rgb = self.config.table_colour
        if self.randomize.table_colour:
            table_rgb = np.clip(
                np.asarray(table_rgb) * rng.uniform(0.7, 1.25) + rng.uniform(-0.08, 0.08, 3), 0, 1
            )
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=TABLE_HALF_EXTENTS, physicsClientId=self.client)
        vis = p.createVisualShape(
            p.GEOM_BOX, halfExtents=TABLE_HALF_EXTENTS, rgbaColor=[*table_rgb, 1], physicsClientId=self.client
        )
        self.table = p.createMultiBody(0, col, vis, TABLE_CENTRE, physicsClientId=self.client)
        for item in layout:
            if item.ref is None:
                rgba = [*rng.uniform(0.35, 0.85, 3).tolist(), 1.0]  # muted, unnamed colours
                body = build_clutter(self.client, int(item.name.rsplit("_", 1)[1]), rgba)
                z = 0.002 - p.getAABB(body, physicsClientId=self.client)[0][2]  # bottom on the table
                self.clutter.append(body)
            else:
                base = self.suite.config.colours[item.ref.colour]
                rgba = (
                    jitter_colour(base, rng, self.randomize.colour_jitter)
                    if self.randomize.colours
                    else [*base, 1.0]
                )
                body = KINDS[item.ref.kind].build(self.client, rgba)
                z = KINDS[item.ref.kind].rest_z
                self.bodies[item.name] = body
                self.refs[item.name] = item.ref
            _, orn = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
            _, orn = p.multiplyTransforms(
                [0, 0, 0], p.getQuaternionFromEuler([0, 0, item.yaw]), [0, 0, 0], orn
            )
            p.resetBasePositionAndOrientation(body, [*item.xy, z], orn, physicsClientId=self.client)
        return layout

    def randomize_sensors(self, cameras: dict[str, PyBulletCamera], rng: np.random.Generator) -> None:
        """Draw the lighting and jitter each camera's pose and field of view, as far as `randomize` says."""
        r = self.randomize
        light = Lighting()
        if r.lighting:
            light = Lighting(
                direction=[rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(0.6, 1.5)],
                colour=(1 - rng.uniform(0, 0.15, 3)).tolist(),
                ambient=rng.uniform(0.4, 0.7),
                diffuse=rng.uniform(0.3, 0.6),
                specular=rng.uniform(0.0, 0.12),
            )
        self.lighting = light
        for name in sorted(cameras):
            cam = cameras[name]
            cam.lighting = light
            if r.camera_pose:
                j = r.camera_position_jitter
                cam.jitter(
                    rng.uniform(-j, j, 3), rng.uniform(-j, j, 3), rng.uniform(-1, 1) * r.camera_fov_jitter
                )
            else:
                cam.jitter(np.zeros(3), np.zeros(3), 0.0)

    # ------------------------------------------------------------------ layout
    def sample_layout(
        self, task: TaskSpec, rng: np.random.Generator, include: list[ObjectRef] = ()
    ) -> list[Placement]:
        """Task objects placed so the expert can do the task (not done already), then distractors and
        clutter; LayoutError after 200 tries."""
        skill = SKILLS[task.skill]
        for _ in range(200):
            placed: list[Placement] = []
            for i, ref in enumerate(task.objects):
                if self.randomize.object_poses:
                    xy = self._free_xy(KINDS[ref.kind].radius, placed, [], rng)
                    yaw = float(rng.uniform(-np.pi, np.pi))
                else:
                    xy, yaw = FIXED_TASK_XY[i], 0.0
                if xy is None:
                    break
                placed.append(Placement(ref.name, ref, xy, yaw))
            else:
                state = self._synthetic_state(placed)
                descents = skill.descents(task, state)
                hand_fits = all(
                    self._clear_of_hand(pl, descents) for pl in placed if pl.name != task.target.name
                )
                if (
                    hand_fits
                    and skill.feasible(task, state, self.workspace)
                    and not skill.satisfied(task, state)
                ):
                    zones = skill.keep_clear(task, state)
                    return placed + self._extras(task, placed, zones, descents, rng, include)
            if not self.randomize.object_poses:
                break
        raise LayoutError(
            f"could not lay out {task.id} in the workspace {self.workspace}; "
            "widen scene.workspace_low/high or reduce the objects"
        )

    def _extras(
        self,
        task: TaskSpec,
        placed: list[Placement],
        zones: list[Zone],
        descents: list[np.ndarray],
        rng: np.random.Generator,
        include: list[ObjectRef] = (),
    ) -> list[Placement]:
        """Distractors (other suite objects) and unnamed clutter, kept out of the task's zones."""
        if not self.randomize.object_set:
            return []
        cfg = self.config
        taken = set(task.objects)
        pool = [o for o in self.suite.all_objects if o not in taken]
        wanted: list[ObjectRef] = list(dict.fromkeys(o for o in include if o not in taken))
        same_kind = [o for o in pool if o.kind == task.target.kind and o not in wanted]
        if same_kind and rng.random() < cfg.same_kind_distractor_prob:
            wanted.append(same_kind[int(rng.integers(len(same_kind)))])
        count = int(rng.integers(cfg.min_distractors, cfg.max_distractors + 1))
        rest = [o for o in pool if o not in wanted]
        order = rng.permutation(len(rest))
        wanted += [rest[i] for i in order[: max(0, count - len(wanted))]]
        extras: list[Placement] = [Placement(o.name, o, np.zeros(2), 0.0) for o in wanted]
        extras += [
            Placement(f"clutter_{int(rng.integers(RANDOM_MESHES))}", None, np.zeros(2), 0.0)
            for _ in range(int(rng.integers(0, cfg.max_clutter + 1)))
        ]
        out: list[Placement] = []
        for slot, item in enumerate(extras):
            # tall objects keep a hand's length from where the hand comes down
            item_zones = zones + [(d, HAND_REACH) for d in descents] if item.tall else zones
            if self.randomize.object_poses:
                xy = self._free_xy(item.radius, placed + out, item_zones, rng)
                yaw = float(rng.uniform(-np.pi, np.pi))
            else:
                xy = FIXED_DISTRACTOR_XY[slot] if slot < len(FIXED_DISTRACTOR_XY) else None
                if xy is not None and not self._is_free(xy, item.radius, placed + out, item_zones):
                    xy = None
                yaw = 0.0
            if xy is not None:  # a crowded table simply gets fewer distractors
                out.append(Placement(item.name, item.ref, xy, yaw))
        return out

    @staticmethod
    def _clear_of_hand(item: Placement, descents: list[np.ndarray]) -> bool:
        return not item.tall or all(np.linalg.norm(item.xy - d) > HAND_REACH + item.radius for d in descents)

    def _is_free(self, xy: np.ndarray, radius: float, placed: list[Placement], zones: list[Zone]) -> bool:
        gap = self.config.spacing
        return all(np.linalg.norm(xy - o.xy) > radius + o.radius + gap for o in placed) and all(
            np.linalg.norm(xy - c) > radius + r for c, r in zones
        )

    def _free_xy(
        self, radius: float, placed: list[Placement], zones: list[Zone], rng: np.random.Generator
    ) -> np.ndarray | None:
        low, high = self.workspace
        shrink = max(0.0, radius - 0.05)  # big containers may overhang the placement box a little
        for _ in range(100):
            xy = rng.uniform(low + shrink, high - shrink)
            if self._is_free(xy, radius, placed, zones):
                return xy
        return None

    @staticmethod
    def _synthetic_state(placed: list[Placement]) -> SceneState:
        """The state the layout will have once spawned, for feasibility checks before any physics."""
        return SceneState(
            {pl.name: _at_rest(pl) for pl in placed},
            ee_position=np.array([0.4, 0.0, 0.3]),
            ee_orientation=np.array([1.0, 0, 0, 0]),
            gripper_width=0.08,
        )

    # ------------------------------------------------------------------ state
    def state(self, arm: PandaArm) -> SceneState:
        """The privileged state: every object's pose and the hand's pose and finger width."""
        objects = {}
        for name, body in self.bodies.items():
            pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
            ref = self.refs[name]
            objects[name] = ObjectState(name, ref.kind, ref.colour, np.asarray(pos), np.asarray(orn))
        ee_pos, ee_orn = arm.ee_pose()
        return SceneState(objects, ee_pos, ee_orn, arm.gripper_width())
