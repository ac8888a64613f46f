"""Training samples from a dataset: (images, state, task vector) -> the next K actions.

A sample is a frame of a *segment*: a stretch of an episode that demonstrates an instruction. Each
successful episode, and every policy-driven episode labelled by the expert (`bcz dagger`), is a
segment with its own instruction plus every phrasing of its task in the suite (language augmentation),
and optionally training-only paraphrases of it (`policy.paraphrase`), drawn with their own probability;
with hindsight labels (meta/labels.parquet), every achieved task adds a segment ending where it was
achieved. Targets are chunk-relative (where the expert sent the hand k steps on, as an offset from the
hand now; `policy.pose`), per-step deltas, or, for any other robot, the recorded actions themselves
(`policy.action_layout`). Past a segment's end the hand holds still where it ended (raw: the last
action repeats).
Frames come from the memory-mapped frame cache, so a batch costs milliseconds.
Validation uses whole episodes held out from training.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from data_collection.frames import FrameCache
from data_collection.layout import COLLECTION_PATH, feature_names
from policy.action_layout import POSE_MODES, ActionLayout, default_proprio, resolve_mode
from policy.augment import draw_augmentation
from policy.language import TextEncoder
from policy.paraphrase import Paraphrases
from policy.policy import PolicyConfig
from policy.pose import commanded_pose, relative_to
from tasks.suite import TaskSuite, UnknownTaskError

log = logging.getLogger(__name__)
POLICY_FRAMES = ("all", "expert")  # which frames of a policy-driven (DAgger) episode train


@dataclass
class Segment:
    """A stretch of one episode that teaches one task, with the phrasings a sample of it may be told."""

    episode: int
    start: int  # frame within the episode
    end: int  # exclusive
    instructions: list[int]  # indices into DemoData.instructions
    paraphrases: list[int] = field(default_factory=list)  # likewise: training-only phrasings of its task


class Phrasings:
    """Every instruction text a dataset's samples may be told, numbered in the order first met (the rows
    of `DemoData.embeddings`): the recorded ones, the suite's phrasings of their tasks, and training-only
    paraphrases."""

    def __init__(self, suite: TaskSuite | None, paraphrases: Paraphrases | None) -> None:
        self.suite, self.paraphrases = suite, paraphrases
        self.texts: dict[str, int] = {}
        self._paraphrased: dict[str, list[int]] = {}

    def ids(self, strings: list[str]) -> list[int]:
        """Numbers for `strings` (duplicates dropped), new texts numbered after the ones already met."""
        return [self.texts.setdefault(s, len(self.texts)) for s in dict.fromkeys(strings)]

    def phrasings(self, task: str, said: str) -> list[str]:
        """What was said, then every phrasing of its task in the suite (when the suite knows the task)."""
        if self.suite is None or not task:
            return [said]
        try:
            return [said, *self.suite.instructions(self.suite.resolve(task))]
        except UnknownTaskError:
            return [said]

    def paraphrased(self, task: str) -> list[int]:
        """The training-only paraphrases of `task` (none without a paraphrase set)."""
        if self.paraphrases is None or not task:
            return []
        if task not in self._paraphrased:
            try:
                self._paraphrased[task] = self.ids(self.paraphrases.of(self.paraphrases.suite.resolve(task)))
            except UnknownTaskError:
                self._paraphrased[task] = []
        return self._paraphrased[task]


class DemoData:
    """A LeRobot dataset as training samples: the segments to learn from, their K-step targets and a
    train/validation split by episode; every instruction is embedded once, up front."""

    def __init__(
        self,
        root: str,
        encoder: TextEncoder,
        chunk: int,
        suite: TaskSuite | None = None,
        actions: str = "auto",
        gripper: list[str] | None = None,
        relabels: bool = True,
        val_fraction: float = 0.05,
        seed: int = 0,
        progress: bool = True,
        cache_dir: str | None = None,
        paraphrases: Paraphrases | None = None,
        paraphrase_prob: float = 0.5,
        policy_frames: str = "all",
    ) -> None:
        self.cache = FrameCache(root, cache_dir, progress=progress)
        self.features = self.cache.reader.features
        self.chunk = chunk
        self._statistics: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        state_names = feature_names(self.features, "observation.state")
        action_names = feature_names(self.features, "action")
        self.actions = resolve_mode(actions, state_names, action_names)  # policy.actions, resolved
        self.relative = self.actions == "relative"
        self.layout = ActionLayout.from_stats(action_names, gripper, self.cache.stats)
        reader = self.cache.reader
        rng = np.random.default_rng(seed)
        n_eps = reader.num_episodes
        if n_eps == 0:
            raise ValueError(f"{root} holds no episodes to train on")
        n_val = max(1, round(val_fraction * n_eps)) if n_eps > 1 and val_fraction > 0 else 0
        self.val_episodes = set(rng.choice(n_eps, size=n_val, replace=False).tolist()) if n_val else set()

        words = Phrasings(suite, paraphrases)
        labels = reader.labels() if relabels else None
        segments = self._labelled_segments(labels, words) if labels is not None else []
        labelled = set(labels.episode_index.astype(int)) if labels is not None else set()
        for ep in sorted(set(range(n_eps)) - labelled):  # episodes the labels do not cover (all, without)
            segments += self._episode_segments(ep, words, policy_frames)
        if not segments:
            raise ValueError(f"{root} has no successful episodes or achieved labels to learn from")
        self.instructions = list(words.texts)
        self.paraphrase_prob = paraphrase_prob
        self.embeddings = torch.as_tensor(encoder.encode(self.instructions))
        self.segments = segments
        self.train_index = self._index(
            [i for i, s in enumerate(segments) if s.episode not in self.val_episodes]
        )
        if not len(self.train_index[0]):
            raise ValueError(
                f"{root}: every episode to learn from was held out for validation "
                f"(val_fraction={val_fraction}); use val_fraction=0 or record more episodes"
            )
        self.val_index = self._index(
            [i for i, s in enumerate(segments) if s.episode in self.val_episodes and s.start == 0]
        )
        log.info(
            "%d segments over %d episodes, %d instructions, %d training frames",
            len(segments),
            n_eps,
            len(self.instructions),
            len(self.train_index[0]),
        )

    def _labelled_segments(self, labels, words: Phrasings) -> list[Segment]:
        """A segment for every task achieved in hindsight (meta/labels.parquet), from the frame its
        window starts to the one it was achieved at; an original instruction keeps every phrasing."""
        segments = []
        achieved = labels[labels.achieved]
        for (ep, start, end, task), rows in achieved.groupby(
            ["episode_index", "start_frame", "end_frame", "task"]
        ):
            said = list(rows.instruction)
            more = words.phrasings(task, said[0]) if bool(rows.original.any()) else said
            segments.append(
                Segment(int(ep), int(start), int(end), words.ids(said + more), words.paraphrased(task))
            )
        return segments

    def _episode_segments(self, ep: int, words: Phrasings, policy_frames: str) -> list[Segment]:
        """What episode `ep` teaches: an expert episode its instruction when it succeeded; a policy
        episode (DAgger) the expert's corrections of every visited state, whatever the outcome; a chain
        each of its instructions the same way."""
        reader = self.cache.reader
        info = reader.info_of(ep)
        policy = info.get("source") == "policy"
        segments = []
        if info.get("segments"):  # a chain: each instruction done (or expert-labelled) is a segment
            for seg in info["segments"]:
                start, end = seg["start"], seg["end"]
                if policy and policy_frames == "expert":
                    start = self._expert_from(ep, end, start)
                if (seg["success"] or policy) and start < end:
                    said = words.ids(words.phrasings(seg["task"], seg["instruction"]))
                    segments.append(Segment(ep, start, end, said, words.paraphrased(seg["task"])))
            return segments
        if info.get("success", True) or policy:
            said = info.get("instruction") or reader.episodes[ep]["tasks"][0]
            task, length = info.get("task", ""), reader.episodes[ep]["length"]
            start = self._expert_from(ep, length) if policy and policy_frames == "expert" else 0
            if start < length:
                segments.append(
                    Segment(
                        ep, start, length, words.ids(words.phrasings(task, said)), words.paraphrased(task)
                    )
                )
        return segments

    def _index(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(global frame, segment id) for every frame of the given segments."""
        starts = self.cache.episode_starts
        frames = [
            np.arange(
                starts[self.segments[i].episode] + self.segments[i].start,
                starts[self.segments[i].episode] + self.segments[i].end,
            )
            for i in ids
        ]
        owners = [np.full(self.segments[i].end - self.segments[i].start, i) for i in ids]
        if not frames:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(frames), np.concatenate(owners)

    def __len__(self) -> int:
        return len(self.train_index[0])

    @property
    def cameras(self) -> list[str]:
        """Camera names (without "observation.images."), in the dataset's order."""
        return [k.removeprefix("observation.images.") for k in self.cache.images]

    def _expert_from(self, episode: int, length: int, first: int = 0) -> int:
        """The first frame from `first` on that the expert drove in a DAgger episode (`length` when it
        never took over).

        A chunk's targets are read off the states that followed (`targets`), so a frame the policy drove
        is labelled partly with the policy's own motion; from the expert's takeover on (it keeps the
        hand with `bcz dagger takeover_steps` longer than an episode) they are the expert's path."""
        column = self.cache.columns.get("intervention")
        if column is None:
            return 0
        start = int(self.cache.episode_starts[episode])
        driven = np.flatnonzero(np.asarray(column[start + first : start + length]).reshape(-1))
        return first + int(driven[0]) if len(driven) else length

    def targets(self, g: np.ndarray, segs: list[Segment]) -> np.ndarray:
        """The K action targets of frames `g` (global) in segments `segs`. Past a segment's end the hand
        holds still where it ended, gripper as it was."""
        starts = self.cache.episode_starts
        ends = np.array([starts[s.episode] + s.end - 1 for s in segs])
        steps = g[:, None] + np.arange(self.chunk)[None, :]
        at = np.minimum(steps, ends[:, None])
        actions = self.cache.columns["action"][at].astype(np.float64)
        if self.actions in POSE_MODES:  # past the end, zero deltas: the hand stays where it ended
            actions[..., :6][steps > ends[:, None]] = 0.0
        if self.relative:  # where the expert sent the hand at t+k, as an offset from the hand at t
            states = self.cache.columns["observation.state"]
            position, quaternion = commanded_pose(np.asarray(states[at], np.float64), actions)
            actions[..., 0:3], actions[..., 3:6] = relative_to(
                position, quaternion, np.asarray(states[g], np.float64)[:, None]
            )
        return actions.astype(np.float32)

    def action_statistics(self, samples: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(K, A) mean and std of the training targets (what the policy normalizes its outputs by);
        computed once per (samples, seed): the offline metrics ask again at every validation."""
        if (samples, seed) not in self._statistics:
            frames, owners = self.train_index
            pick = np.random.default_rng(seed).integers(len(frames), size=min(samples, len(frames)))
            actions = self.targets(frames[pick], [self.segments[o] for o in owners[pick]])
            self._statistics[samples, seed] = (actions.mean(0), actions.std(0))
        return self._statistics[samples, seed]

    def _instruction(self, segment: Segment, rng: np.random.Generator, paraphrase: bool) -> int:
        """One phrasing of the segment's task: in training, a training-only paraphrase with
        `paraphrase_prob` when it has any; else one of its own (the suite's)."""
        if paraphrase and segment.paraphrases and rng.random() < self.paraphrase_prob:
            return segment.paraphrases[rng.integers(len(segment.paraphrases))]
        return segment.instructions[rng.integers(len(segment.instructions))]

    def batch(
        self,
        rng: np.random.Generator,
        size: int,
        split: str = "train",
        rows: slice | np.ndarray = slice(None),
    ) -> dict[str, torch.Tensor]:
        """`size` random frames of a split: uint8 (B, H, W, 3) images per camera, state, instruction
        embedding ("cond"), (B, K, A) targets and each sample's image augmentation (`policy.augment`);
        a train sample may be told a paraphrase. Everything is drawn for all `size` samples and then
        only `rows` of them are read: a data-parallel worker's share of the global batch."""
        frames, owners = self.train_index if split == "train" else self.val_index
        pick = rng.integers(len(frames), size=size)
        segs = [self.segments[o] for o in owners[pick]]
        instruction = np.array([self._instruction(s, rng, split == "train") for s in segs])
        draws = draw_augmentation(rng, size, self.cameras)
        keep = np.arange(size)[rows]
        g, segs, instruction = frames[pick][keep], [segs[i] for i in keep], instruction[keep]
        actions = self.targets(g, segs)
        states = self.cache.columns["observation.state"]
        order = np.argsort(g)  # memory-mapped reads in file order
        images = {}
        for key, array in self.cache.images.items():
            block = np.empty((len(g), *array.shape[1:]), np.uint8)
            block[order] = array[g[order]]
            images[key.removeprefix("observation.images.")] = torch.from_numpy(block)
        return {
            "images": images,
            "state": torch.from_numpy(np.asarray(states[g], dtype=np.float32)),
            "cond": self.embeddings[instruction],
            "actions": torch.from_numpy(actions),
            "augment": {cam: d[torch.from_numpy(keep)] for cam, d in draws.items()},
        }


def batch_to(batch: dict, device: torch.device) -> dict:
    """A batch on `device` (on the CPU, as it is)."""
    if device.type == "cpu":
        return batch
    return {
        k: (
            {c: t.to(device, non_blocking=True) for c, t in v.items()}
            if isinstance(v, dict)
            else v.to(device, non_blocking=True)
        )
        for k, v in batch.items()
    }


def joined_batches(batch: dict, other: dict) -> dict:
    """Two batches as one (the mixed-in dataset's samples after the dataset's own)."""
    return {
        k: (
            {c: torch.cat([v[c], other[k][c]]) for c in v}
            if isinstance(v, dict)
            else torch.cat([v, other[k]])
        )
        for k, v in batch.items()
    }


def config_from_data(pc: PolicyConfig, data: DemoData) -> PolicyConfig:
    """Fill in what the dataset decides: cameras, image size, rate, state and action names, the action
    mode and the gripper channels' levels, into a copy of `pc` (the training config stays as it was)."""
    pc = copy.deepcopy(pc)
    features = data.features
    pc.cameras = [k.removeprefix("observation.images.") for k, f in features.items() if f["dtype"] == "video"]
    shapes = {c: list(features[f"observation.images.{c}"]["shape"][:2]) for c in pc.cameras}
    if not pc.image_size:
        pc.image_size = min(shapes.values(), key=lambda hw: hw[0] * hw[1])
        if any(hw != pc.image_size for hw in shapes.values()):
            log.info(
                "cameras %s are resized to %s (set policy.image_size=[H,W] to choose)", shapes, pc.image_size
            )
    pc.fps = float(data.cache.reader.fps)
    collection = data.cache.reader.root / COLLECTION_PATH
    if collection.is_file():
        setup = json.loads(collection.read_text()).get("cameras", {})
        pc.camera_setup = {c: setup[c] for c in pc.cameras if c in setup}
    pc.state_names = feature_names(features, "observation.state")
    pc.action_names = feature_names(features, "action")
    pc.actions, pc.gripper_levels = data.actions, [list(lv) for lv in data.layout.levels]
    if pc.proprio is None:
        pc.proprio = default_proprio(pc.actions, pc.state_names)
    grippers = [
        f"{pc.action_names[i]} {lo:g}/{hi:g}"
        for i, (lo, hi) in zip(data.layout.grippers, data.layout.levels, strict=True)
    ]
    log.info(
        "actions: %s; gripper channels (open/closed): %s; the network sees state %s",
        pc.actions,
        ", ".join(grippers) or "none",
        pc.proprio,
    )
    return pc
