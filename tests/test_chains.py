"""Chains of instructions in one scene: which task may follow, experts carrying on from any state,
chained demonstrations in the dataset and their relabels, and the chain evaluation's arithmetic."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from data_collection.collect import CollectConfig, check_same_kind
from data_collection.dataset import DatasetReader
from data_collection.episode import encode_episode
from data_collection.layout import COLLECTION_PATH, tabletop_features
from data_collection.relabel import relabel_episodes
from data_collection.rollout import play_chain
from data_collection.video_codec import VideoConfig
from data_collection.writer import DatasetWriter
from evaluation.chains import ChainResult, summarize
from sim.chain import Chain, can_follow
from sim.env import TabletopEnv
from sim.env_config import EnvConfig
from sim.objects import KINDS
from sim.predicates import held, on_table
from sim.state import ObjectState, SceneState
from tasks.suite import TaskSpec
from tests.conftest import blind_config

WORKSPACE = (np.array([0.32, -0.25]), np.array([0.68, 0.25]))
UPRIGHT = np.array([0.0, 0.0, 0.0, 1.0])
LYING = np.array([np.sin(np.pi / 4), 0.0, 0.0, np.cos(np.pi / 4)])  # 90 degrees about x


def scene(objects: dict[str, tuple[float, float, float]], orientation: dict | None = None) -> SceneState:
    """Objects resting at (x, y, height of the surface under them), the hand high and open."""
    out = {}
    for name, (x, y, floor) in objects.items():
        colour, kind = name.split("_")
        quat = (orientation or {}).get(name, UPRIGHT)
        out[name] = ObjectState(name, kind, colour, np.array([x, y, floor + KINDS[kind].rest_z]), quat)
    return SceneState(out, np.array([0.4, 0.0, 0.3]), np.array([1.0, 0, 0, 0]), 0.08)


def test_a_task_follows_only_where_the_expert_can_do_it(suite):
    block = KINDS["block"].height
    state = scene(
        {
            "red_block": (0.45, -0.12, block),  # stacked on the green block
            "green_block": (0.45, -0.12, 0.0),
            "blue_block": (0.60, 0.15, 0.0),
            "green_bowl": (0.40, 0.15, 0.0),
            "red_bottle": (0.62, -0.05, 0.0),
        }
    )
    follows = lambda task: can_follow(suite.resolve(task), state, WORKSPACE)  # noqa: E731
    assert follows("pick_up/red_block")  # the top of a stack can be taken off
    assert not follows("pick_up/green_block")  # something rests on it
    assert not follows("stack_on/blue_block/red_block")  # a base that is itself stacked
    assert not follows("stack_on/red_block/green_block")  # already done
    assert follows("put_in/blue_block/green_bowl")
    assert not follows("push_to/red_block/green_bowl")  # a push slides what stands on the table
    assert follows("knock_over/red_bottle")

    fallen = scene({"red_bottle": (0.62, -0.05, 0.0), "blue_block": (0.45, 0.1, 0.0)}, {"red_bottle": LYING})
    assert not can_follow(suite.resolve("knock_over/red_bottle"), fallen, WORKSPACE)  # done already
    assert not can_follow(suite.resolve("place_left_of/blue_block/red_bottle"), fallen, WORKSPACE)


def test_expert_sets_down_what_it_holds_before_the_next_grasp(suite):
    env = TabletopEnv(blind_config(object_set=True), suite=suite, split="all")
    try:
        env.reset(seed=3, options={"task": "pick_up/red_block", "include": ["blue_block"]})
        for task in ("pick_up/red_block", "pick_up/blue_block"):
            _, info = env.switch_task(task)
            assert not info["success"] and env.steps == 0
            expert = env.expert()
            while True:
                _, _, terminated, truncated, info = env.step(expert.act(env.scene_state()))
                if terminated or truncated:
                    break
            assert info["success"], (task, expert.phase)
        state = env.scene_state()
        red = state["red_block"]
        assert on_table(red) and not held(red, state)  # set down on the table, let go
    finally:
        env.close()


@pytest.fixture(scope="module")
def chain_dataset(tmp_path_factory, suite):
    """Two expert chains of up to 3 instructions at 32x32, written as two episodes."""
    config = EnvConfig()
    for cam in config.robot.cameras.values():
        cam.width = cam.height = 32
    env = TabletopEnv(config, suite=suite, split="train")
    root = tmp_path_factory.mktemp("chains") / "ds"
    features = tabletop_features(
        env.arm.observation_features, env.arm.action_features["action"], VideoConfig(), 10
    )
    writer = DatasetWriter(root, features, 10, env.arm.name)
    for job, first in enumerate(["put_in/red_block/green_bowl", "pick_up/blue_block"]):
        episode = play_chain(env, first, 500 + job, 3, "train", dart=0.003, job=job)
        writer.add(encode_episode(episode, 10, VideoConfig()))
    env.close()
    return root


def test_chained_demonstrations_carry_an_instruction_per_frame(chain_dataset):
    reader = DatasetReader(chain_dataset)
    for i in range(reader.num_episodes):
        segments = reader.info_of(i)["segments"]
        assert len(segments) >= 2 and segments[0]["start"] == 0
        assert all(a["end"] == b["start"] for a, b in itertools.pairwise(segments))
        assert segments[-1]["end"] == reader.episodes[i]["length"]
        frames = reader.frames(i)
        said = [reader.tasks[k] for k in frames["task_index"]]
        for seg in segments:  # LeRobot's per-frame task_index names each frame's own instruction
            assert set(said[seg["start"] : seg["end"]]) == {seg["instruction"]}
        assert reader.episodes[i]["tasks"] == list(dict.fromkeys(s["instruction"] for s in segments))
        state = frames["observation.state"]
        for a, b in itertools.pairwise(segments):  # the next starts where the last one held
            np.testing.assert_allclose(state[a["end"] - 1], state[b["start"]])


def test_chains_are_relabelled_instruction_by_instruction(chain_dataset, suite):
    reader = DatasetReader(chain_dataset)
    episodes = [
        {"index": i, "length": reader.episodes[i]["length"], **reader.info_of(i)}
        for i in range(reader.num_episodes)
    ]
    rows = relabel_episodes(str(chain_dataset), episodes, suite, "train", 2, 0)
    for ep in episodes:
        mine = [r for r in rows if r["episode_index"] == ep["index"]]
        originals = [(r["start_frame"], r["end_frame"], r["task"]) for r in mine if r["original"]]
        assert originals == [(s["start"], s["end"], s["task"]) for s in ep["segments"]]
        for r in mine:  # every hindsight label starts where an instruction started and ends inside it
            seg = next(s for s in ep["segments"] if s["start"] == r["start_frame"])
            assert r["start_frame"] < r["end_frame"] <= seg["end"]
    put_in = next(e for e in episodes if e["task"].startswith("put_in"))
    assert any(
        r["task"] == "pick_up/red_block" and not r["original"]
        for r in rows
        if r["episode_index"] == put_in["index"]
    )


def test_training_reads_each_instruction_of_a_chain_as_a_segment(chain_dataset):
    from policy.data import DemoData
    from policy.language import SentenceEncoder

    data = DemoData(str(chain_dataset), SentenceEncoder(), chunk=4, val_fraction=0, progress=False)
    reader = DatasetReader(chain_dataset)
    done = [
        (i, s["start"], s["end"]) for i in range(2) for s in reader.info_of(i)["segments"] if s["success"]
    ]
    assert sorted((s.episode, s.start, s.end) for s in data.segments) == sorted(done)
    batch = data.batch(np.random.default_rng(0), 8)
    assert batch["actions"].shape == (8, 4, 7)


def test_a_resumed_collection_keeps_its_kind(tmp_path):
    (tmp_path / COLLECTION_PATH).parent.mkdir(parents=True)
    (tmp_path / COLLECTION_PATH).write_text(json.dumps({"chain": 0}))
    check_same_kind(tmp_path, 0)
    with pytest.raises(ValueError, match="chain=0, not chain=5"):
        check_same_kind(tmp_path, 5)
    with pytest.raises(ValueError, match="chain draws each next task from the split"):
        CollectConfig(chain=5, tasks=["pick_up/*"])


def test_chain_summary_counts_instructions_in_a_row():
    def result(outcomes, exhausted=False):
        tasks = ["pick_up/red_block"] * len(outcomes)
        return ChainResult("train", 0, tasks, [], outcomes, [10] * len(outcomes), exhausted)

    results = [
        result([True] * 5),
        result([True, False]),
        result([False]),
        result([True, True], exhausted=True),
    ]
    s = summarize(results, 5)["train"]
    assert s["in_a_row"] == [0.75, 0.5, 0.25, 0.25, 0.25]
    assert s["average_length"] == pytest.approx((5 + 1 + 0 + 2) / 4)
    assert s["standard_error"] == pytest.approx(np.std([5, 1, 0, 2], ddof=1) / 2)
    assert s["given_previous"][1] == {"success": 0.75, "n": 4}
    assert s["given_previous"][2] == {"success": 2 / 3, "n": 3}
    assert s["exhausted"] == 1


def test_same_seed_same_chain(suite):
    env = TabletopEnv(blind_config(object_poses=True, object_set=True), suite=suite, split="all")
    try:
        drawn = []
        for _ in range(2):
            chain = Chain(env, 42, 3, "train")
            for _task in chain:
                chain.report(True)  # pretend success: the next is drawn from the same (unchanged) scene
            drawn.append([t.id for t in chain.tasks])
        assert drawn[0] == drawn[1] and len(set(drawn[0])) == len(drawn[0])
        assert all(isinstance(t, TaskSpec) for t in chain.tasks)
    finally:
        env.close()


def test_dagger_chains_label_every_instruction_the_policy_drives(tiny_checkpoint, suite):
    """The policy drives a chain, the expert labels it and takes over when it strays; every instruction
    of the chain, done or not, becomes a training segment (its labels are right either way)."""
    from evaluation.dagger import Takeover, play_policy_chain
    from evaluation.rollouts import env_config_for
    from policy.policy import Policy

    policy = Policy.from_pretrained(tiny_checkpoint)
    config = env_config_for(policy)  # its cameras, every randomization on
    config.max_steps = 60
    env = TabletopEnv(config, suite=suite, split="train")
    try:
        episode = play_policy_chain(env, policy, "pick_up/red_block", 7, 2, Takeover(0.02, 1, 200), job=0)
    finally:
        env.close()
    segments = episode.info.segments
    assert episode.info.source == "policy" and segments[0]["task"] == "pick_up/red_block"
    assert segments[-1]["end"] == len(episode) and episode.columns["intervention"].any()
    assert episode.said[0] == segments[0]["instruction"] and len(episode.said) == len(episode)


def test_chain_scenes_fit_the_recorded_object_slots(suite):
    from data_collection.layout import ENV_STATE_SLOTS

    env = TabletopEnv(blind_config(object_poses=True, object_set=True), suite=suite, split="all")
    try:
        for seed in range(6):
            chain = Chain(env, seed, 1, "held_out")
            for _task in chain:
                assert len(env.scene.bodies) <= ENV_STATE_SLOTS
                chain.report(False)
    finally:
        env.close()


def test_collect_and_evaluate_chains_on_ray(local_ray, tmp_path, tiny_checkpoint):
    from data_collection.check import check
    from data_collection.collect import collect
    from evaluation.evaluate import EvalConfig, evaluate

    cfg = CollectConfig(output=str(tmp_path / "ds"), episodes=2, workers=2, chain=2)
    for cam in cfg.env.robot.cameras.values():
        cam.width = cam.height = 32
    result = collect(cfg)
    assert len(result.committed) == 2 and check(tmp_path / "ds").ok  # a valid LeRobot v3 dataset
    reader = DatasetReader(tmp_path / "ds")
    assert all(reader.info_of(i)["segments"] for i in range(2))
    assert json.loads((tmp_path / "ds" / COLLECTION_PATH).read_text())["chain"] == 2

    eval_cfg = EvalConfig(
        checkpoint=tiny_checkpoint, chains=2, num_chains=2, splits=["train"], workers=2, videos=1
    )
    eval_cfg.env.max_steps = 5
    summary = evaluate(eval_cfg, tmp_path / "eval")
    saved = json.loads((tmp_path / "eval" / "chains.json").read_text())
    assert saved["splits"]["train"]["chains"] == 2 and len(saved["chains_detail"]) == 2
    assert summary["splits"]["train"]["in_a_row"][0] == saved["splits"]["train"]["in_a_row"][0]
    assert len(saved["videos"]) == 1
