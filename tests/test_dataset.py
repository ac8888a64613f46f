"""The LeRobot v3.0 dataset: round trip, crash safety, check and repair, the training-side frame cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from data_collection.check import check, repair
from data_collection.dataset import DatasetError, DatasetReader
from data_collection.frames import FrameCache
from data_collection.writer import DatasetWriter
from tests import dataset_helpers as h


def write(root, seeds, **kw) -> DatasetWriter:
    writer = DatasetWriter(root, h.features(), h.FPS, "test", **kw)
    for s in seeds:
        writer.add(h.encoded(s))
    return writer


def test_round_trip_and_lerobot_layout(tmp_path):
    root = tmp_path / "ds"
    write(root, [0, 1, 2])
    r = DatasetReader(root)
    assert (r.num_episodes, r.num_frames) == (3, 36)
    info = json.loads((root / "meta/info.json").read_text())
    assert (
        info["codebase_version"] == "v3.0"
        and info["total_frames"] == 36
        and info["splits"] == {"train": "0:3"}
    )
    assert info["features"]["observation.images.front"]["dtype"] == "video"
    assert {"timestamp", "frame_index", "episode_index", "index", "task_index"} <= set(info["features"])
    original = h.episode(1)
    frames = r.frames(1)
    for key, values in original.columns.items():
        np.testing.assert_array_equal(frames[key], values)
    np.testing.assert_array_equal(frames["index"], np.arange(12, 24))
    np.testing.assert_array_equal(frames["episode_index"], 1)
    np.testing.assert_allclose(frames["timestamp"], np.arange(12) / h.FPS, atol=1e-6)
    video = r.video(1, "observation.images.front")
    assert video.shape == original.images["observation.images.front"].shape
    assert np.abs(video.astype(int) - original.images["observation.images.front"]).mean() < 2.0
    tasks = pd.read_parquet(root / "meta/tasks.parquet")
    assert tasks.index.name == "task" and list(tasks["task_index"]) == list(range(len(tasks)))
    assert r.tasks[frames["task_index"][0]] == original.info.instruction
    meta = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()[1]  # 100 rows a file
    assert meta["dataset_from_index"] == 12 and meta["dataset_to_index"] == 24
    assert meta["videos/observation.images.front/to_timestamp"] == pytest.approx(1.2)
    assert r.info_of(1)["job"] == 1 and r.info_of(1)["source"] == "expert"
    stats = r.stats()
    assert stats["observation.images.front"]["mean"].shape == (3, 1, 1)
    assert stats["action"]["count"][0] == 36
    np.testing.assert_allclose(
        stats["action"]["mean"],
        np.concatenate([h.episode(s).columns["action"] for s in range(3)]).mean(0),
        atol=1e-5,
    )


def test_stats_are_exact_and_the_same_when_written_in_two_sittings(tmp_path):
    write(tmp_path / "once", [0, 1, 2])
    write(tmp_path / "twice", [0])
    write(tmp_path / "twice", [1, 2], resume=True)
    once, twice = DatasetReader(tmp_path / "once").stats(), DatasetReader(tmp_path / "twice").stats()
    actions = np.concatenate([h.episode(s).columns["action"] for s in range(3)])
    for key, value in {"min": actions.min(0), "max": actions.max(0), "std": actions.std(0)}.items():
        np.testing.assert_allclose(once["action"][key], value, atol=1e-5)
    for feature, stats in once.items():
        for key, value in stats.items():
            np.testing.assert_allclose(twice[feature][key], value, err_msg=f"{feature} {key}")


def test_existing_dataset_needs_resume_and_matching_features(tmp_path):
    root = tmp_path / "ds"
    write(root, [0])
    with pytest.raises(DatasetError, match=r"already holds a dataset \(1 episodes\); resume it"):
        DatasetWriter(root, h.features(), h.FPS, "test")
    with pytest.raises(
        DatasetError, match=r"observation\.images\.front shape \[32, 32, 3\] in the dataset vs \[48, 48, 3\]"
    ):
        DatasetWriter(root, h.features(size=48), h.FPS, "test", resume=True)
    writer = write(root, [1], resume=True)
    assert len(writer.episodes) == 2 and writer.jobs() == {0, 1}


def test_bad_paths_name_the_problem(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        DatasetReader(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"is not a LeRobot dataset: it has no meta/info\.json"):
        DatasetReader(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="not empty and holds no dataset"):
        DatasetWriter(tmp_path / "other", h.features(), h.FPS, "test")


def test_killed_writer_leaves_a_loadable_dataset(tmp_path):
    """SIGKILL a writer at random moments: every committed episode survives, nothing half-written shows."""
    root = tmp_path / "ds"
    rng = np.random.default_rng(0)
    committed = 0
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.dataset_helpers", str(root)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=os.path.dirname(os.path.dirname(__file__)),
        )
        first = proc.stdout.readline()  # the first commit of this run (start-up time varies with load)
        time.sleep(rng.uniform(0, 1.0))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        out = first + out
        printed = [int(x) for x in out.split()]
        reader = DatasetReader(root)  # loads, whatever the moment of the kill
        assert reader.num_episodes >= (printed[-1] if printed else committed)
        assert reader.num_episodes <= (printed[-1] if printed else committed) + 1  # at most the one in flight
        for i in range(reader.num_episodes):
            assert len(reader.frames(i)["action"]) == reader.episodes[i]["length"]
        committed = reader.num_episodes
    DatasetWriter(root, h.features(), h.FPS, "test", resume=True)  # a writer reopening tidies up
    report = check(root)
    assert report.ok, report.problems
    assert committed > 5


def test_check_names_broken_files_and_repair_keeps_the_rest(tmp_path):
    root = tmp_path / "ds"
    write(root, range(5))
    assert check(root).ok
    (root / "data/chunk-000/file-001.parquet").write_bytes(b"not parquet")
    video = root / "videos/observation.images.front/chunk-000/file-003.mp4"
    video.write_bytes(video.read_bytes()[:200])
    report = check(root)
    assert report.broken == {1, 3}
    assert {p.file for p in report.problems} == {
        "data/chunk-000/file-001.parquet",
        "videos/observation.images.front/chunk-000/file-003.mp4",
    }
    aside = repair(report)
    assert aside.exists() and check(root).ok
    r = DatasetReader(root)
    assert r.num_episodes == 3 and [r.info_of(i)["job"] for i in range(3)] == [0, 2, 4]
    np.testing.assert_array_equal(r.frames(1)["action"], h.episode(2).columns["action"])
    np.testing.assert_array_equal(r.frames(2)["index"], np.arange(24, 36))


def test_frame_cache_decodes_once_and_extends(tmp_path):
    root = tmp_path / "ds"
    writer = write(root, [0, 1])
    root.chmod(0o555)  # a read-only (or shared) dataset: the cache goes elsewhere
    try:
        cache = FrameCache(root, progress=False)
    finally:
        root.chmod(0o755)
    assert not cache.dir.is_relative_to(root) and cache.dir.is_relative_to(os.environ["BCZ_CACHE"])
    assert len(cache) == 24 and cache.images["observation.images.front"].shape == (24, 32, 32, 3)
    np.testing.assert_array_equal(
        cache.images["observation.images.front"][12:],
        DatasetReader(root).video(1, "observation.images.front"),
    )
    mtime = (cache.dir / "observation.images.front.u8").stat().st_mtime_ns
    writer.add(h.encoded(7))
    grown = FrameCache(root, progress=False)
    assert len(grown) == 36 and list(grown.episode_starts) == [0, 12, 24]
    np.testing.assert_array_equal(grown.columns["action"][24:], h.episode(7).columns["action"])
    assert (cache.dir / "observation.images.front.u8").stat().st_mtime_ns != mtime
    np.testing.assert_array_equal(
        grown.images["observation.images.front"][:12], cache.images["observation.images.front"][:12]
    )


def _build_cache_slowly(root: str, cache_dir: str) -> None:
    """Build a frame cache with a slow video decoder, so that two builders started together overlap."""
    decode = DatasetReader.video

    def slow(self, index: int, key: str) -> np.ndarray:
        time.sleep(0.1)
        return decode(self, index, key)

    DatasetReader.video = slow
    FrameCache(root, cache_dir, progress=False)


def _assert_cache_matches_videos(root, cache: FrameCache) -> None:
    reader, key = DatasetReader(root), "observation.images.front"
    for ep in range(reader.num_episodes):
        start, length = cache.episode_starts[ep], cache.episode_lengths[ep]
        np.testing.assert_array_equal(cache.images[key][start : start + length], reader.video(ep, key))


def test_frame_cache_built_by_runs_started_together_keeps_each_frame_its_image(tmp_path):
    """Two trainings on one dataset build its cache one at a time: appending together interleaved
    their frames, and every image then belonged to another frame's actions."""
    import multiprocessing

    root, cache_dir = tmp_path / "ds", tmp_path / "cache"
    write(root, range(8))
    context = multiprocessing.get_context("spawn")
    builders = [
        context.Process(target=_build_cache_slowly, args=(str(root), str(cache_dir))) for _ in range(2)
    ]
    for b in builders:
        b.start()
    for b in builders:
        b.join(60)
    assert [b.exitcode for b in builders] == [0, 0]
    images = np.fromfile(cache_dir / "observation.images.front.u8", np.uint8)  # as the builders left it
    assert images.size == 96 * 32 * 32 * 3
    reader = DatasetReader(root)
    videos = [reader.video(ep, "observation.images.front") for ep in range(8)]
    np.testing.assert_array_equal(images.reshape(96, 32, 32, 3), np.concatenate(videos))


def test_frame_cache_with_more_frames_than_its_dataset_is_rebuilt(tmp_path):
    root, cache_dir = tmp_path / "ds", tmp_path / "cache"
    write(root, range(3))
    FrameCache(root, cache_dir, progress=False)
    images = cache_dir / "observation.images.front.u8"
    images.write_bytes(images.read_bytes() * 2)  # what two builders appending at once left behind
    cache = FrameCache(root, cache_dir, progress=False)
    assert images.stat().st_size == 36 * 32 * 32 * 3
    _assert_cache_matches_videos(root, cache)


def test_corrupt_metadata_file_loses_only_its_group(tmp_path, monkeypatch):
    import data_collection.layout as layout
    import data_collection.writer as writer_module

    monkeypatch.setattr(layout, "EPISODES_PER_META_FILE", 2)
    monkeypatch.setattr(writer_module, "EPISODES_PER_META_FILE", 2)
    root = tmp_path / "ds"
    write(root, range(5))
    assert sorted(p.name for p in (root / "meta/episodes/chunk-000").iterdir()) == [
        "file-000.parquet",
        "file-001.parquet",
        "file-002.parquet",
    ]
    (root / "meta/episodes/chunk-000/file-001.parquet").write_bytes(b"garbage")
    report = check(root)
    assert report.broken == {2, 3}
    assert all(
        p.file == "meta/episodes/chunk-000/file-001.parquet" for p in report.problems if p.episode in (2, 3)
    )
    repair(report)
    r = DatasetReader(root)
    assert [r.info_of(i)["job"] for i in range(r.num_episodes)] == [0, 1, 4]


def test_reads_episodes_packed_as_lerobot_writes_them(tmp_path):
    """Several episodes per data file and per mp4 (two cameras of different sizes, a 2-D action)."""
    from tests import lerobot_layout as lr

    root = lr.write(tmp_path / "lerobot", lengths=(15, 12, 18, 9), per_file=2)
    reader = DatasetReader(root)
    assert reader.num_episodes == 4 and reader.num_frames == 54
    assert reader.data_file(1) == reader.data_file(0) != reader.data_file(2)  # two episodes a file
    table = pq.read_table(root / reader.data_file(2))
    for ep, length in enumerate((15, 12, 18, 9)):
        frames = reader.frames(ep)
        assert len(frames["action"]) == length and frames["action"].shape[1] == 2
        assert (frames["episode_index"] == ep).all() and frames["frame_index"].tolist() == list(range(length))
        for cam, (height, width) in lr.CAMERAS.items():
            video = reader.video(ep, f"observation.images.{cam}")
            assert video.shape == (length, height, width, 3)
            expected = np.array([lr.frame_colour(ep, t) for t in range(length)], float)
            got = video.reshape(length, -1, 3).mean(axis=1)
            assert np.abs(got - expected).max() < 6, (ep, cam)  # this episode's frames, in order
    assert table.num_rows == 27  # episodes 2 and 3 share the file the reader sliced
    cache = FrameCache(root, progress=False)  # the training view: cameras keep their own sizes
    assert cache.images["observation.images.top"].shape == (54, 48, 64, 3)
    assert cache.images["observation.images.wrist"].shape == (54, 24, 32, 3)
    assert sorted(cache.columns) == [
        "action",
        "episode_index",
        "frame_index",
        "index",
        "observation.state",
        "task_index",
        "timestamp",
    ]
    assert (
        np.abs(cache.images["observation.images.wrist"][15].mean(axis=(0, 1)) - lr.frame_colour(1, 0)).max()
        < 6
    )


@pytest.mark.parametrize(
    "version,error",
    [
        ("v2.1", r"older layout, one file per episode.*convert_dataset_v21_to_v30"),
        ("v3.1", r"newer than the v3\.0"),
        ("v4.0", r"newer than the v3\.0"),
        ("banana", r"not a LeRobot dataset version"),
    ],
)
def test_versions_other_than_v30_are_named(tmp_path, version, error):
    from tests import lerobot_layout as lr

    root = lr.write(tmp_path / "ds", lengths=(5,), per_file=1)
    info = json.loads((root / "meta" / "info.json").read_text())
    (root / "meta" / "info.json").write_text(json.dumps({**info, "codebase_version": version}))
    with pytest.raises(DatasetError, match=error):
        DatasetReader(root)
    with pytest.raises(DatasetError, match=error):  # a version is not damage: nothing to repair
        check(root)


def test_check_accepts_lerobots_packing_and_names_real_damage(tmp_path):
    from tests import lerobot_layout as lr

    root = lr.write(tmp_path / "lerobot", lengths=(15, 12, 18, 9), per_file=2)
    report = check(root)
    assert report.ok and report.episodes == 4, [p.what for p in report.problems]
    video = root / "videos/observation.images.wrist/chunk-000/file-001.mp4"
    video.write_bytes(video.read_bytes()[: len(video.read_bytes()) // 3])  # a truncated copy
    report = check(root)
    assert not report.ok and report.broken == {2, 3}  # the two episodes in that file, no others
    assert all(p.file.endswith("file-001.mp4") for p in report.problems)


@pytest.mark.parametrize(
    "codec,preset", [("libx264", "veryfast"), ("libsvtav1", "12"), ("libx265", "ultrafast")]
)
def test_a_range_of_frames_decodes_from_h264_av1_and_hevc(codec, preset):
    """LeRobot writes AV1 by default, H.264 and HEVC on request; an episode is a range of the file."""
    from data_collection.video_codec import VideoConfig, decode_mp4, encode_mp4

    frames = np.zeros((30, 64, 64, 3), np.uint8)  # x265 aborts below 64 pixels
    frames[..., 0] = (np.arange(30) * 8)[:, None, None]
    data = encode_mp4(frames, 10, VideoConfig(codec=codec, pix_fmt="yuv420p", crf=20, preset=preset))
    part = decode_mp4(data, start=1.2, count=9)  # frames 12..20
    assert part.shape == (9, 64, 64, 3)
    assert np.abs(part[..., 0].mean(axis=(1, 2)) - np.arange(12, 21) * 8).max() < 6
