"""`bcz collect` on a real local Ray: exact episode counts, a killed worker, resume, bad addresses."""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pytest

from data_collection.check import check
from data_collection.cluster import ClusterError, RayConfig, connect
from data_collection.collect import CollectConfig, collect, plan_task, select_tasks
from data_collection.dataset import DatasetError, DatasetReader
from data_collection.rollout import play_expert
from sim.env import TabletopEnv
from tasks.suite import TaskSuite, UnknownTaskError


def small(output, episodes: int, **kw) -> CollectConfig:
    cfg = CollectConfig(output=str(output), episodes=episodes, workers=2, **kw)
    for cam in cfg.env.robot.cameras.values():
        cam.width = cam.height = 32
    return cfg


def jobs_of(root) -> list[int]:
    r = DatasetReader(root)
    return sorted(r.info_of(i)["job"] for i in range(r.num_episodes))


def test_collects_exactly_the_requested_episodes(local_ray, tmp_path):
    result = collect(small(tmp_path / "ds", 6))
    assert len(result.committed) == 6
    assert jobs_of(tmp_path / "ds") == list(range(6))
    assert check(tmp_path / "ds").ok
    r = DatasetReader(tmp_path / "ds")
    info = r.info_of(0)
    assert info["source"] == "expert" and info["task"] and isinstance(info["success"], bool)
    assert r.frames(0)["observation.environment_state"].shape[1] == 56


def test_interrupted_collection_says_it_is_partial(local_ray, tmp_path):
    def interrupt(index, pids):
        if index == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        collect(small(tmp_path / "ds", 6), on_commit=interrupt)
    marker = json.loads((tmp_path / "ds" / "meta" / "collection.json").read_text())
    assert not marker["complete"] and marker["requested_episodes"] == 6
    scene = small(tmp_path / "x", 1).env.robot.cameras["scene"]
    assert marker["cameras"]["scene"] == {
        "eye": scene.eye,
        "target": scene.target,
        "up": scene.up,
        "fov_deg": scene.fov_deg,
        "mount": scene.mount,
    }  # where the cameras were, so a policy trained on it is run with the same views
    assert DatasetReader(tmp_path / "ds").num_episodes == 2
    result = collect(small(tmp_path / "ds", 6, resume=True))
    assert len(result.committed) == 4 and jobs_of(tmp_path / "ds") == list(range(6))
    assert json.loads((tmp_path / "ds" / "meta" / "collection.json").read_text())["complete"]


def test_killed_worker_is_restarted_and_its_episode_retried(local_ray, tmp_path, capfd, caplog):
    killed = []

    def kill_one_worker(index, pids):
        if not killed:
            killed.append(pids[0])
            os.kill(pids[0], signal.SIGKILL)

    result = collect(small(tmp_path / "ds", 8), on_commit=kill_one_worker)
    assert killed and len(result.committed) == 8
    assert jobs_of(tmp_path / "ds") == list(range(8))  # no duplicates, no gaps
    assert check(tmp_path / "ds").ok
    # Ray's report of the death arrives on its own thread: one line of ours, none of the raylet's
    deadline = time.time() + 15
    while "a Ray worker died" not in caplog.text and time.time() < deadline:
        time.sleep(0.2)
    assert caplog.text.count("a Ray worker died; its episode is retried") == 1
    assert "(raylet)" not in capfd.readouterr().out


def test_resume_collects_only_the_missing_jobs(local_ray, tmp_path):
    collect(small(tmp_path / "ds", 3))
    marker = json.loads((tmp_path / "ds" / "meta" / "collection.json").read_text())
    assert marker["complete"] and marker["requested_episodes"] == 3
    with pytest.raises(DatasetError, match="resume"):
        collect(small(tmp_path / "ds", 5))
    result = collect(small(tmp_path / "ds", 5, resume=True))
    assert len(result.committed) == 2 and jobs_of(tmp_path / "ds") == list(range(5))
    again = collect(small(tmp_path / "ds", 5, resume=True))
    assert again.committed == []


def test_jobs_are_deterministic_and_balanced():
    tasks = TaskSuite.load().tasks("train")
    first = [plan_task(tasks, 0, j) for j in range(len(tasks))]
    assert sorted(first) == sorted(tasks)  # every task once per pass
    assert first == [plan_task(tasks, 0, j) for j in range(len(tasks))]


def test_unreachable_ray_address_fails_fast_with_one_line():
    start = time.perf_counter()
    with pytest.raises(ClusterError, match=r"Ray address 127\.0\.0\.1:1 is unreachable"):
        connect(RayConfig(address="127.0.0.1:1"), workers=1)
    assert time.perf_counter() - start < 10
    with pytest.raises(ClusterError, match="not HOST:PORT"):
        connect(RayConfig(address="nonsense"), workers=1)


def test_swapped_roles_are_demonstrated_in_the_scene_of_the_original_job(local_ray, tmp_path, suite):
    cfg = small(tmp_path / "swap", 12, tasks=["stack_on/*"], swap_roles=True)
    result = collect(cfg)
    tasks = [
        t for t in suite.match(["stack_on/*"]) if suite.split_of(t) == "train"
    ]  # tasks= takes the split's
    r = DatasetReader(tmp_path / "swap")
    infos = {r.info_of(i)["job"]: {**r.info_of(i), "index": i} for i in range(r.num_episodes)}
    assert len(result.committed) == len(infos) > 0 and all(i["success"] for i in infos.values())
    for j in range(12):  # every job whose swapped task is a train task, with the roles swapped
        own = plan_task(tasks, cfg.seed, j)
        swapped = suite.resolve(f"stack_on/{own.reference.name}/{own.target.name}")
        assert (j in infos) == (suite.split_of(swapped) == "train")
        assert j not in infos or infos[j]["task"] == swapped.id
    job = min(infos)
    env = TabletopEnv(cfg.env, split="all")
    original = play_expert(env, plan_task(tasks, cfg.seed, job).id, cfg.seed + job)
    env.close()
    first = r.frames(infos[job]["index"])
    np.testing.assert_allclose(  # the same scene: the same objects where the original episode had them
        first["observation.environment_state"][0],
        original.columns["observation.environment_state"][0],
        atol=1e-6,
    )


def test_tasks_are_taken_from_the_split_and_a_held_out_one_only_when_asked():

    suite = TaskSuite.load("default")
    assert {suite.split_of(t) for t in select_tasks(suite, CollectConfig(tasks=["stack_on/*"]))} == {"train"}
    held = select_tasks(suite, CollectConfig(tasks=["stack_on/*"], split="held_out"))
    assert held and {suite.split_of(t) for t in held} == {"held_out"}
    with pytest.raises(UnknownTaskError, match=r"match no train task.*pass split=held_out or split=all"):
        select_tasks(suite, CollectConfig(tasks=["pick_up/orange_block"]))
