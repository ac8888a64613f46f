"""End-effector poses and the little rotation algebra that chunk-relative actions need.

A pose is position (m) + quaternion (x, y, z, w), as in the robot's state. Rotations compose the way
the robots apply an axis-angle action: the world-frame delta multiplies from the left,
`new = delta * current`. Everything is numpy and vectorized over leading axes.

Chunk-relative actions (ACT, Diffusion Policy): every action of a chunk predicted at step t is the pose
the hand is sent to at step t+k, written as an offset from the pose at t. Executing them means
re-aiming at a fixed target from wherever the hand is, so errors do not add up along the chunk the way
chained per-step deltas do.
"""

from __future__ import annotations

import numpy as np

POSITION = slice(0, 3)  # in the state vector (EE_STATE_NAMES) and in the action vector (EE_ACTION_NAMES)
QUATERNION = slice(3, 7)  # in the state vector
ROTATION = slice(3, 6)  # axis-angle, in the action vector
GRIPPER = 6  # in the action vector
HEIGHT = 2  # z, in the state vector and in a target
WIDTH = 7  # the finger opening (m), in the state vector
TARGET_SIZE = 8  # an absolute target: position (3), quaternion (4), gripper (1)
TARGET_GRIPPER = 7  # in a target: 0 open, 1 closed


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (x, y, z, w) quaternions."""
    ax, ay, az, aw = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bx, by, bz, bw = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        axis=-1,
    )


def quat_conj(q: np.ndarray) -> np.ndarray:
    """The conjugate (the inverse of a unit quaternion) of (..., 4) x, y, z, w quaternions."""
    return np.asarray(q, dtype=np.float64) * np.array([-1.0, -1.0, -1.0, 1.0])


def rotvec_to_quat(r: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle vectors -> (..., 4) unit quaternions, x, y, z, w."""
    r = np.asarray(r, dtype=np.float64)
    angle = np.linalg.norm(r, axis=-1, keepdims=True)
    scale = np.where(angle > 1e-9, np.sin(angle / 2) / np.maximum(angle, 1e-12), 0.5)
    return np.concatenate([r * scale, np.cos(angle / 2)], axis=-1)


def quat_to_rotvec(q: np.ndarray) -> np.ndarray:
    """The axis-angle vector of the shortest rotation `q` stands for."""
    q = np.asarray(q, dtype=np.float64)
    q = np.where(q[..., 3:] < 0, -q, q)
    n = np.linalg.norm(q[..., :3], axis=-1, keepdims=True)
    angle = 2 * np.arctan2(n, q[..., 3:])
    return q[..., :3] * np.where(n > 1e-9, angle / np.maximum(n, 1e-12), 2.0)


def commanded_pose(state: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a delta `action` taken in `state` sends the hand: (position, quaternion)."""
    position = state[..., POSITION] + action[..., POSITION]
    return position, quat_mul(rotvec_to_quat(action[..., ROTATION]), state[..., QUATERNION])


def relative_to(
    position: np.ndarray, quaternion: np.ndarray, origin: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Target poses as offsets from the pose in state `origin` (broadcast): (dposition, rotvec)."""
    offset = position - origin[..., POSITION]
    rotation = quat_to_rotvec(quat_mul(quaternion, quat_conj(origin[..., QUATERNION])))
    return offset, rotation


def absolute_targets(relative: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """(K, 7) chunk-relative actions + the state they were predicted in -> (K, 8) absolute targets."""
    position = origin[POSITION] + relative[:, POSITION]
    quaternion = quat_mul(rotvec_to_quat(relative[:, ROTATION]), origin[QUATERNION])
    return np.concatenate([position, quaternion, relative[:, GRIPPER : GRIPPER + 1]], axis=1)


def chained_targets(deltas: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """(K, 7) per-step deltas chained from the state `origin` -> (K, 8) absolute targets."""
    position, quaternion = origin[POSITION].astype(np.float64), origin[QUATERNION].astype(np.float64)
    out = np.empty((len(deltas), TARGET_SIZE))
    for k, d in enumerate(deltas):
        position = position + d[POSITION]
        quaternion = quat_mul(rotvec_to_quat(d[ROTATION]), quaternion)
        out[k] = [*position, *quaternion, d[GRIPPER]]
    return out


def start_target(state: np.ndarray) -> np.ndarray:
    """The pose in `state` as a target, fingers open (where a chunk starts from, or a regrasp lifts from)."""
    return np.concatenate([state[POSITION], state[QUATERNION], [0.0]]).astype(np.float64)


def action_towards(target: np.ndarray, state: np.ndarray) -> np.ndarray:
    """The delta action (7,) that sends the hand from its pose in `state` to an (8,) absolute target."""
    rotation = quat_to_rotvec(quat_mul(target[3:7], quat_conj(state[QUATERNION])))
    return np.concatenate([target[:3] - state[POSITION], rotation, target[7:8]]).astype(np.float32)


def mean_target(targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean of (N, 8) targets: positions averaged, quaternions sign-aligned, averaged and
    renormalized (exact enough for the nearby orientations of overlapping chunks)."""
    w = weights / weights.sum()
    quats = targets[:, 3:7] * np.where((targets[:, 3:7] @ targets[-1, 3:7]) < 0, -1.0, 1.0)[:, None]
    q = (quats * w[:, None]).sum(0)
    return np.concatenate([(targets[:, :3] * w[:, None]).sum(0), q / np.linalg.norm(q), targets[-1, 7:]])
