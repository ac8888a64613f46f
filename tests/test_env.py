"""The gymnasium env: registration, the env checker, seeding, info, bad actions, randomization switches."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.utils.passive_env_checker import env_render_passive_checker

import sim  # noqa: F401  (registers bcz/Tabletop-v0)
from robot.safety import UnsafeActionError
from sim.env import TabletopEnv
from sim.env_config import EnvConfig


def small_config() -> EnvConfig:
    config = EnvConfig()
    for cam in config.robot.cameras.values():
        cam.width = cam.height = 32
    config.render_width, config.render_height = 64, 48
    return config


def test_registered_env_passes_gymnasiums_checker(suite, monkeypatch):
    env = gymnasium.make("bcz/Tabletop-v0", config=small_config(), suite=suite, render_mode="rgb_array")
    # The checker would also open render_mode="human" (PyBullet's GUI), which needs a display: check
    # everything else, then the rgb_array renderer on its own.
    check_env(env.unwrapped, skip_render_check=True)
    env_render_passive_checker(env.unwrapped)
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(ValueError, match="needs a display"):
        gymnasium.make("bcz/Tabletop-v0", suite=suite, render_mode="human")
    obs, info = env.reset(seed=0)
    assert set(obs) == {"state", "scene", "wrist"}
    assert obs["scene"].shape == (32, 32, 3) and obs["scene"].dtype == np.uint8
    assert {"task", "instruction", "success"} <= set(info)
    assert env.render().shape == (48, 64, 3)
    env.close()


def test_same_seed_same_first_frame_and_expert_trajectory(suite):
    env = TabletopEnv(small_config(), suite=suite)

    def rollout(seed: int, steps: int = 20):
        obs, info = env.reset(seed=seed)
        expert, actions, frames = env.expert(), [], [obs["scene"], obs["wrist"]]
        for _ in range(steps):
            actions.append(expert.act(env.scene_state()))
            obs, *_ = env.step(actions[-1])
        return info, frames, np.array(actions), obs["state"]

    a, b, c = rollout(11), rollout(11), rollout(12)
    assert a[0] == b[0]
    assert all(np.array_equal(x, y) for x, y in zip(a[1], b[1], strict=True))
    assert np.array_equal(a[2], b[2]) and np.array_equal(a[3], b[3])
    assert not np.array_equal(a[1][0], c[1][0])
    env.close()


def test_instruction_is_free_text_but_scoring_follows_the_spec(suite):
    env = TabletopEnv(small_config(), suite=suite)
    _, info = env.reset(seed=0, options={"task": "knock_over/red_bottle", "instruction": "do your thing"})
    assert info["instruction"] == "do your thing" and info["task"] == "knock_over/red_bottle"
    told = env.scene_state()
    env.reset(seed=0, options={"task": "knock_over/red_bottle"})  # the suite's phrasing, same seed
    assert all(np.allclose(o.position, told[n].position) for n, o in env.scene_state().objects.items())
    env.close()  # same scene: phrasings can be compared episode by episode


def test_non_finite_action_is_refused_before_physics(blind_env):
    env = blind_env
    env.reset(seed=0, options={"task": "pick_up/red_block"})
    before = env.scene_state().ee_position.copy()
    with pytest.raises(UnsafeActionError, match=r"non-finite value in \['dy'\]"):
        env.step(np.array([0, np.nan, 0, 0, 0, 0, 0], dtype=np.float32))
    with pytest.raises(UnsafeActionError, match="expected \\(7,\\)"):
        env.step(np.zeros(6))
    assert np.array_equal(env.scene_state().ee_position, before)
    assert env.steps == 0


def test_out_of_range_action_is_clipped(blind_env):
    env = blind_env
    env.reset(seed=0, options={"task": "pick_up/red_block"})
    start = env.scene_state().ee_position
    _, _, _, _, info = env.step(np.array([0.0, 0.0, 5.0, 0, 0, 0, 0], dtype=np.float32))
    limit = env.config.robot.limits.max_delta_pos
    assert info["applied_action"][2] == pytest.approx(limit)
    assert env.scene_state().ee_position[2] - start[2] < limit + 0.005


def test_truncates_at_max_steps(suite):
    config = small_config()
    config.robot.cameras = {}
    config.max_steps = 3
    env = TabletopEnv(config, suite=suite)
    env.reset(seed=0)
    done = [env.step(np.zeros(7, np.float32))[3] for _ in range(3)]
    assert done == [False, False, True]
    env.close()


def _first_frame(config: EnvConfig, suite, seed: int) -> np.ndarray:
    env = TabletopEnv(config, suite=suite, task="put_in/red_block/green_bowl")
    obs, _ = env.reset(seed=seed)
    env.close()
    return obs["scene"]


@pytest.mark.parametrize(
    "switch", ["object_poses", "object_set", "colours", "lighting", "camera_pose", "table_colour"]
)
def test_each_randomization_switch_changes_the_scene(suite, switch):
    config = small_config()
    for name in ("object_poses", "object_set", "colours", "lighting", "camera_pose", "table_colour"):
        setattr(config.randomize, name, False)
    assert np.array_equal(_first_frame(config, suite, 0), _first_frame(config, suite, 1)), (
        "with every switch off, the seed must not change the scene"
    )
    setattr(config.randomize, switch, True)
    assert not np.array_equal(_first_frame(config, suite, 0), _first_frame(config, suite, 1))


def test_scene_contains_distractors_of_the_suite(suite):
    env = TabletopEnv(small_config(), suite=suite, task="pick_up/red_block")
    counts = []
    for seed in range(5):
        env.reset(seed=seed)
        names = set(env.scene_state().objects)
        assert "red_block" in names
        counts.append(len(names) - 1)
    assert max(counts) >= 1
    env.close()


def test_objects_loaded_without_their_textures_look_the_same(suite, monkeypatch):
    """The duck and the tray are loaded from copies whose meshes name no picture (the scene recolours
    them and drops the texture anyway): the frames are the original's, pixel for pixel."""
    import sim.objects as objects

    def frame() -> np.ndarray:
        env = TabletopEnv(EnvConfig(), task="put_in/orange_duck/red_tray")
        obs, _ = env.reset(seed=4)
        env.close()
        return np.concatenate([obs[k].ravel() for k in sorted(obs) if k != "state"])

    copies = frame()
    assert "untextured" in str(objects.untextured_urdf(objects.DATA / "tray/traybox.urdf"))
    monkeypatch.setattr(objects, "untextured_urdf", lambda path: path)
    assert (frame() == copies).all()
