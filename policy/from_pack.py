"""`python -m policy.from_pack PACK [key=value ...]`: train from a pack (`bcz pack`) on a machine with
torch but not the rest: no simulator, Ray, Hydra, PyAV, nor the sentence encoder's weights.

The same training as `bcz train` (`policy.train.train`, no rollouts: it is judged by validation loss
and per-channel action error), on the pack's dataset, with the pack's sentence vectors
(`$BCZ_EMBEDDINGS`) and its wheels on the path. Overrides are `bcz train`'s keys, typed by the same
schema (`TrainConfig`); those that would read other instructions are refused, since the pack holds
vectors for exactly the ones it was made with (`paraphrase_set=null` and `relabels=false`, which read
fewer, are not). The frame cache is built inside the pack
(`PACK/cache`, decoded by OpenCV where PyAV is missing).

Nothing is imported at the top but the standard library: the pack's wheels (omegaconf) must be on
the path before the learner is imported.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

FIXED = (
    "dataset",
    "policy.suite",
    "paraphrase_set",
    "relabels",
    "policy.encoder",
    "init_from",
    "mix_dataset",
)


def config_from_pack(pack: Path, overrides: list[str]):
    """The TrainConfig for training from `pack`: its settings, then `overrides` (key=value)."""
    from omegaconf import OmegaConf

    from policy.train import TrainConfig

    manifest = json.loads((pack / "pack.json").read_text())
    settings = dict(manifest["train"])
    init = settings.pop("init_from")
    narrower = {"paraphrase_set=null", "relabels=false"}  # fewer instructions: the vectors still cover them
    fixed = sorted({o.split("=", 1)[0] for o in overrides if o not in narrower} & set(FIXED))
    if fixed:
        raise ValueError(
            f"{', '.join(fixed)} cannot change when training from a pack: its sentence vectors are for the "
            f"instructions it was made with ({settings}); make another pack with bcz pack"
        )
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise ValueError(f"overrides are key=value (bcz train's keys), got {bad}")
    base = OmegaConf.from_dotlist([f"{k}={v}" for k, v in settings.items() if v is not None])
    if settings.get("paraphrase_set") is None:
        base.paraphrase_set = None
    base.dataset = str(pack / "dataset")
    base.init_from = str(pack / init) if init else None
    merged = OmegaConf.merge(OmegaConf.structured(TrainConfig), base, OmegaConf.from_dotlist(overrides))
    return OmegaConf.to_object(merged)


def main(argv: list[str] | None = None) -> dict:
    args = sys.argv[1:] if argv is None else argv
    if not args or not (Path(args[0]) / "pack.json").is_file():
        raise SystemExit("usage: python -m policy.from_pack PACK [key=value ...]  (PACK: a bcz pack output)")
    pack = Path(args[0]).resolve()
    for wheel in sorted((pack / "wheels").glob("*.whl")):  # pure Python: importable from the zip
        sys.path.insert(0, str(wheel))
    from policy.language import EMBEDDINGS_ENV

    os.environ[EMBEDDINGS_ENV] = str(pack / "embeddings.npz")
    cfg = config_from_pack(pack, args[1:])
    from rich.console import Console

    from policy.train import train

    return train(cfg, Path(cfg.output_dir or "runs/from_pack"), Console())


if __name__ == "__main__":
    main()
