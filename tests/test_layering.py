"""The learner stands without the world: loading a policy and training one work with the physics engine,
gymnasium, Ray and the simulator made unimportable (as on a GPU machine that has none of them)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

WORLD = ("pybullet", "pybullet_data", "gymnasium", "ray", "sim")

# Every script runs in a fresh interpreter behind this preamble: a finder placed first refuses the
# packages named in argv[1], so any import of them, however indirect, fails the run; the script's last
# line of output is a JSON object that says, among its results, which of them got loaded anyway.
BLOCKER = """
import json, sys
from importlib.abc import MetaPathFinder

BLOCKED = set(json.loads(sys.argv[1]))

class Refuse(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Refuse())
"""

TRAIN = """
from pathlib import Path
from rich.console import Console
from policy import Policy
from policy.train import TrainConfig, RolloutConfig, train

cfg = TrainConfig(**json.loads(sys.argv[2]), rollouts=RolloutConfig(every_minutes=0))
for key, value in json.loads(sys.argv[3]).items():
    setattr(cfg.policy.vit, key, value)
result = train(cfg, Path(sys.argv[4]), Console(quiet=True))
policy = Policy.from_pretrained(result["checkpoint"])
loaded = sorted({m.split(".")[0] for m in sys.modules} & BLOCKED)
print(json.dumps({"step": result["step"], "chunk": policy.config.chunk, "loaded": loaded}))
"""

ACT = """
import numpy as np
from policy import Policy

policy = Policy.from_pretrained(sys.argv[2])
h, w = policy.config.image_size
obs = {c: np.zeros((h, w, 3), np.uint8) for c in policy.config.cameras}
obs["state"] = np.zeros(len(policy.config.state_names), np.float32)
action = policy.select_action(obs, "pick up the red block")
loaded = sorted({m.split(".")[0] for m in sys.modules} & BLOCKED)
print(json.dumps({"action": len(action), "loaded": loaded}))
"""


def run_blocked(script: str, blocked: list[str], *args: str) -> dict:
    """Run `script` behind the blocker in a fresh interpreter; its last line of output, parsed."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(BLOCKER + script), json.dumps(blocked), *args],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_training_and_loading_a_policy_need_no_simulator_gymnasium_or_ray(tiny_dataset, tmp_path):
    from tests.conftest import TINY_VIT

    settings = {"dataset": str(tiny_dataset), "max_minutes": None, "max_steps": 3, "batch_size": 8}
    settings |= {"warmup_steps": 1, "val_every": 1000}
    vit = {k.removeprefix("policy.vit."): v for k, v in TINY_VIT.items()}
    result = run_blocked(TRAIN, list(WORLD), json.dumps(settings), json.dumps(vit), str(tmp_path))
    assert result == {"step": 3, "chunk": 10, "loaded": []}


def test_loading_and_running_a_policy_needs_no_codec_or_hydra_either(tiny_checkpoint):
    """What a robot or a GPU machine without PyAV, Hydra or the simulator needs to load and run a policy."""
    result = run_blocked(ACT, [*WORLD, "av", "hydra", "cv2"], tiny_checkpoint)
    assert result == {"action": 7, "loaded": []}


def test_a_suite_that_declares_a_skill_loads_without_the_simulator():
    """The coasters suite names sim.skills.put_on: a learner reading the suite never imports it."""
    script = """
from tasks.suite import TaskSuite
suite = TaskSuite.load("coasters")
loaded = sorted({m.split(".")[0] for m in sys.modules} & BLOCKED)
print(json.dumps({"tasks": len(suite.grid), "loaded": loaded}))
"""
    assert run_blocked(script, list(WORLD)) == {"tasks": 168, "loaded": []}
