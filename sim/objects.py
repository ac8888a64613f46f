"""Object kinds of the tabletop: their geometry, how to build them, and what a task may do with them.

Procedural shapes (block, bottle, bowl) and pybullet_data meshes (duck, tray, the 1,000 random
meshes used as unnamed clutter). Every kind rests with its base origin `rest_z` above the table. A suite
file may declare more kinds by `shape` (`ShapeSpec`, docs/add_a_task.md); `KINDS` builds them on first use.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pybullet_data

from robot.quiet import pybullet as p
from sim.assets import untextured_urdf
from tasks.errors import UnknownTaskError
from tasks.registry import SHAPES

DATA = Path(pybullet_data.getDataPath())


@dataclass(frozen=True)
class ObjectKind:
    name: str
    height: float  # m, standing on the table
    radius: float  # m, radius of the footprint's bounding circle
    rest_z: float  # m, base origin height when resting upright on the table
    grasp_z: float = 0.0  # m above the table where the fingers close (graspable kinds)
    inner_radius: float = 0.0  # m, usable radius inside (containers)
    graspable: bool = False
    container: bool = False
    tall: bool = False  # can be knocked over
    grasp_symmetry: float = math.pi  # rad; grasp yaw is defined modulo this
    # rad: how far the fingers may be turned from the object's grasp yaw and still hold it (measured:
    # blocks at any turn, ducks at 60 degrees; tests/test_experts.py). The expert turns the hand only
    # as far as needed to get inside this band, so demonstrations do not ask the policy to read
    # orientations it need not.
    grasp_yaw_tolerance: float = 0.0
    builder: Callable[[int, list[float]], int] | None = None

    def build(self, client: int, rgba: list[float]) -> int:
        assert self.builder is not None
        return self.builder(client, rgba)


def primitive_builder(
    collision: dict, visual: dict, mass: float, friction: float = 1.0
) -> Callable[[int, list[float]], int]:
    def build(client: int, rgba: list[float]) -> int:
        col = p.createCollisionShape(physicsClientId=client, **collision)
        vis = p.createVisualShape(rgbaColor=rgba, physicsClientId=client, **visual)
        body = p.createMultiBody(mass, col, vis, physicsClientId=client)
        p.changeDynamics(
            body,
            -1,
            lateralFriction=friction,
            spinningFriction=0.002,
            rollingFriction=0.0002,
            frictionAnchor=True,
            physicsClientId=client,
        )
        return body

    return build


def _bowl(
    radius: float, height: float, wall: float, segments: int, mass: float
) -> Callable[[int, list[float]], int]:
    """A bowl as one compound body: a base disc and a ring of slightly flared wall panels."""
    flare = math.radians(15)
    panel = 2 * math.pi * radius / segments * 1.05
    types, radii, halves, lengths, positions, orientations = (
        [p.GEOM_CYLINDER],
        [radius],
        [[0, 0, 0]],
        [0.008],
        [[0, 0, 0.004]],
        [[0, 0, 0, 1]],
    )
    for i in range(segments):
        a = 2 * math.pi * i / segments
        r = radius + math.sin(flare) * height / 2
        types.append(p.GEOM_BOX)
        radii.append(0)
        halves.append([wall / 2, panel / 2, height / 2])
        lengths.append(0)
        positions.append([r * math.cos(a), r * math.sin(a), height / 2])
        orientations.append(p.getQuaternionFromEuler([0, -flare, a]))  # flared outwards, facing the centre

    def build(client: int, rgba: list[float]) -> int:
        shape = dict(
            shapeTypes=types, radii=radii, halfExtents=halves, lengths=lengths, physicsClientId=client
        )
        col = p.createCollisionShapeArray(
            collisionFramePositions=positions, collisionFrameOrientations=orientations, **shape
        )
        vis = p.createVisualShapeArray(
            visualFramePositions=positions, visualFrameOrientations=orientations, **shape
        )
        body = p.createMultiBody(mass, col, vis, physicsClientId=client)
        p.changeVisualShape(body, -1, rgbaColor=rgba, physicsClientId=client)
        p.changeDynamics(body, -1, lateralFriction=0.8, physicsClientId=client)
        return body

    return build


def urdf_builder(
    path: str, scale: float, euler: tuple[float, float, float] = (0, 0, 0), friction: float = 1.0
) -> Callable[[int, list[float]], int]:
    def build(client: int, rgba: list[float]) -> int:
        body = p.loadURDF(
            str(untextured_urdf(DATA / path)),  # recoloured below: its texture would only cost memory
            globalScaling=scale,
            baseOrientation=p.getQuaternionFromEuler(euler),
            physicsClientId=client,
        )
        p.changeVisualShape(body, -1, rgbaColor=rgba, textureUniqueId=-1, physicsClientId=client)
        p.changeDynamics(
            body,
            -1,
            lateralFriction=friction,
            spinningFriction=0.002,
            frictionAnchor=True,
            physicsClientId=client,
        )
        return body

    return build


BLOCK = 0.04
BOTTLE_R, BOTTLE_H = 0.025, 0.14
BOWL_R, BOWL_H = 0.065, 0.045


class Kinds(dict):
    """Kind name -> `ObjectKind`: the built-in kinds, and those a suite file declares by shape
    (`tasks.registry.SHAPES`), made from their `ShapeSpec` the first time they are looked up."""

    def __init__(self, kinds: dict[str, ObjectKind]) -> None:
        super().__init__(kinds)
        self.declared: set[str] = set()  # of the kinds here, those made from a suite file's shape

    def __missing__(self, name: str) -> ObjectKind:
        if name not in SHAPES:
            raise KeyError(name)
        self[name] = ShapeSpec.parse(name, SHAPES[name]).kind(name)
        self.declared.add(name)
        return self[name]


KINDS = Kinds(
    {
        k.name: k
        for k in [
            ObjectKind(
                "block",
                BLOCK,
                BLOCK / math.sqrt(2),
                BLOCK / 2,
                grasp_z=BLOCK / 2,
                graspable=True,
                grasp_symmetry=math.pi / 2,
                grasp_yaw_tolerance=math.pi / 4,
                builder=primitive_builder(
                    dict(shapeType=p.GEOM_BOX, halfExtents=[BLOCK / 2] * 3),
                    dict(shapeType=p.GEOM_BOX, halfExtents=[BLOCK / 2] * 3),
                    mass=0.1,
                ),
            ),
            ObjectKind(
                "duck",
                0.054,
                0.036,
                0.0102,
                grasp_z=0.022,
                graspable=True,
                grasp_yaw_tolerance=math.pi / 3,
                builder=urdf_builder("duck_vhacd.urdf", 0.6, euler=(math.pi / 2, 0, 0)),
            ),
            ObjectKind(
                "bottle",
                BOTTLE_H,
                BOTTLE_R,
                BOTTLE_H / 2,
                tall=True,
                builder=primitive_builder(
                    dict(shapeType=p.GEOM_CYLINDER, radius=BOTTLE_R, height=BOTTLE_H),
                    dict(shapeType=p.GEOM_CYLINDER, radius=BOTTLE_R, length=BOTTLE_H),
                    mass=0.12,
                ),
            ),
            ObjectKind(
                "bowl",
                BOWL_H,
                BOWL_R + 0.012,
                0.0,
                inner_radius=BOWL_R - 0.005,
                container=True,
                builder=_bowl(BOWL_R, BOWL_H, wall=0.006, segments=14, mass=0.3),
            ),
            ObjectKind(
                "tray",
                0.042,
                0.127,
                0.0035,
                inner_radius=0.07,
                container=True,
                builder=urdf_builder("tray/traybox.urdf", 0.3),
            ),
        ]
    }
)

RANDOM_MESHES = 1000  # pybullet_data/random_urdfs/000..999, used as unnamed clutter
CLUTTER_RADIUS = 0.035


def build_clutter(client: int, index: int, rgba: list[float]) -> int:
    """One of pybullet_data's random meshes (~10 cm), scaled down to a 5 cm piece of clutter."""
    path = DATA / "random_urdfs" / f"{index:03d}" / f"{index:03d}.urdf"
    body = p.loadURDF(str(path), globalScaling=0.45, physicsClientId=client)
    p.changeVisualShape(body, -1, rgbaColor=rgba, physicsClientId=client)
    return body


def jitter_colour(rgb: list[float], rng: np.random.Generator, amount: float) -> list[float]:
    """Vary a colour within its class: small random changes of brightness and per-channel tint."""
    rgb = np.asarray(rgb, dtype=np.float64)
    scale = 1.0 + rng.uniform(-amount, amount)
    tint = rng.uniform(-amount / 2, amount / 2, size=3)
    out = np.clip(rgb * scale + tint, 0.0, 1.0)
    return [*out.tolist(), 1.0]


SHAPE_TYPES = ("box", "cylinder", "urdf")


@dataclass(frozen=True)
class ShapeSpec:
    """How a suite file declares an object kind the simulator does not build itself (`shape:`).

    Args:
        type: "box" (size [x, y, z] m), "cylinder" (size [radius, height] m) or "urdf" (a file under
            pybullet_data, or an absolute path, scaled by `scale`; its size is measured once).
        mass, friction: kg and lateral friction of the body.
        graspable: a target the fingers close on, `grasp_z` m above the table (default half its height)
            turned at most `grasp_yaw_tolerance` degrees from a face.
        container, inner_radius: something objects go in; its usable radius (m).
        tall: it can be knocked over.
    """

    type: str
    size: list[float] = field(default_factory=list)
    urdf: str = ""
    scale: float = 1.0
    mass: float = 0.1
    friction: float = 1.0
    graspable: bool = False
    grasp_z: float | None = None
    grasp_yaw_tolerance: float = 45.0
    container: bool = False
    inner_radius: float = 0.0
    tall: bool = False

    @classmethod
    def parse(cls, name: str, shape: dict) -> ShapeSpec:
        """The spec of a suite file's `shape:` mapping, refused in one line when it is not one."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(shape) - set(valid))
        if unknown:
            raise UnknownTaskError(
                f"object kind {name!r}: unknown shape fields {unknown}; valid: {', '.join(valid)}"
            )
        if "type" not in shape or not isinstance(shape.get("size", []), list | tuple):
            raise UnknownTaskError(
                f"object kind {name!r}: a shape needs a type ({', '.join(SHAPE_TYPES)}) and a list of sizes"
            )
        numbers = [*shape.get("size", []), *(shape.get(k, 1.0) for k in ("mass", "friction", "scale"))]
        if not all(isinstance(v, int | float) and v > 0 for v in numbers):
            raise UnknownTaskError(
                f"object kind {name!r}: size, mass, friction and scale must be positive numbers, got {shape}"
            )
        spec = cls(**shape)
        if spec.container and spec.inner_radius <= 0:
            raise UnknownTaskError(f"object kind {name!r}: a container needs its inner_radius (m) > 0")
        sizes = {"box": 3, "cylinder": 2, "urdf": 0}
        if spec.type not in SHAPE_TYPES:
            raise UnknownTaskError(
                f"object kind {name!r}: shape type {spec.type!r}; valid: {', '.join(SHAPE_TYPES)}"
            )
        if len(spec.size) != sizes[spec.type]:
            raise UnknownTaskError(
                f"object kind {name!r}: a {spec.type} takes size of {sizes[spec.type]} positive numbers "
                f"(box: [x, y, z], cylinder: [radius, height], urdf: none), got {list(spec.size)}"
            )
        if spec.type == "urdf" and not _urdf_path(spec.urdf).is_file():
            raise UnknownTaskError(
                f"object kind {name!r}: no URDF at {spec.urdf!r} (under {DATA} or absolute)"
            )
        return spec

    def kind(self, name: str) -> ObjectKind:
        """The `ObjectKind`: its geometry worked out from the size (or measured), and its builder."""
        if self.type == "box":
            x, y, z = self.size
            height, radius, rest_z = z, math.hypot(x, y) / 2, z / 2
            shape = dict(shapeType=p.GEOM_BOX, halfExtents=[x / 2, y / 2, z / 2])
            builder = primitive_builder(shape, shape, self.mass, self.friction)
        elif self.type == "cylinder":
            radius, height = self.size
            rest_z = height / 2
            builder = primitive_builder(
                dict(shapeType=p.GEOM_CYLINDER, radius=radius, height=height),
                dict(shapeType=p.GEOM_CYLINDER, radius=radius, length=height),
                self.mass,
                self.friction,
            )
        else:
            builder = urdf_builder(str(_urdf_path(self.urdf)), self.scale, friction=self.friction)
            height, radius, rest_z = _measure(builder)
        return ObjectKind(
            name,
            height,
            radius,
            rest_z,
            grasp_z=height / 2 if self.grasp_z is None else self.grasp_z,
            inner_radius=self.inner_radius,
            graspable=self.graspable,
            container=self.container,
            tall=self.tall,
            grasp_symmetry=math.pi / 2 if self.type == "box" else math.pi,
            grasp_yaw_tolerance=math.radians(self.grasp_yaw_tolerance),
            builder=builder,
        )


def _urdf_path(path: str) -> Path:
    return Path(path) if Path(path).is_absolute() else DATA / path


def _measure(builder: Callable[[int, list[float]], int]) -> tuple[float, float, float]:
    """(height, footprint radius, rest_z) of a body as built, at the origin, in a scratch physics client."""
    client = p.connect(p.DIRECT)
    try:
        low, high = p.getAABB(builder(client, [1, 1, 1, 1]), physicsClientId=client)
    finally:
        p.disconnect(client)
    half = max(abs(v) for v in (*low[:2], *high[:2]))
    return high[2] - low[2], half * math.sqrt(2), -low[2]
