"""The LeRobotDataset v3.0 layout: paths, default features, and the features of a tabletop dataset.

Each episode is committed as its own data file and video files (chunk/file indices follow the
episode index), which the format allows and which makes a commit atomic. Episode-metadata rows are
grouped, 100 to a file, because parquet pays ~30 kB per file for the ~130 statistics columns.
"""

from __future__ import annotations

from data_collection.video_codec import VideoConfig, video_feature_info
from robot.robot import Feature

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
INFO_PATH = "meta/info.json"
COLLECTION_PATH = "meta/collection.json"  # what a collection asked for (episodes, seed, cameras, ...)
CAMERA_SETUP = ("eye", "target", "up", "fov_deg", "mount")  # a camera's pose and field of view
TASKS_PATH = "meta/tasks.parquet"
STATS_PATH = "meta/stats.json"
LABELS_PATH = "meta/labels.parquet"  # hindsight labels (bcz relabel); LeRobot ignores it
STAGING_DIR = ".staging"  # files are written here, then renamed into place
EPISODES_PER_META_FILE = 100

ENV_STATE_SLOTS = 8  # objects whose poses are recorded per frame (the suite's scenes hold at most 6)
POSE_NAMES = ("x", "y", "z", "qx", "qy", "qz", "qw")

DEFAULT_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}


def image_key(camera: str) -> str:
    return f"observation.images.{camera}"


def feature_names(features: dict, key: str) -> list[str]:
    """The channel names of vector feature `key` as a list. LeRobot datasets write `names` as a list,
    as a dict holding one list (`{"motors": [...]}` in datasets converted from v2.x), or as null; then
    the channels are called `action_0`, `action_1`, ... (the key's last part and the index)."""
    feature = features[key]
    names = feature.get("names")
    if isinstance(names, dict) and len(names) == 1:
        names = next(iter(names.values()))
    listed = isinstance(names, list | tuple)
    size = int(feature["shape"][0]) if feature.get("shape") else len(names) if listed else 0
    if not listed or len(names) != size:
        return [f"{key.rsplit('.', 1)[-1]}_{i}" for i in range(size)]
    return [str(n) for n in names]


def chunk_and_file(episode_index: int) -> tuple[int, int]:
    return divmod(episode_index, CHUNKS_SIZE)


def data_path(episode_index: int) -> str:
    c, f = chunk_and_file(episode_index)
    return DATA_PATH.format(chunk_index=c, file_index=f)


def video_path(video_key: str, episode_index: int) -> str:
    c, f = chunk_and_file(episode_index)
    return VIDEO_PATH.format(video_key=video_key, chunk_index=c, file_index=f)


def meta_group(episode_index: int) -> int:
    """Which episode-metadata file holds this episode's row."""
    return episode_index // EPISODES_PER_META_FILE


def meta_group_path(group: int) -> str:
    c, f = divmod(group, CHUNKS_SIZE)
    return EPISODES_PATH.format(chunk_index=c, file_index=f)


def episode_meta_path(episode_index: int) -> str:
    return meta_group_path(meta_group(episode_index))


def tabletop_features(
    robot_features: dict[str, Feature], action: Feature, video: VideoConfig, fps: float
) -> dict:
    """Dataset features for a robot: its state and cameras, its action, the recorded object poses
    (for hindsight relabeling) and the intervention flag, then LeRobot's default features."""
    features: dict[str, dict] = {}
    for name, f in robot_features.items():
        if name == "state":
            features["observation.state"] = {
                "dtype": "float32",
                "shape": list(f.shape),
                "names": list(f.names),
            }
        else:
            h, w, c = f.shape
            features[image_key(name)] = {
                "dtype": "video",
                "shape": [h, w, c],
                "names": ["height", "width", "channels"],
                "info": video_feature_info(video, h, w, fps),
            }
    features["action"] = {"dtype": "float32", "shape": list(action.shape), "names": list(action.names)}
    features["observation.environment_state"] = {
        "dtype": "float32",
        "shape": [ENV_STATE_SLOTS * len(POSE_NAMES)],
        "names": [f"object{i}.{p}" for i in range(ENV_STATE_SLOTS) for p in POSE_NAMES],
    }
    features["intervention"] = {"dtype": "bool", "shape": [1], "names": None}
    return {**features, **DEFAULT_FEATURES}


def video_keys(features: dict) -> list[str]:
    return [k for k, f in features.items() if f["dtype"] == "video"]


def frame_columns(features: dict) -> list[str]:
    """Per-frame columns an episode brings (the rest are assigned when it is committed)."""
    return [k for k, f in features.items() if f["dtype"] != "video" and k not in DEFAULT_FEATURES]
