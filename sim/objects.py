"""Object kinds of the tabletop: their geometry, how to build them, and what a task may do with them.

Procedural shapes (block, bottle, bowl) and pybullet_data meshes (duck, tray, the 1,000 random
meshes used as unnamed clutter). Every kind rests with its base origin `rest_z` above the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet_data

from robot.quiet import pybullet as p

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


def _primitive(
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


def _urdf(
    path: str, scale: float, euler: tuple[float, float, float] = (0, 0, 0), friction: float = 1.0
) -> Callable[[int, list[float]], int]:
    def build(client: int, rgba: list[float]) -> int:
        body = p.loadURDF(
            str(DATA / path),
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

KINDS: dict[str, ObjectKind] = {
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
            builder=_primitive(
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
            builder=_urdf("duck_vhacd.urdf", 0.6, euler=(math.pi / 2, 0, 0)),
        ),
        ObjectKind(
            "bottle",
            BOTTLE_H,
            BOTTLE_R,
            BOTTLE_H / 2,
            tall=True,
            builder=_primitive(
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
            builder=_urdf("tray/traybox.urdf", 0.3),
        ),
    ]
}

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
