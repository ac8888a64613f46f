"""The simulated Franka Panda: end-effector delta control through PyBullet's inverse kinematics.

The arm lives in a physics client owned by someone else (the tabletop world); `send_action` only sets
motor targets, and whoever owns the world steps the physics `config.substeps` times per control step.
"""

from __future__ import annotations

import numpy as np

from robot.cameras.pybullet_camera import PyBulletCamera
from robot.pybullet_arm.assets import lowpoly_panda_urdf
from robot.pybullet_arm.config import PandaConfig
from robot.quiet import pybullet as p
from robot.robot import EndEffectorArm
from robot.safety import ClipReporter

# Gripper pointing straight down (rotation of pi about x): the nominal orientation, yaw 0.
DOWN = np.array([1.0, 0.0, 0.0, 0.0])
ARM_JOINTS = tuple(range(7))
FINGER_JOINTS = (9, 10)
EE_LINK_NAME = "panda_grasptarget"  # between the fingertips
# Seed for the home-pose IK: elbow up, wrist over the table.
SEED_JOINTS = (0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.785)


def yaw_quaternion(yaw: float) -> np.ndarray:
    """Gripper pointing down, rotated by `yaw` about the world z axis."""
    _, q = p.multiplyTransforms([0, 0, 0], p.getQuaternionFromEuler([0, 0, yaw]), [0, 0, 0], DOWN)
    return np.asarray(q)


def canonical_quaternion(q: np.ndarray) -> np.ndarray:
    """Pick the sign of q nearest to the nominal down pose, so the state has no sign flips."""
    return -q if float(np.dot(q, DOWN)) < 0 else q


class PandaArm(EndEffectorArm):
    name = "pybullet_panda"

    def __init__(self, config: PandaConfig, client: int) -> None:
        self.config = config
        self.client = client
        self.body: int | None = None
        self.cameras = {name: PyBulletCamera(cfg, client) for name, cfg in config.cameras.items()}
        self.clips = ClipReporter(self.name)
        self._home_joints: list[float] | None = None
        self._joint_targets: list[float] | None = None

    @property
    def is_connected(self) -> bool:
        return self.body is not None

    # ------------------------------------------------------------------ lifecycle
    def connect(self) -> None:
        """Spawn the arm into the client (call again after the world is reset) and go home."""
        cid = self.client
        self.body = p.loadURDF(
            str(lowpoly_panda_urdf()), self.config.base_position, useFixedBase=True, physicsClientId=cid
        )
        links = {
            p.getJointInfo(self.body, j, physicsClientId=cid)[12].decode(): j
            for j in range(p.getNumJoints(self.body, physicsClientId=cid))
        }
        self.ee_link = links[EE_LINK_NAME]
        movable = [
            j
            for j in range(p.getNumJoints(self.body, physicsClientId=cid))
            if p.getJointInfo(self.body, j, physicsClientId=cid)[2] != p.JOINT_FIXED
        ]
        info = [p.getJointInfo(self.body, j, physicsClientId=cid) for j in movable]
        self._lower = [i[8] for i in info]
        self._upper = [i[9] for i in info]
        self._ranges = [u - lo for lo, u in zip(self._lower, self._upper, strict=True)]
        for j in FINGER_JOINTS:
            p.changeDynamics(
                self.body,
                j,
                lateralFriction=self.config.finger_friction,
                frictionAnchor=True,
                physicsClientId=cid,
            )
        # Couple the fingers so they close symmetrically, as the real gripper does.
        gear = p.createConstraint(
            self.body,
            FINGER_JOINTS[0],
            self.body,
            FINGER_JOINTS[1],
            p.JOINT_GEAR,
            [1, 0, 0],
            [0, 0, 0],
            [0, 0, 0],
            physicsClientId=cid,
        )
        p.changeConstraint(gear, gearRatio=-1, erp=0.1, maxForce=50, physicsClientId=cid)
        for cam in self.cameras.values():
            if cam.config.mount != "world":
                if cam.config.mount not in links:
                    valid = ", ".join(["world", *sorted(links)])
                    raise ValueError(f"camera mount {cam.config.mount!r} is not a Panda link; valid: {valid}")
                cam.mount_on(self.body, links[cam.config.mount])
        self.go_home()

    def go_home(self) -> None:
        """Teleport to the home pose (simulation reset), gripper open, motors holding it."""
        cid = self.client
        if self._home_joints is None:
            for j, q in zip(ARM_JOINTS, SEED_JOINTS, strict=True):
                p.resetJointState(self.body, j, q, physicsClientId=cid)
            target = yaw_quaternion(self.config.home_yaw)
            for _ in range(10):  # IK from a reset pose is approximate; iterate to converge
                q = self._ik(np.asarray(self.config.home_position), target, rest=list(SEED_JOINTS))
                for j in ARM_JOINTS:
                    p.resetJointState(self.body, j, q[j], physicsClientId=cid)
            self._home_joints = [float(x) for x in q[:7]]
        for j, q in zip(ARM_JOINTS, self._home_joints, strict=True):
            p.resetJointState(self.body, j, q, physicsClientId=cid)
        half = self.config.gripper_max_width / 2
        for j in FINGER_JOINTS:
            p.resetJointState(self.body, j, half, physicsClientId=cid)
        self._command_joints(self._home_joints, self.config.gripper_max_width)

    def disconnect(self) -> None:
        if self.body is not None and p.isConnected(self.client):
            p.removeBody(self.body, physicsClientId=self.client)
        self.body = None

    # ------------------------------------------------------------------ state
    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        state = p.getLinkState(
            self.body, self.ee_link, computeForwardKinematics=True, physicsClientId=self.client
        )
        return np.asarray(state[4]), np.asarray(state[5])

    def gripper_width(self) -> float:
        a, b = (p.getJointState(self.body, j, physicsClientId=self.client)[0] for j in FINGER_JOINTS)
        return float(a + b)

    def proprioception(self) -> np.ndarray:
        pos, orn = self.ee_pose()
        return np.concatenate([pos, canonical_quaternion(orn), [self.gripper_width()]]).astype(np.float32)

    def get_observation(self) -> dict[str, np.ndarray]:
        obs = {"state": self.proprioception()}
        for name, cam in self.cameras.items():
            obs[name] = cam.read()
        return obs

    # ------------------------------------------------------------------ control
    def send_action(self, action: np.ndarray) -> np.ndarray:
        limits = self.config.limits
        applied, clipped = limits.clip(action)
        if clipped:
            self.clips.report(np.asarray(action), applied)
        width = self.config.gripper_max_width * (1.0 - float(applied[6]))
        if not np.any(applied[:6]) and self._joint_targets is not None:
            # Zero motion holds the last commanded target: re-aiming at the measured pose would let the
            # arm creep down by its own gravity sag, step after step.
            self._command_joints(self._joint_targets, width)
            return applied
        pos, orn = self.ee_pose()
        target_pos = limits.clamp_position(pos + applied[:3])
        rotvec = applied[3:6].astype(np.float64)
        angle = float(np.linalg.norm(rotvec))
        target_orn = orn
        if angle > 1e-9:
            delta = p.getQuaternionFromAxisAngle(rotvec / angle, angle)
            _, target_orn = p.multiplyTransforms([0, 0, 0], delta, [0, 0, 0], orn)
        joints = self._ik(target_pos, np.asarray(target_orn), rest=self._home_joints)
        self._command_joints(joints[:7], width)
        return applied

    def _ik(self, position: np.ndarray, orientation: np.ndarray, rest: list[float]) -> list[float]:
        half = self.config.gripper_max_width / 2
        return p.calculateInverseKinematics(
            self.body,
            self.ee_link,
            position.tolist(),
            orientation.tolist(),
            lowerLimits=self._lower,
            upperLimits=self._upper,
            jointRanges=self._ranges,
            restPoses=[*rest, half, half],
            maxNumIterations=self.config.ik_iterations,
            residualThreshold=1e-12,
            physicsClientId=self.client,
        )

    def _command_joints(self, joints: list[float], gripper_width: float) -> None:
        self._joint_targets = list(joints)
        cid = self.client
        p.setJointMotorControlArray(
            self.body,
            ARM_JOINTS,
            p.POSITION_CONTROL,
            targetPositions=list(joints),
            forces=self.config.arm_forces,
            positionGains=[self.config.arm_position_gain] * len(ARM_JOINTS),
            physicsClientId=cid,
        )
        half = gripper_width / 2
        p.setJointMotorControlArray(
            self.body,
            FINGER_JOINTS,
            p.POSITION_CONTROL,
            targetPositions=[half, half],
            forces=[self.config.gripper_force] * 2,
            physicsClientId=cid,
        )
