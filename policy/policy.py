"""The policy: a network plus everything needed to use it, saved as one self-describing directory.

    policy = Policy.from_pretrained("checkpoints/tabletop_vit")   # rebuilds network, config, statistics
    policy.reset()
    action = policy.select_action(robot.get_observation(), "put the red block in the green bowl")

Normalization statistics are buffers of the module, so they live in the weights file beside the
weights. A checkpoint directory holds config.json (architecture, sizes, cameras, encoder, features),
model.safetensors (weights and statistics) and, while training, train_state.pt (optimizer, step, RNG).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from safetensors.torch import load_file, save_file
from torch import nn

from policy.action_layout import POSE_MODES, ActionLayout, check_features, resolve_mode
from policy.augment import augment as augment_images
from policy.chunk_loss import chunk_loss
from policy.execution import ChunkExecutor, RawChunkExecutor, Regrasp
from policy.language import (
    DEFAULT_ENCODER,
    EMBEDDINGS_ENV,
    OneHotTaskEncoder,
    PrecomputedEncoder,
    SentenceEncoder,
    TextEncoder,
)
from policy.legacy import upgrade_config, upgrade_weights
from policy.networks import NETWORKS, ResNetConfig, ViTConfig
from policy.pose import absolute_targets, chained_targets, start_target
from policy.reader import InstructionReader, ReaderConfig, Reading, check_readable
from tasks.colour_words import ColourWords
from tasks.suite import TaskSuite

MIN_STD = 1e-3
EXECUTIONS = ("ensemble", "chunk")


@dataclass
class PolicyConfig:
    """What a policy is and how it acts; saved in its checkpoint's config.json.

    Args, by purpose:
        architecture (arch, vit, resnet, chunk, actions, gripper, proprio, encoder): fixed when training
            starts; a fine-tune keeps the checkpoint's.
        instruction reader (reader): written by `bcz fit-reader`, never trained here.
        execution (execution, replan_every, ensemble_decay, regrasp): how a predicted chunk is run;
            `bcz eval` and `bcz run` may override them without retraining.
        facts from the data (fps, cameras, image_size, camera_setup, state_names, action_names,
            gripper_levels, onehot_tasks, suite): filled in from the training data by
            `policy.data.config_from_data`, and checked whenever the policy meets data or a robot.
    """

    # Architecture
    arch: str = "vit"  # vit | bcz_resnet
    vit: ViTConfig = field(default_factory=ViTConfig)
    resnet: ResNetConfig = field(default_factory=ResNetConfig)
    chunk: int = 10  # actions predicted per step (BC-Z: 10)
    # relative: action k of a chunk is the pose the hand is sent to at step t+k, as an offset from the
    # pose at t (chunk-relative; no error accumulates along the chunk). delta: per-step deltas chained
    # through the chunk (checkpoints from before `actions` existed). raw: the dataset's own actions
    # (any robot). auto: relative on this project's end-effector data, raw otherwise
    # (policy/action_layout.py).
    actions: str = "auto"  # auto | relative | delta | raw
    gripper: list[str] | None = None  # open/closed channels; null: names containing "gripper"; []: none
    # The state channels the network sees. Training fills it in when unset
    # (policy.action_layout.default_proprio):
    # with end-effector pose actions the hand's pose is hidden and the fingers kept, as BC-Z fed no
    # proprioception (a policy that sees its pose can localize by "pixels minus pose" and copy its own
    # motion; see docs/notes/networks.md); with raw actions (joint targets) the whole state. None in a
    # checkpoint (written before this option): all of it.
    proprio: list[str] | None = None
    encoder: str = DEFAULT_ENCODER  # a sentence encoder, a local Hugging Face model dir, or "onehot"
    # Instruction reader
    reader: ReaderConfig | None = None  # written by `bcz fit-reader` (policy/reader.py), never trained here
    # Execution
    # chunk: a receding horizon, run `replan_every` actions of each chunk then re-plan; ensemble: average
    # every chunk covering the step (ACT's temporal ensembling). See docs/notes/execution.md.
    execution: str = "chunk"
    # With execution=chunk: actions of each chunk run before re-planning (see docs/notes/execution.md).
    replan_every: int = 3
    ensemble_decay: float = 1.0  # weight exp(-decay * age) of older chunks' motion for the current step
    # Reopen and lift after a grasp closes on air, this many times per episode (policy.execution.Regrasp).
    regrasp: int = 0
    # Set from the training data (and checked whenever the policy meets data or a robot):
    fps: float = 10.0  # the control rate of the training data: one predicted action per 1/fps s
    cameras: list[str] = field(default_factory=list)  # robot camera names, e.g. ["scene", "wrist"]
    # [height, width] every camera is resized to; empty: the data's size (the smallest camera's when
    # they differ, as on rigs with a large top camera and a small wrist camera).
    image_size: list[int] = field(default_factory=list)
    # Where each camera of the (simulated) training data was: eye, target, up, fov_deg, mount, from the
    # dataset's meta/collection.json; the simulator places its cameras so when it runs this policy.
    camera_setup: dict[str, Any] = field(default_factory=dict)
    state_names: list[str] = field(default_factory=list)
    action_names: list[str] = field(default_factory=list)
    gripper_levels: list[list[float]] = field(default_factory=list)  # (low, high) of each gripper channel
    onehot_tasks: list[str] = field(default_factory=list)  # the task vocabulary of encoder=onehot
    suite: str = "default"  # resolves instructions to tasks for encoder=onehot


def make_encoder(config: PolicyConfig) -> TextEncoder:
    """The instruction encoder a config names: one-hot over its suite's tasks, or a sentence encoder."""
    if config.encoder == "onehot":
        return OneHotTaskEncoder(config.onehot_tasks, TaskSuite.load(config.suite))
    if os.environ.get(EMBEDDINGS_ENV):  # vectors computed elsewhere (a pack on a machine without weights)
        return PrecomputedEncoder(os.environ[EMBEDDINGS_ENV], config.encoder)
    return SentenceEncoder(config.encoder)


class Policy(nn.Module):
    """The network with its config, normalization statistics and instruction encoder; `act` drives a robot."""

    def __init__(self, config: PolicyConfig, cond_dim: int) -> None:
        super().__init__()
        if config.arch not in NETWORKS:
            raise ValueError(f"policy.arch={config.arch!r}; valid: {', '.join(NETWORKS)}")
        if config.execution not in EXECUTIONS:
            raise ValueError(f"policy.execution={config.execution!r}; valid: {', '.join(EXECUTIONS)}")
        actions = resolve_mode(config.actions, config.state_names, config.action_names)
        config = dataclasses.replace(config, actions=actions)  # a copy: the caller's config stays as it was
        self.layout = ActionLayout.of(config.action_names, config.gripper, config.gripper_levels)
        self.config = config
        self.cond_dim = cond_dim
        arch_cfg = config.vit if config.arch == "vit" else config.resnet
        n_state, n_action = len(config.state_names), len(config.action_names)
        self.reader = None  # reads instructions for the network (policy/reader.py); None: the sentence vector
        if config.reader is not None:
            check_readable(config.encoder)
            self.reader = InstructionReader(config.reader, cond_dim)
        self._reading: Reading | None = None
        self._embed_lock = threading.Lock()  # the loop, the prompt and the page may all ask at once
        self.net = NETWORKS[config.arch](arch_cfg, config.cameras, n_state, cond_dim, n_action, config.chunk)
        n_cam = len(config.cameras)
        self.register_buffer("image_mean", torch.full((n_cam, 3, 1, 1), 0.5))
        self.register_buffer("image_std", torch.full((n_cam, 3, 1, 1), 0.25))
        self.register_buffer("state_mean", torch.zeros(n_state))
        self.register_buffer("state_std", torch.ones(n_state))
        unknown = [n for n in config.proprio or [] if n not in config.state_names]
        if unknown:
            raise ValueError(
                f"policy.proprio names {unknown}, not state channels; the state has {config.state_names}"
            )
        seen = [config.proprio is None or n in config.proprio for n in config.state_names]
        self.register_buffer("state_seen", torch.tensor(seen, dtype=torch.float32), persistent=False)
        # (K, A): every chunk step has its own statistics (offsets further ahead spread wider)
        self.register_buffer("action_mean", torch.zeros(config.chunk, n_action))
        self.register_buffer("action_std", torch.ones(config.chunk, n_action))
        self._encoder: TextEncoder | None = None
        self.meta: dict = {}  # what from_pretrained read from config.json (dataset, training time, ...)
        self.reset()

    # ------------------------------------------------------------------ statistics and features
    def set_statistics(self, stats: dict, actions: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Normalization from a dataset's meta/stats.json (already loaded as arrays); `actions`, the
        (K, A) mean and std of the training targets, replaces the per-step action statistics."""
        for i, cam in enumerate(self.config.cameras):
            s = stats[f"observation.images.{cam}"]
            self.image_mean[i] = torch.as_tensor(s["mean"], dtype=torch.float32).view(3, 1, 1)
            self.image_std[i] = (
                torch.as_tensor(s["std"], dtype=torch.float32).view(3, 1, 1).clamp(min=MIN_STD)
            )
        self.state_mean.copy_(torch.as_tensor(stats["observation.state"]["mean"], dtype=torch.float32))
        self.state_std.copy_(
            torch.as_tensor(stats["observation.state"]["std"], dtype=torch.float32).clamp(min=MIN_STD)
        )
        mean, std = actions if actions is not None else (stats["action"]["mean"], stats["action"]["std"])
        self.action_mean.copy_(
            torch.as_tensor(np.asarray(mean), dtype=torch.float32).expand_as(self.action_mean)
        )
        self.action_std.copy_(
            torch.as_tensor(np.asarray(std), dtype=torch.float32)
            .expand_as(self.action_std)
            .clamp(min=MIN_STD)
        )
        grippers = list(self.layout.grippers)
        self.action_mean[:, grippers], self.action_std[:, grippers] = 0.0, 1.0  # a gripper is a logit

    def check_features(self, features: dict, what: str) -> None:
        """Raise FeatureMismatchError naming every difference between this policy and dataset `features`."""
        check_features(
            self.config.cameras,
            self.config.image_size,
            self.config.state_names,
            self.config.action_names,
            features,
            what,
        )

    # ------------------------------------------------------------------ language
    @property
    def encoder(self) -> TextEncoder:
        """The instruction encoder, built on first use (loading a sentence model is slow)."""
        if self._encoder is None:
            self._encoder = make_encoder(self.config)
        return self._encoder

    def embed(self, instructions: list[str]) -> torch.Tensor:
        """The task vectors the network reads for `instructions`: through the reader when there is one,
        their colour words said as its suite's colours first (`tasks.colour_words`: "crimson" is red)."""
        device = self.state_mean.device
        with self._embed_lock:
            if self.reader is None:
                return torch.as_tensor(self.encoder.encode(instructions), device=device)
            if self._reading is None:
                self._reading = Reading(self.reader, self.config.encoder, self.encoder.encode)
            return self._reading([self.colour_words.rewrite(text).text for text in instructions], device)

    @functools.cached_property
    def colour_words(self) -> ColourWords:
        """Other words for the colours of the suite its reader reads (the policy's suite without one)."""
        suite = self.config.reader.suite if self.config.reader and self.config.reader.suite else None
        return ColourWords.of_suite(TaskSuite.load(suite or self.config.suite).config)

    def set_reader(self, reader: InstructionReader | None, config: ReaderConfig | None) -> None:
        """Read instructions through `reader` (None: the plain sentence vector; fine-tuning drops it, as it
        was fit to one suite's tasks and fine-tuning may teach others: refit it with `bcz fit-reader`)."""
        self.reader, self.config.reader, self._reading = reader, config, None
        self.__dict__.pop("colour_words", None)  # its suite may have changed

    # ------------------------------------------------------------------ network
    def _inputs(self, images: dict[str, torch.Tensor], state: torch.Tensor) -> tuple[dict, torch.Tensor]:
        """uint8 (B, H, W, 3) images and raw state -> normalized network inputs."""
        x = {}
        size = tuple(self.config.image_size)
        for i, cam in enumerate(self.config.cameras):
            img = images[cam].permute(0, 3, 1, 2).float().div_(255.0)
            if img.shape[-2:] != size:  # a camera of another size (real rigs mix them): the input size
                img = F.interpolate(img, size=size, mode="bilinear", antialias=True, align_corners=False)
            x[cam] = (img - self.image_mean[i]) / self.image_std[i]
        return x, (state - self.state_mean) / self.state_std * self.state_seen

    def forward(self, batch: dict, augment: bool = False) -> tuple[torch.Tensor, dict[str, float]]:
        """The training loss of a batch ("images", "state", "cond", "actions"; LeRobot's
        `forward(batch) -> (loss, loss_dict)`): `policy.chunk_loss`, Huber on the continuous channels and
        cross-entropy on each gripper, with its parts for the logs. `augment`: the images augmented as the
        batch's "augment" draws say (`policy.augment`)."""
        actions = batch["actions"]
        x, s = self._inputs(batch["images"], batch["state"])
        if augment:
            x = augment_images(x, batch["augment"])
        chunk = self.net(x, s, batch["cond"])
        layout = self.layout
        closed = [layout.closed(actions, g) for g in range(len(layout.grippers))]
        closed = torch.stack(closed, -1) if closed else actions[..., :0].bool()
        target = (actions - self.action_mean) / self.action_std
        return chunk_loss(chunk, target, closed, layout.continuous, list(layout.grippers))

    @torch.no_grad()
    def predict_chunk(
        self, images: dict[str, torch.Tensor], state: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        """(B, K, A) actions in robot units; a gripper channel is one of its two levels."""
        x, s = self._inputs(images, state)
        out = self.net(x, s, cond)
        actions = out * self.action_std + self.action_mean
        for g, (low, high) in zip(self.layout.grippers, self.layout.levels, strict=True):
            actions[..., g] = torch.where(out[..., g] > 0, high, low)
        return actions

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def plan(self, observation: dict[str, np.ndarray], instruction: str) -> np.ndarray:
        """The next `chunk` steps, one per policy step (`config.fps`), for a robot observation: absolute
        targets (K, 8: position, quaternion, gripper) that `policy.execution.ChunkExecutor` turns into
        actions, or with `actions=raw` the (K, A) actions themselves."""
        device = self.state_mean.device
        images = {c: torch.as_tensor(observation[c], device=device).unsqueeze(0) for c in self.config.cameras}
        state = torch.as_tensor(observation["state"], dtype=torch.float32, device=device).unsqueeze(0)
        chunk = self.predict_chunk(images, state, self._embedding(instruction))[0].cpu().numpy()
        if self.config.actions == "raw":
            return chunk.astype(np.float64)
        origin = np.asarray(observation["state"], dtype=np.float64)
        to_targets = absolute_targets if self.config.actions == "relative" else chained_targets
        return to_targets(chunk.astype(np.float64), origin)

    def _embedding(self, instruction: str) -> torch.Tensor:
        """The instruction's embedding, kept until the instruction changes. One tuple, read and replaced
        whole, so a `reset` from another thread (the control loop's) never leaves a half-updated pair."""
        cached = self._embedded
        if cached is None or cached[0] != instruction:
            cached = (instruction, self.embed([instruction]))
            self._embedded = cached
        return cached[1]

    def reset(self) -> None:
        """Forget the chunks of the previous episode (call at every episode start)."""
        cfg = self.config
        execution = "first" if cfg.execution == "chunk" else "ensemble"
        if cfg.actions in POSE_MODES:
            self._executor = ChunkExecutor(
                execution, cfg.ensemble_decay, substeps=1, chunk=cfg.chunk, regrasp=Regrasp(cfg.regrasp)
            )
        else:
            self._executor = RawChunkExecutor(execution, cfg.ensemble_decay, cfg.chunk, self.layout.grippers)
        self._step = 0
        self._embedded: tuple[str, torch.Tensor] | None = None

    def drop_plans(self) -> None:
        """Forget the planned chunks (someone else moved the arm): the next action is planned afresh."""
        self._executor.clear()

    @torch.no_grad()
    def select_action(self, observation: dict[str, np.ndarray], instruction: str) -> np.ndarray:
        """One action for a robot observation ({"state": ..., camera: HxWx3 uint8}) and an instruction:
        plan (every step when ensembling, every `replan_every` steps otherwise), then aim at the
        executed target from the current pose (a delta action), or with `actions=raw` take the row."""
        if self._embedded is None or instruction != self._embedded[0]:  # new instruction: old plans dropped
            self.drop_plans()
        last = self._executor.last_planned
        due = (
            last is None
            or self.config.execution == "ensemble"
            or self._step - last >= self.config.replan_every
        )
        if due and not self._executor.recovering(self._step):
            start = (
                start_target(np.asarray(observation["state"], dtype=np.float64))
                if self.config.actions in POSE_MODES
                else None
            )
            self._executor.add(self._step, self.plan(observation, instruction), start)
        action = self._executor.action(self._step, np.asarray(observation["state"], dtype=np.float64))
        self._step += 1
        return action

    # ------------------------------------------------------------------ saving and loading
    def save_pretrained(self, path: str | Path, extra: dict | None = None) -> Path:
        """Write the checkpoint directory atomically (a temp directory renamed into place)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        meta = {
            "format": "bcz-policy/1",
            "cond_dim": self.cond_dim,
            "policy": OmegaConf.to_container(OmegaConf.structured(self.config)),
            **(extra or {}),
        }
        (tmp / "config.json").write_text(json.dumps(meta, indent=2))
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()},
            tmp / "model.safetensors",
        )
        old = path.with_name(f".{path.name}.old")
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
        return path

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu") -> Policy:
        """Rebuild a policy saved by `save_pretrained` (older checkpoints are upgraded), in eval mode."""
        path = Path(path)
        config_file = path / "config.json"
        if not config_file.is_file():
            raise FileNotFoundError(f"{path} is not a policy checkpoint: {config_file} is missing")
        meta = json.loads(config_file.read_text())
        stored = upgrade_config(meta["policy"], path)  # older checkpoints: policy/legacy.py
        config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(PolicyConfig), stored))
        try:
            policy = cls(config, meta["cond_dim"])
        except ValueError as error:  # e.g. delta actions on another robot's data, from before `raw` existed
            raise ValueError(f"{path} cannot be rebuilt: {error}; retrain it") from None
        policy.load_state_dict(upgrade_weights(load_file(path / "model.safetensors"), policy.state_dict()))
        policy.meta = meta
        return policy.to(device).eval()
