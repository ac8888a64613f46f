"""`bcz` end to end in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import socket
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


def test_bad_config_keys_and_values_are_named(tmp_path):
    for key in ("env.robot.speed=3", "+env.robot.speed=3", "++env.robot.speed=3"):  # added or not
        out = bcz("demo", key, f"hydra.run.dir={tmp_path}")
        assert out.returncode == 2, key
        assert "no 'speed' under env.robot; valid keys: control_hz, physics_hz" in out.stderr, key
    out = bcz("run", "+web_tokn=abc", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2 and "no 'web_tokn' for bcz run; valid keys: robot" in out.stderr
    out = bcz("demo", "env.robot.control_hz=fast", f"hydra.run.dir={tmp_path}")
    assert out.returncode != 0 and "env.robot.control_hz" in out.stderr
    for bad, error in (
        ("episodes=-1", "episodes=-1: must be at least 1"),
        ("loop.control_hz=-3", "control_hz=-3.0: must be greater than 0"),
        ("sim.gui=true", "use gui=false"),
    ):
        verb = "demo" if bad.startswith("episodes") else "run"
        out = bcz(verb, bad, "duration=1", f"hydra.run.dir={tmp_path}") if verb == "run" else bcz(verb, bad)
        assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith("error: "), bad
        assert error in out.stderr, (bad, out.stderr[-500:])


def test_each_verb_lists_its_own_keys():
    out = bcz("train", "--help")
    assert out.returncode == 0
    first = out.stdout.splitlines()[0]
    assert first.startswith("bcz train: keys")
    assert "max_minutes" in out.stdout and "training-time budget" in out.stdout  # the field's comment
    assert "policy " in out.stdout and "bcz train --help policy" in out.stdout
    out = bcz("run", "--help", "loop")
    assert out.returncode == 0 and "loop.control_hz" in out.stdout and "web_token" not in out.stdout
    out = bcz("run", "--help", "lop")
    assert out.returncode == 2 and "valid keys: robot" in out.stderr


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


def test_train_eval_and_run_from_the_command_line(tiny_dataset, tiny_checkpoint, tmp_path):
    from tests.conftest import TINY_VIT

    tiny = [f"{k}={v}".replace(" ", "") for k, v in TINY_VIT.items()]
    out = bcz(
        "train",
        f"dataset={tiny_dataset}",
        "max_minutes=null",
        "max_steps=12",
        "batch_size=8",
        "rollouts.every_minutes=0",
        f"output_dir={tmp_path / 'run'}",
        f"hydra.run.dir={tmp_path}",
        *tiny,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoints" / "final" / "model.safetensors").is_file()
    assert "training done" in out.stdout

    out = bcz(
        "eval",
        f"checkpoint={tiny_checkpoint}",
        "tasks=[pick_up/*_block]",
        "episodes_per_task=1",
        "workers=1",
        "videos=1",
        "env.max_steps=8",
        f"output_dir={tmp_path / 'eval'}",
        f"hydra.run.dir={tmp_path}",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert result["episodes"] == 6 and "train" in result["success"] and len(result["videos"]) == 1
    for e in result["episodes_detail"]:  # how far a grasp was from the object, once there was one
        assert (e["grasp_miss"] is None) == (e["first_grasp"] is None)
    banners = ("pybullet build time", "Token authentication is enabled")  # PyBullet's and Ray's
    assert not any(b in out.stdout + out.stderr for b in banners)

    out = bcz(
        "run",
        f"checkpoint={tiny_checkpoint}",
        "instruction=pick up the red block",
        "duration=2",
        "sim.seed=0",
        f"hydra.run.dir={tmp_path}",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "live figures" in out.stdout and "rate_hz" in out.stdout


def test_run_and_finetune_refuse_clearly(tiny_checkpoint, tmp_path):
    out = bcz(
        "run", f"checkpoint={tiny_checkpoint}", f"hydra.run.dir={tmp_path}"
    )  # no terminal, no instruction
    assert out.returncode == 2 and "stdin is not one" in out.stderr
    out = bcz("finetune", "dataset=x", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2 and "init_from=PATH" in out.stderr
    out = bcz("eval", "checkpoint=/no/such/checkpoint", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2 and "is not a policy checkpoint" in out.stderr
    out = bcz("run", "web=true", "host=0.0.0.0", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2 and "web_hosts" in out.stderr
    out = bcz("run", "web=true", "host=192.168.1.5", "web_token=off", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2 and "web_token=off on host=192.168.1.5" in out.stderr


def test_run_names_a_port_in_use_before_the_robot_starts(tiny_checkpoint, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = bcz(
            "run",
            "web=true",
            f"port={port}",
            f"checkpoint={tiny_checkpoint}",
            "instruction=pick up the red block",
            "duration=5",
            f"hydra.run.dir={tmp_path}",
        )
    assert out.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in out.stderr and f"port={port + 1}" in out.stderr
    assert "web page:" not in out.stdout and "live figures" not in out.stdout  # the robot never started
