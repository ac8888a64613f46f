"""What the numbers of a dataset's action mean, read from its feature names.

A gripper channel (recognised by name, or named in `policy.gripper`) is learned as a binary state,
closed or open, with a cross-entropy loss: a desired open/closed state is easy to learn where a
regressed position hovers between the two. Its two levels are the data's minimum and maximum of that
channel (0 and 1 in this project's data; 0-100 for an SO-100's `gripper.pos`), and the policy emits
one of them. Every other channel is continuous. Any number of channels: a 2-D pusher, a 7-D
end-effector arm, a 14-D bimanual rig.

The action *mode* says what the policy predicts for a chunk:
  relative  this project's end-effector layout: where the hand is sent at t+k, as an offset from the
            pose at t (needs the state to start with the hand's pose and the 7-D delta action)
  delta     the same layout as per-step deltas chained through the chunk (older checkpoints)
  raw       the dataset's own actions at t..t+K-1, as recorded (joint targets, velocities, anything)
  auto      relative when the data has this project's end-effector layout, raw otherwise

`check_features` says, in one error naming every difference, when a policy meets a dataset or robot
whose cameras, image aspect, state or action are not the ones it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from data_collection.layout import feature_names
from robot.robot import EE_ACTION_NAMES, EE_STATE_NAMES

ACTION_MODES = ("auto", "relative", "delta", "raw")
POSE_MODES = ("relative", "delta")  # the modes that need the end-effector layout


def is_end_effector(state_names: list[str], action_names: list[str]) -> bool:
    """Whether state and action are this project's end-effector layout (pose first; 7-D delta action)."""
    return list(state_names[:7]) == list(EE_STATE_NAMES[:7]) and list(action_names) == list(EE_ACTION_NAMES)


def resolve_mode(mode: str, state_names: list[str], action_names: list[str]) -> str:
    """The action mode for data with these names; a pose mode on other data is a clear error."""
    if mode not in ACTION_MODES:
        raise ValueError(f"policy.actions={mode!r}; valid: {', '.join(ACTION_MODES)}")
    ee = is_end_effector(state_names, action_names)
    if mode == "auto":
        return "relative" if ee else "raw"
    if mode in POSE_MODES and not ee:
        raise ValueError(
            f"policy.actions={mode} needs the end-effector layout (state starting with "
            f"{list(EE_STATE_NAMES[:7])}, action {list(EE_ACTION_NAMES)}); this data has state "
            f"{list(state_names)} and action {list(action_names)}: use policy.actions=raw (or auto)"
        )
    return mode


def default_proprio(mode: str, state_names: list[str]) -> list[str]:
    """The state channels a new policy sees: with pose actions all but the hand's pose (the offset to
    the target has to come from the images), with raw actions all (a joint target needs the joints)."""
    if mode in POSE_MODES:
        return [n for n in state_names if n not in EE_STATE_NAMES[:7]]
    return list(state_names)


def gripper_channels(action_names: list[str], configured: list[str] | None) -> list[int]:
    """Indices of the gripper channels: the `configured` names (each must exist), or, when None, every
    name containing "gripper" (LeRobot's `gripper.pos`, `left_gripper`, this project's `gripper`)."""
    names = list(action_names)
    if configured is None:
        return [i for i, n in enumerate(names) if "gripper" in n.lower()]
    missing = [n for n in configured if n not in names]
    if missing:
        raise ValueError(f"policy.gripper names {missing}, not action channels; the action has {names}")
    return [names.index(n) for n in configured]


@dataclass(frozen=True)
class ActionLayout:
    """Gripper channels (binary, with their two levels) and the continuous rest of an action."""

    size: int
    grippers: tuple[int, ...]
    levels: tuple[tuple[float, float], ...]  # (low, high) per gripper channel

    @classmethod
    def of(
        cls, action_names: list[str], configured: list[str] | None, levels: list[list[float]]
    ) -> ActionLayout:
        """The layout a checkpoint recorded: its action names, gripper names and `gripper_levels`."""
        grippers = gripper_channels(action_names, configured)
        if not levels:  # checkpoints from before levels were recorded: this project's 0 / 1
            levels = [[0.0, 1.0]] * len(grippers)
        if len(levels) != len(grippers):
            raise ValueError(f"{len(levels)} gripper levels for {len(grippers)} gripper channels")
        return cls(len(action_names), tuple(grippers), tuple((float(lo), float(hi)) for lo, hi in levels))

    @classmethod
    def from_stats(cls, action_names: list[str], configured: list[str] | None, stats: dict) -> ActionLayout:
        """The layout of a dataset's action: its gripper channels, their levels from meta/stats.json."""
        grippers = gripper_channels(action_names, configured)
        levels = tuple((lo, hi) for lo, hi in gripper_levels(stats, grippers))
        return cls(len(action_names), tuple(grippers), levels)

    @property
    def continuous(self) -> list[int]:
        """Indices of the non-gripper channels (regressed, where the grippers are classified)."""
        return [i for i in range(self.size) if i not in self.grippers]

    def closed(self, actions: np.ndarray | torch.Tensor, channel: int) -> np.ndarray | torch.Tensor:
        """Whether gripper `channel` (an index into `grippers`) is in its high state, per row."""
        low, high = self.levels[channel]
        return actions[..., self.grippers[channel]] > (low + high) / 2


def gripper_levels(stats: dict, grippers: list[int]) -> list[list[float]]:
    """Each gripper channel's (low, high) levels: the data's min and max of it (meta/stats.json)."""
    low, high = np.asarray(stats["action"]["min"]), np.asarray(stats["action"]["max"])
    levels = [[float(low[i]), float(high[i])] for i in grippers]
    return [[lo, hi] if hi > lo else [lo, lo + 1.0] for lo, hi in levels]  # a channel that never moved


def same_aspect(a: list[int], b: list[int]) -> bool:
    """Whether (height, width) sizes a and b have one aspect ratio (within 1%)."""
    return abs(a[0] * b[1] - a[1] * b[0]) <= 0.01 * a[1] * b[0]


class FeatureMismatchError(ValueError):
    """A checkpoint used with data or a robot whose cameras, image size, state or action differ."""


def check_features(
    cameras: list[str],
    image_size: list[int],
    state_names: list[str],
    action_names: list[str],
    features: dict,
    what: str,
) -> None:
    """Raise FeatureMismatchError naming every difference between a policy trained on these cameras, image
    size, state and action names and the dataset or robot `features` (`what` says which it is)."""
    problems = []
    for cam in cameras:
        key = f"observation.images.{cam}"
        if key not in features:
            problems.append(
                f"camera {cam!r} is missing (the {what} has "
                f"{[k.split('.')[-1] for k in features if k.startswith('observation.images.')]})"
            )
        elif not same_aspect(features[key]["shape"][:2], image_size):
            problems.append(  # any size is resized to image_size, but not stretched
                f"camera {cam!r} is {features[key]['shape'][:2]} in the {what}, the policy "
                f"was trained on {image_size} (another aspect ratio)"
            )
    for key, names, label in (
        ("observation.state", state_names, "state"),
        ("action", action_names, "action"),
    ):
        got = feature_names(features, key) if key in features else None
        if got is None or got != list(names):
            problems.append(f"{label} is {got} in the {what}, the policy expects {list(names)}")
    if problems:
        raise FeatureMismatchError(f"the policy does not fit this {what}: " + "; ".join(problems))
