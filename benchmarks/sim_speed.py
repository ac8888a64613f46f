"""Simulator speed: control steps per second of `TabletopEnv.step`, with and without rendering and per
camera resolution, against the bare PyBullet cost of the same work measured in the same run.

    python benchmarks/sim_speed.py

"bare" is what any PyBullet program must pay per control step on the same world for the same motion:
the joint targets the env sent (recorded, then replayed), `substeps` calls of stepSimulation, and one
getCameraImage per camera at the same size. The ratio env/bare shows the overhead of this project's own
code (action checks, IK, state reads, success check, observation assembly). Env and bare runs
alternate in blocks and the medians are reported (shared, noisy machine).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pybullet as p
from rich.console import Console
from rich.table import Table

from sim.env import TabletopEnv
from sim.env_config import EnvConfig

TASK = "put_in/red_block/green_bowl"


def make_env(resolution: int | None) -> TabletopEnv:
    config = EnvConfig()
    if resolution is None:
        config.robot.cameras = {}
    else:
        for cam in config.robot.cameras.values():
            cam.width = cam.height = resolution
    config.max_steps = 10**9
    return TabletopEnv(config, task=TASK)


def env_block(env: TabletopEnv, actions: np.ndarray) -> tuple[float, list]:
    """Env steps per second, and the joint targets it commanded (for the bare replay)."""
    commands, command = [], env.arm._command_joints

    def record_then_command(joints, width):  # costs a list append: counted against the env
        commands.append((list(joints), width))
        command(joints, width)

    env.arm._command_joints = record_then_command
    start = time.perf_counter()
    for a in actions:
        env.step(a)
    rate = len(actions) / (time.perf_counter() - start)
    env.arm._command_joints = command
    return rate, commands


def bare_block(env: TabletopEnv, commands: list) -> float:
    cid, substeps, body, cfg = env.client, env.config.robot.substeps, env.arm.body, env.config.robot
    cams = [(c.width, c.height, c.view_matrix(), c._projection) for c in env.arm.cameras.values()]
    gains, forces = [cfg.arm_position_gain] * 7, cfg.arm_forces
    start = time.perf_counter()
    for joints, width in commands:
        p.setJointMotorControlArray(
            body,
            range(7),
            p.POSITION_CONTROL,
            targetPositions=joints,
            forces=forces,
            positionGains=gains,
            physicsClientId=cid,
        )
        p.setJointMotorControlArray(
            body,
            (9, 10),
            p.POSITION_CONTROL,
            targetPositions=[width / 2] * 2,
            forces=[cfg.gripper_force] * 2,
            physicsClientId=cid,
        )
        for _ in range(substeps):
            p.stepSimulation(physicsClientId=cid)
        for w, h, view, proj in cams:
            p.getCameraImage(
                w,
                h,
                view,
                proj,
                renderer=p.ER_TINY_RENDERER,
                flags=p.ER_NO_SEGMENTATION_MASK,
                physicsClientId=cid,
            )
    return len(commands) / (time.perf_counter() - start)


def measure(resolution: int | None, blocks: int, steps: int) -> tuple[float, float, float]:
    env = make_env(resolution)
    rng = np.random.default_rng(0)
    env_rates, bare_rates, resets = [], [], []
    for b in range(blocks):
        t = time.perf_counter()
        env.reset(seed=b)
        resets.append(time.perf_counter() - t)
        # small random motions keep the arm moving (and the IK working) without leaving the workspace
        actions = rng.uniform(-0.01, 0.01, (steps, 7)).astype(np.float32)
        actions[:, 3:6] *= 3
        actions[:, 6] = rng.integers(0, 2, steps)
        rate, commands = env_block(env, actions)
        env.reset(seed=b)  # replay the same motion from the same start
        env_rates.append(rate)
        bare_rates.append(bare_block(env, commands))
    env.close()
    return float(np.median(env_rates)), float(np.median(bare_rates)), float(np.median(resets))


def main() -> None:
    os.environ.setdefault("COLUMNS", "140")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resolutions", type=int, nargs="*", default=[32, 64, 96, 128])
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--steps", type=int, default=40, help="control steps per block")
    args = parser.parse_args()
    table = Table(title="Simulator speed: control steps/s (10 Hz control, 240 Hz physics, 2 cameras)")
    for col in ("cameras", "env steps/s", "bare steps/s", "env / bare", "reset (ms)"):
        table.add_column(col, justify="right")
    for res in [None, *args.resolutions]:
        env_rate, bare_rate, reset = measure(res, args.blocks, args.steps)
        label = "none (no rendering)" if res is None else f"2 x {res}x{res}"
        table.add_row(
            label, f"{env_rate:.1f}", f"{bare_rate:.1f}", f"{env_rate / bare_rate:.0%}", f"{reset * 1e3:.0f}"
        )
    Console().print(table)
    print(
        f"Each figure is the median of {args.blocks} blocks of {args.steps} control steps; "
        f"task {TASK}, one PyBullet DIRECT client, this process only."
    )


if __name__ == "__main__":
    main()
