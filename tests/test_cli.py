"""`bcz` end to end in a subprocess, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2


def bcz(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DISPLAY": ""}  # headless, whatever the developer's machine has
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def test_demo_writes_a_video_of_a_successful_episode(tmp_path):
    out = bcz(
        "demo",
        "task=put the red block in the green bowl",
        "seed=2",
        f"output_dir={tmp_path}",
        f"hydra.run.dir={tmp_path}",
    )
    assert out.returncode == 0, out.stderr
    video = tmp_path / "episode_000.mp4"
    assert f"video written to {video}" in out.stdout
    assert "True" in out.stdout  # the summary table's success column
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) > 10
    ok, frame = cap.read()
    assert ok and frame.shape[0] == 240
    assert not list(tmp_path.glob(".*partial*"))


def test_usage_and_unknown_verb():
    assert "verbs:" in bcz().stdout
    out = bcz("fly")
    assert out.returncode == 2 and "unknown verb 'fly'" in out.stderr and "demo" in out.stderr


def test_unknown_task_is_one_line_listing_valid_names(tmp_path):
    out = bcz("demo", "task=juggle/red_block", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: unknown skill 'juggle'; valid skills:")
    assert "Traceback" not in out.stderr


def test_bad_config_key_and_value_are_named_by_hydra(tmp_path):
    out = bcz("demo", "env.robot.speed=3", f"hydra.run.dir={tmp_path}")
    assert out.returncode != 0 and "Key 'speed' not in 'PandaConfig'" in out.stderr
    out = bcz("demo", "env.robot.control_hz=fast", f"hydra.run.dir={tmp_path}")
    assert out.returncode != 0 and "env.robot.control_hz" in out.stderr


def test_tasks_lists_the_split():
    out = bcz("tasks", "split=held_out")
    assert out.returncode == 0, out.stderr
    assert "held_out" in out.stdout and "total" in out.stdout


def test_data_verbs_fail_in_one_line(tmp_path):
    out = bcz("dataset", "check", str(tmp_path / "nowhere"))
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith("error: no dataset at")
    out = bcz(
        "collect",
        "episodes=1",
        f"output={tmp_path / 'ds'}",
        "ray.address=127.0.0.1:1",
        f"hydra.run.dir={tmp_path}",
    )
    assert out.returncode == 2 and "error: Ray address 127.0.0.1:1 is unreachable" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "ds").exists()  # nothing half-made left behind
    out = bcz("relabel", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2 and "usage: bcz relabel dataset=PATH" in out.stderr
