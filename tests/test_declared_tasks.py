"""A suite file declares a new object kind (by shape) and a new skill (by implementation): the simulator
builds, scores and demonstrates them, and a bad declaration is refused in one line."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
import zlib

import pytest

from sim.env import TabletopEnv
from sim.objects import KINDS, ShapeSpec
from tasks.registry import SKILLS
from tasks.suite import TaskSuite, UnknownTaskError
from tests.conftest import blind_config


@pytest.fixture(autouse=True)
def registries():
    """What a test declares is forgotten after it: the registries are process-wide."""
    from tasks import registry

    saved = (dict(registry.SHAPES), dict(registry.IMPLEMENTATIONS), dict(SKILLS), dict(KINDS))
    declared = set(KINDS.declared)
    yield
    for table, before in zip((registry.SHAPES, registry.IMPLEMENTATIONS, SKILLS, KINDS), saved, strict=True):
        table.clear()
        table.update(before)
    KINDS.declared.clear()
    KINDS.declared.update(declared)


def small_suite(objects: dict | None = None, skills: dict | None = None) -> TaskSuite:
    """A block and whatever the test declares."""
    return TaskSuite.from_config(
        {
            "colours": {"red": [1.0, 0.0, 0.0], "blue": [0.0, 0.0, 1.0]},
            "objects": {"block": {"words": ["block"], "colours": ["red", "blue"]}, **(objects or {})},
            "skills": {
                "pick_up": {"targets": ["block"], "phrasings": ["pick up the {target}"]},
                **(skills or {}),
            },
        }
    )


def test_the_coasters_suite_adds_a_kind_a_skill_and_held_out_tasks_to_the_default():
    coasters, default = TaskSuite.load("coasters"), TaskSuite.load("default")
    assert set(coasters.config.skills) == {*default.config.skills, "put_on"}
    assert set(default.held_out) < set(coasters.held_out)  # held_out adds to the suite it extends
    assert {t.skill for t in coasters.held_out} - {t.skill for t in default.held_out} == {"put_on"}
    assert coasters.split_violations() == []
    coaster = KINDS["coaster"]
    assert (coaster.radius, coaster.height, coaster.rest_z) == pytest.approx((0.07, 0.012, 0.006))
    assert coasters.resolve("put the red cube on the blue mat").id == "put_on/red_block/blue_coaster"


@pytest.mark.parametrize("task", ["put_on/green_block/yellow_coaster", "put_on/yellow_duck/red_coaster"])
def test_the_declared_skills_expert_does_it_and_its_check_sees_it(task):
    env = TabletopEnv(blind_config(object_poses=True, object_set=True), suite="coasters", split="all")
    try:
        env.reset(seed=5, options={"task": task})
        assert not SKILLS["put_on"].satisfied(env.task, env.scene_state())
        expert, info = env.expert(), {}
        for _ in range(env.config.max_steps):
            _, _, terminated, truncated, info = env.step(expert.act(env.scene_state()))
            if terminated or truncated:
                break
        assert info["success"], f"{task} failed in phase {expert.phase}"
    finally:
        env.close()


def test_a_suite_unpickled_in_a_fresh_process_brings_its_declarations():
    """A Ray worker gets the suite pickled: it must look up the declared skill and kind there too."""
    blob = pickle.dumps(TaskSuite.load("coasters"))
    script = (
        "import pickle, sys; import sim.skills; from sim.objects import KINDS; from tasks.registry import "
        "SKILLS; s = pickle.loads(sys.stdin.buffer.read()); "
        "print(type(SKILLS['put_on']).__name__, KINDS['coaster'].height)"
    )
    out = subprocess.run([sys.executable, "-c", script], input=blob, capture_output=True, check=True)
    assert out.stdout.decode().split() == ["PutOn", "0.012"]


def test_a_box_and_a_pybullet_mesh_get_their_geometry():
    box = ShapeSpec.parse("brick", {"type": "box", "size": [0.06, 0.03, 0.02], "graspable": True}).kind(
        "brick"
    )
    assert (box.height, box.rest_z, box.grasp_z) == pytest.approx((0.02, 0.01, 0.01))
    assert box.radius == pytest.approx(math.hypot(0.06, 0.03) / 2) and box.graspable
    mesh = ShapeSpec.parse("small_cube", {"type": "urdf", "urdf": "cube_small.urdf"}).kind("small_cube")
    assert mesh.height == pytest.approx(0.05, abs=0.005) and mesh.rest_z == pytest.approx(0.025, abs=0.003)


@pytest.mark.parametrize(
    ("shape", "says"),
    [
        ({"type": "sphere", "size": [0.1]}, "shape type 'sphere'; valid: box, cylinder, urdf"),
        ({"type": "box", "size": [0.1, 0.1]}, "a box takes size of 3 positive numbers"),
        ({"type": "cylinder", "size": [0.1, 0.1], "colour": "red"}, "unknown shape fields ['colour']"),
        ({"type": "urdf", "urdf": "no/such.urdf"}, "no URDF at 'no/such.urdf'"),
        ({"size": [0.1, 0.1]}, "a shape needs a type (box, cylinder, urdf)"),
        ({"type": "box", "size": [0.1, "big", 0.1]}, "must be positive numbers"),
        ({"type": "cylinder", "size": [0.1, 0.1], "mass": 0}, "must be positive numbers"),
        ({"type": "cylinder", "size": [0.1, 0.1], "container": True}, "a container needs its inner_radius"),
    ],
)
def test_a_bad_shape_is_refused_in_one_line_when_the_simulator_loads_the_suite(shape, says, tmp_path):
    kind = f"thing{zlib.crc32(str(shape).encode())}"  # one declaration per kind name in a process
    suite = small_suite(objects={kind: {"words": ["thing"], "colours": ["red"], "shape": shape}})
    with pytest.raises(UnknownTaskError, match=r"valid|takes size|no URDF|needs|positive") as error:
        TabletopEnv(blind_config(), suite=suite)
    assert says in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("sim.skills.no_such_module:Thing", "cannot import implementation"),
        ("sim.skills.put_on:Nothing", "cannot import implementation"),
        ("sim.skills.put_on", "is not module:Class"),
        ("sim.skills.put_on:PutOn", "is named 'put_on', not"),
    ],
)
def test_a_bad_implementation_is_refused_in_one_line(path, says):
    name = f"lift{zlib.crc32(path.encode())}"
    suite = small_suite(
        skills={name: {"targets": ["block"], "phrasings": ["lift the {target}"], "implementation": path}}
    )
    with pytest.raises(UnknownTaskError, match=says):
        TabletopEnv(blind_config(), suite=suite)


def test_a_kind_unknown_to_the_simulator_without_a_shape_says_how_to_declare_one():
    suite = small_suite(objects={"vase": {"words": ["vase"], "colours": ["red"]}})
    with pytest.raises(UnknownTaskError, match="declare its shape in the suite file"):
        TabletopEnv(blind_config(), suite=suite)


def test_one_kind_declared_with_two_shapes_is_refused():
    small_suite(
        objects={
            "lid": {"words": ["lid"], "colours": ["red"], "shape": {"type": "cylinder", "size": [0.04, 0.01]}}
        }
    )
    with pytest.raises(UnknownTaskError, match="declared two ways"):
        small_suite(
            objects={
                "lid": {
                    "words": ["lid"],
                    "colours": ["red"],
                    "shape": {"type": "box", "size": [0.04, 0.04, 0.01]},
                }
            }
        )


def test_a_shape_for_a_kind_the_simulator_builds_itself_is_refused():
    suite = small_suite(
        objects={
            "block": {
                "words": ["block"],
                "colours": ["red"],
                "shape": {"type": "box", "size": [0.1, 0.1, 0.1]},
            }
        }
    )
    with pytest.raises(UnknownTaskError, match=r"one sim/objects\.py builds itself"):
        TabletopEnv(blind_config(), suite=suite)
