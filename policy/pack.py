"""`bcz pack`: what a GPU machine needs to train, packed on a machine that has everything else.

A GPU machine lent for minutes may hold torch and a few libraries (transformers, safetensors,
opencv-python-headless, pyarrow, pandas, rich, tensorboard) but neither the simulator, Ray, Hydra,
PyAV nor the sentence encoder's weights, and may take in only a few tens of MiB. A pack holds:

- `dataset/`: a LeRobot v3 dataset of the source's first N episodes, as many as fit `max_mb` (their
  data and video files copied unchanged: frames stay at the size the policy reads, compressed as
  recorded; meta filtered to those episodes; normalization statistics the whole dataset's). Without
  PyAV, the frame cache decodes the videos with OpenCV (`data_collection/video_codec.py`).
- `embeddings.npz`: the sentence vector of every instruction those episodes teach (suite phrasings,
  paraphrases and hindsight labels included), read by `PrecomputedEncoder` there.
- `wheels/`: the pure-Python packages training imports that such a machine lacks (TRAVELLING),
  rebuilt from their installed files; imported there straight from the wheel (zipimport).
- `init/`: the checkpoint to fine-tune from, when `init_from` is given.
- `pack.json`: what is in it, the training settings its instructions were gathered with, and sizes.

`python -m policy.from_pack PACK [key=value ...]` trains from it (`policy/from_pack.py`).
"""

from __future__ import annotations

import json
import math
import shutil
import zipfile
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from data_collection.dataset import DatasetReader, episode_meta_files
from policy.data import DemoData
from policy.language import DEFAULT_ENCODER, PrecomputedEncoder
from policy.paraphrase import Paraphrases
from policy.policy import Policy, PolicyConfig, make_encoder
from tasks.suite import TaskSuite

# Imported by training and missing on the GPU machine; PyYAML, omegaconf's other need, comes with
# transformers there.
TRAVELLING = ("omegaconf", "antlr4-python3-runtime")
MIB = 1 << 20
RESERVED = 8 << 10  # bytes kept for pack.json


@dataclass
class PackConfig:
    """`bcz pack dataset=PATH output=PATH`.

    Args:
        dataset: the LeRobot dataset whose first episodes travel.
        output: the pack's directory; an existing pack there is replaced when the new one is complete.
        max_mb: the pack's size limit in MiB. The device machine takes 64 MiB of working tree in all,
            the repository's own ~13 MiB included.
        episodes: how many episodes (None: as many as fit `max_mb`).
        init_from: a checkpoint to fine-tune from over there (its weights travel too).
        encoder: the sentence encoder whose vectors travel (init_from's, when given).
        suite / paraphrase_set / relabels: how the instructions are gathered (bcz train's defaults);
            training from the pack uses these (the vectors are for exactly these instructions), or
            fewer of them (paraphrase_set=null, relabels=false).
    """

    dataset: str = ""
    output: str = ""
    max_mb: float = 40.0
    episodes: int | None = None
    init_from: str | None = None
    encoder: str = DEFAULT_ENCODER
    suite: str = "default"
    paraphrase_set: str | None = None
    relabels: bool = True


def episode_files(reader: DatasetReader, index: int) -> list[str]:
    """The data and video files (relative paths) episode `index` is read from."""
    return [reader.data_file(index), *(reader.video_file(index, key) for key in reader.video_keys)]


def instructions_by_episode(data: DemoData) -> list[set[str]]:
    """For every episode, the instruction texts its segments teach (what training there will embed)."""
    taught: list[set[str]] = [set() for _ in range(data.cache.reader.num_episodes)]
    for segment in data.segments:
        taught[segment.episode].update(data.instructions[i].strip() for i in segment.instructions)
        taught[segment.episode].update(data.instructions[i].strip() for i in segment.paraphrases)
    return taught


def episodes_that_fit(
    reader: DatasetReader, taught: list[set[str]], dim: int, budget: int, wanted: int | None
) -> int:
    """How many of the dataset's first episodes fit `budget` bytes with their files, metadata and sentence
    vectors (float16), or `wanted` of them."""
    meta = reader.root / "meta"
    per_episode = sum(f.stat().st_size for f in episode_meta_files(reader.root)) / max(1, reader.num_episodes)
    seen_files: set[str] = set()
    texts: set[str] = set()
    size = sum(f.stat().st_size for f in meta.glob("*") if f.is_file())  # tasks, stats, labels, info
    count = 0
    for index in range(reader.num_episodes if wanted is None else min(wanted, reader.num_episodes)):
        new_files = [f for f in episode_files(reader, index) if f not in seen_files]
        grown = size + sum((reader.root / f).stat().st_size for f in new_files)
        grown += len(taught[index] - texts) * dim * 2 + per_episode
        if wanted is None and grown > budget:
            break
        seen_files.update(new_files)
        texts |= taught[index]
        size, count = grown, index + 1
    return count


def copy_first_episodes(src: Path, dst: Path, count: int, keep_empty: bool = True) -> None:
    """The parquet table at `src` into `dst`, only its rows of episodes below `count` (none: no file,
    unless `keep_empty`)."""
    table = pq.read_table(src)
    kept = table.filter(pc.less(table["episode_index"], count))
    if kept.num_rows or keep_empty:
        dst.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(kept, dst)


def write_subset(reader: DatasetReader, count: int, out: Path) -> None:
    """A LeRobot v3 dataset at `out` holding the first `count` episodes of `reader`'s."""
    src = reader.root
    data_files = {reader.data_file(i) for i in range(count)}
    for relative in sorted({f for i in range(count) for f in episode_files(reader, i)}):
        # a data file shared with later episodes keeps only these rows (LeRobot reads every row)
        if relative in data_files:
            copy_first_episodes(src / relative, out / relative, count)
        else:  # videos whole: an episode's from_timestamp still finds it
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / relative, out / relative)
    for path in episode_meta_files(src):
        copy_first_episodes(path, out / path.relative_to(src), count, keep_empty=False)
    # not collection.json: it describes the source's collection job, not this subset
    for path in (src / "meta").glob("*"):
        if path.is_file() and path.name not in ("info.json", "labels.parquet", "collection.json"):
            shutil.copyfile(path, out / "meta" / path.name)
    if (src / "meta" / "labels.parquet").is_file():
        copy_first_episodes(src / "meta" / "labels.parquet", out / "meta" / "labels.parquet", count)
    info = json.loads((src / "meta" / "info.json").read_text())
    frames = sum(int(reader.episodes[i]["length"]) for i in range(count))
    info |= {"total_episodes": count, "total_frames": frames, "splits": {"train": f"0:{count}"}}
    (out / "meta" / "info.json").write_text(json.dumps(info, indent=2))


def write_wheel(name: str, folder: Path) -> Path:
    """A wheel of the installed distribution `name`, rebuilt from its installed files (its RECORD
    lists them with their hashes); refused for one that is not pure Python."""
    dist = distribution(name)
    files = [f for f in dist.files or [] if "__pycache__" not in f.parts and not str(f).startswith("..")]
    if any(f.suffix in (".so", ".pyd") for f in files):
        raise ValueError(f"{name} is not pure Python; install it on the machine the pack goes to")
    version, stem = dist.version, dist.metadata["Name"].replace("-", "_")
    path = folder / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for f in files:
            wheel.write(f.locate(), str(f))
    return path


def make_pack(cfg: PackConfig, console: Console) -> dict:
    """Write the pack `cfg` describes (into `output`.partial, renamed when complete); its pack.json."""
    if not cfg.dataset or not cfg.output:
        raise ValueError("bcz pack needs dataset=PATH (a LeRobot dataset) and output=PATH (the pack)")
    out, partial = Path(cfg.output), Path(f"{cfg.output}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        manifest = write_pack(cfg, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    report(manifest, out, console)
    return manifest


def write_episodes(
    data: DemoData, taught: list[set[str]], count: int, encoder: str, partial: Path
) -> tuple[list[str], float]:
    """The first `count` episodes and their instructions' vectors into `partial`; (the texts, the
    largest change float16 made to a vector component)."""
    shutil.rmtree(partial / "dataset", ignore_errors=True)
    write_subset(data.cache.reader, count, partial / "dataset")
    texts = sorted(set().union(*taught[:count]))
    row = {t.strip(): i for i, t in enumerate(data.instructions)}
    vectors = data.embeddings[[row[t] for t in texts]].numpy()
    PrecomputedEncoder.save(partial / "embeddings.npz", encoder, texts, vectors)
    return texts, float(np.abs(vectors.astype(np.float16).astype(np.float32) - vectors).max())


def write_pack(cfg: PackConfig, partial: Path) -> dict:
    """Everything of the pack into the directory `partial`; its manifest."""
    (partial / "wheels").mkdir(parents=True)
    for name in TRAVELLING:
        write_wheel(name, partial / "wheels")
    init = Policy.from_pretrained(cfg.init_from) if cfg.init_from else None
    if init is not None:
        shutil.copytree(cfg.init_from, partial / "init", ignore=shutil.ignore_patterns("train_state.pt"))
    encoder = init.encoder if init is not None else make_encoder(PolicyConfig(encoder=cfg.encoder))
    suite = TaskSuite.load(cfg.suite)
    paraphrases = Paraphrases.load(cfg.paraphrase_set, suite) if cfg.paraphrase_set else None
    data = DemoData(
        cfg.dataset,
        encoder,
        PolicyConfig().chunk,
        suite=suite,
        relabels=cfg.relabels,
        paraphrases=paraphrases,
    )
    taught, reader = instructions_by_episode(data), data.cache.reader
    budget = int(cfg.max_mb * MIB) - RESERVED
    count = episodes_that_fit(reader, taught, encoder.dim, budget - bytes_in(partial), cfg.episodes)
    while True:  # the estimate is close, not exact (parquet compression): shrink until it fits
        if count == 0:
            raise ValueError(
                f"max_mb={cfg.max_mb}: not even one episode of {cfg.dataset} fits beside the rest"
            )
        texts, error = write_episodes(data, taught, count, encoder.name, partial)
        over = bytes_in(partial) - budget
        if over <= 0 or cfg.episodes is not None:
            break
        count -= max(1, math.ceil(over * count / bytes_in(partial / "dataset")))
    manifest = {
        "source": str(Path(cfg.dataset).resolve()),
        "episodes": count,
        "of_episodes": reader.num_episodes,
        "frames": sum(int(reader.episodes[i]["length"]) for i in range(count)),
        "instructions": len(texts),
        "float16_error": error,
        "train": {
            "policy.suite": cfg.suite,
            "paraphrase_set": cfg.paraphrase_set,
            "relabels": cfg.relabels,
            "policy.encoder": encoder.name,
            "init_from": "init" if init is not None else None,
        },
        "mib": {
            part: mib(partial / part)
            for part in ("dataset", "wheels", "init", "embeddings.npz")
            if (partial / part).exists()
        },
    }
    manifest["mib"]["total"] = mib(partial)
    (partial / "pack.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def bytes_in(path: Path) -> int:
    """The size of a file, or of every file in a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def mib(path: Path) -> float:
    return round(bytes_in(path) / MIB, 2)


def report(manifest: dict, out: Path, console: Console) -> None:
    table = Table(title=f"pack {out}")
    table.add_column("part")
    table.add_column("MiB", justify="right")
    for part, size in manifest["mib"].items():
        table.add_row(part, f"{size:.2f}")
    console.print(table)
    console.print(
        f"{manifest['episodes']} of {manifest['of_episodes']} episodes ({manifest['frames']} frames), "
        f"{manifest['instructions']} instruction vectors "
        f"(float16, largest change {manifest['float16_error']:.1e}).\n"
        f"Train there with: python -m policy.from_pack {out} output_dir=runs/from_pack [key=value ...]"
    )


def main(cfg) -> None:
    make_pack(OmegaConf.to_object(cfg), Console())
