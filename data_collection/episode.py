"""One recorded episode: recorded frame by frame, then encoded (videos + statistics) for committing.

Recording and encoding happen where the episode was played (a Ray worker, a teleop session); the
dataset writer only moves finished bytes into place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from data_collection.layout import ENV_STATE_SLOTS, POSE_NAMES, image_key
from data_collection.stats import Stats, array_stats, image_stats
from data_collection.video_codec import VideoConfig, encode_mp4
from sim.state import SceneState

SOURCES = ("expert", "teleop", "policy")


@dataclass
class EpisodeInfo:
    """What is known about an episode besides its frames (stored in the episode metadata)."""

    instruction: str
    task: str  # the structured task the env scored ("" when there is none, e.g. a real robot)
    success: bool
    source: str  # expert | teleop | policy (a policy with human interventions counts as policy)
    objects: list[str]  # scene objects, in the order of observation.environment_state's slots
    job: int = -1  # collection job id (its seed is seed + job); -1 outside `bcz collect`
    seed: int = -1
    # A chain of instructions in one episode (`bcz collect chain=N`): one dict per instruction with its
    # task, instruction, frames [start, end) and success; `instruction` and `task` are the first one's.
    segments: list[dict] | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"episode source {self.source!r}; valid: {', '.join(SOURCES)}")
        if not self.instruction.strip():
            raise ValueError("an episode needs a non-empty instruction")


@dataclass
class Episode:
    """One recorded episode in memory: per-frame columns and raw camera frames, before encoding."""

    info: EpisodeInfo
    columns: dict[str, np.ndarray]  # observation.state, action, observation.environment_state, intervention
    images: dict[str, np.ndarray] = field(default_factory=dict)  # feature key -> (T, H, W, 3) uint8
    said: list[str] | None = None  # per frame, the instruction it was recorded under (a chain's)

    def __len__(self) -> int:
        return len(self.columns["action"])


@dataclass
class EncodedEpisode:
    """An episode ready to commit: columns, mp4 bytes per camera and statistics per feature."""

    info: EpisodeInfo
    columns: dict[str, np.ndarray]
    videos: dict[str, bytes]  # feature key -> mp4
    stats: dict[str, Stats]  # per feature (the commit adds the index features)
    said: list[str] | None = None  # per frame, the instruction it was recorded under (a chain's)

    def __len__(self) -> int:
        return len(self.columns["action"])


def env_state_vector(scene: SceneState, objects: list[str]) -> np.ndarray:
    """Object poses in slot order, zero-padded to ENV_STATE_SLOTS."""
    out = np.zeros((ENV_STATE_SLOTS, len(POSE_NAMES)), dtype=np.float32)
    for i, name in enumerate(objects):
        obj = scene.objects[name]
        out[i, :3], out[i, 3:] = obj.position, obj.orientation
    return out.reshape(-1)


class EpisodeRecorder:
    """Accumulates (observation, action) pairs of one episode."""

    def __init__(self, objects: list[str]) -> None:
        if len(objects) > ENV_STATE_SLOTS:
            raise ValueError(
                f"{len(objects)} objects in the scene; the dataset records at most {ENV_STATE_SLOTS}"
            )
        self.objects = list(objects)
        self._rows: dict[str, list] = {
            "observation.state": [],
            "action": [],
            "observation.environment_state": [],
            "intervention": [],
        }
        self._images: dict[str, list] = {}
        self._said: list[str] = []
        self.instruction = ""  # what the frames added from now on were recorded under (`segment`)

    def segment(self, instruction: str) -> int:
        """Frames added from now on are recorded under `instruction` (the next of a chain); returns the
        index of the first of them."""
        self.instruction = instruction
        return len(self)

    def __len__(self) -> int:
        return len(self._rows["action"])

    def add(
        self, obs: dict[str, np.ndarray], action: np.ndarray, scene: SceneState, intervention: bool
    ) -> None:
        """Record the observation seen before `action`, the action itself, and the object poses."""
        self._rows["observation.state"].append(np.asarray(obs["state"], dtype=np.float32))
        self._rows["action"].append(np.asarray(action, dtype=np.float32))
        self._rows["observation.environment_state"].append(env_state_vector(scene, self.objects))
        self._rows["intervention"].append(bool(intervention))
        self._said.append(self.instruction)
        for camera, image in obs.items():
            if camera != "state":
                self._images.setdefault(image_key(camera), []).append(image)

    def add_final(self, obs: dict[str, np.ndarray], scene: SceneState) -> None:
        """Close the episode with what the last action led to, labelled "hold still" (zero motion, same
        gripper): the final state is then on record (hindsight relabeling reads it) and a policy learns to
        stay put once the task is done."""
        last = self._rows["action"][-1] if len(self) else np.zeros(7, np.float32)
        hold = np.zeros_like(last)
        hold[6] = last[6]
        self.add(obs, hold, scene, intervention=False)

    def finish(self, info: EpisodeInfo) -> Episode:
        """The episode recorded so far with its `info`; an episode needs at least one frame."""
        if not len(self):
            raise ValueError("cannot finish an episode with no frames")
        columns = {k: np.asarray(v) for k, v in self._rows.items()}
        said = self._said if info.segments else None
        return Episode(info, columns, {k: np.stack(v) for k, v in self._images.items()}, said)


def encode_episode(episode: Episode, fps: float, video: VideoConfig) -> EncodedEpisode:
    """Encode the cameras to mp4 and compute every feature's statistics (done in the worker)."""
    n = len(episode)
    stats = {key: array_stats(values) for key, values in episode.columns.items()}
    stats["timestamp"] = array_stats(np.arange(n) / fps)
    stats["frame_index"] = array_stats(np.arange(n))
    videos = {}
    for key, frames in episode.images.items():
        videos[key] = encode_mp4(frames, fps, video)
        stats[key] = image_stats(frames)
    return EncodedEpisode(episode.info, episode.columns, videos, stats, episode.said)
