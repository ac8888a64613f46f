"""`bcz interpolate`: a fine-tuned policy's weights moved part of the way back to the ones it started from.

A fine-tune that teaches something new (chains of instructions, new tasks) also unlearns some of what
the starting policy did well. Averaging the two sets of weights, parameter by parameter, keeps much of
both: the two lie in one basin of the loss, so points between them are policies too (WiSE-FT, Wortsman
et al. 2022, arXiv 2109.01903). No data and no training: the blend is written in seconds, and
`bcz eval` decides which weight to keep (measured in docs/notes/chains.md).

The blend keeps the fine-tuned checkpoint's config, normalization and instruction reader; only the
network's weights are mixed, so both checkpoints must share an architecture and normalization.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import OmegaConf

from policy.policy import Policy

READER = "reader."  # the instruction reader's weights: the fine-tuned checkpoint's own, never mixed
# what fixes what a weight means (PolicyConfig's architecture and data facts): must be the same in both
ARCHITECTURE = ("arch", "vit", "resnet", "chunk", "actions", "gripper", "proprio", "encoder", "cameras")
ARCHITECTURE += ("image_size", "state_names", "action_names")


@dataclass
class InterpolateConfig:
    tuned: str = ""  # the fine-tuned checkpoint
    base: str = ""  # the checkpoint it was fine-tuned from; empty: the init_from recorded in `tuned`
    weight: float = 0.5  # the fine-tune's share of the blend: 0 is the base policy, 1 the fine-tune
    output_dir: str = ""  # where the blend is written, as a checkpoint of its own


def network(policy: Policy) -> dict[str, torch.Tensor]:
    """The weights and statistics that make `policy` act, without its instruction reader."""
    return {k: v for k, v in policy.state_dict().items() if not k.startswith(READER)}


def check_weight(weight: float) -> None:
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight={weight} is not a share: give a number from 0 (base) to 1 (tuned)")


def check_blendable(base: Policy, tuned: Policy) -> None:
    """Raise unless `tuned` could be a fine-tune of `base`: one architecture, one normalization."""
    changed = [k for k in ARCHITECTURE if getattr(base.config, k) != getattr(tuned.config, k)]
    ours, theirs = network(tuned), network(base)
    changed += sorted(k for k in ours.keys() ^ theirs.keys())
    changed += [k for k in ours.keys() & theirs.keys() if ours[k].shape != theirs[k].shape]
    if changed:
        raise ValueError(
            f"the two policies differ in architecture ({len(changed)}: {', '.join(changed[:3])}): only a "
            "fine-tune and the checkpoint it started from can be interpolated"
        )
    buffers = {name for name, _ in tuned.named_buffers() if not name.startswith(READER)} & ours.keys()
    moved = sorted(k for k in buffers if not torch.equal(ours[k], theirs[k]))
    if moved:
        raise ValueError(
            f"the two policies normalize differently ({', '.join(moved)}): their weights mean different "
            "things, and a blend of them would act on neither's scale"
        )


def interpolate(base: Policy, tuned: Policy, weight: float) -> Policy:
    """`tuned` with each network weight w replaced by (1 - weight) * base's + weight * w."""
    check_weight(weight)
    check_blendable(base, tuned)
    theirs = network(base)
    blend = {k: torch.lerp(theirs[k], v, weight) for k, v in network(tuned).items()}
    tuned.load_state_dict({**tuned.state_dict(), **blend})  # the reader's weights stay the fine-tune's
    return tuned


def base_policy(path: str, tuned: str) -> Policy:
    """The checkpoint `tuned` is blended with, or a one-line error saying whose base is missing."""
    try:
        return Policy.from_pretrained(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{tuned} was fine-tuned from {path}, which is not a policy checkpoint here: give base=PATH"
        ) from None


def main(cfg) -> None:
    """`bcz interpolate tuned=PATH weight=0.5 output_dir=PATH`: writes the blend and says what it mixed."""
    config: InterpolateConfig = OmegaConf.to_object(cfg)
    if not config.tuned or not config.output_dir:
        raise ValueError("bcz interpolate needs tuned=PATH (a fine-tuned policy) and output_dir=PATH")
    check_weight(config.weight)  # before minutes of loading
    tuned = Policy.from_pretrained(config.tuned)
    base_path = config.base or tuned.meta.get("init_from")
    if not base_path:
        raise ValueError(f"{config.tuned} records no init_from (it was not fine-tuned): give base=PATH")
    out = Path(config.output_dir).resolve()
    if out in (Path(config.tuned).resolve(), Path(base_path).resolve()):
        raise ValueError(
            f"output_dir={config.output_dir} would overwrite a checkpoint it blends: give a new one"
        )
    blend = interpolate(base_policy(base_path, config.tuned), tuned, config.weight)
    record = {"base": str(base_path), "tuned": config.tuned, "weight": config.weight}
    # the fine-tune's own record (init_from, dataset, steps) stays: the blend is of that run
    meta = {k: v for k, v in tuned.meta.items() if k not in ("format", "cond_dim", "policy")}
    path = blend.save_pretrained(out, extra={**meta, "interpolated": record})
    print(f"wrote {path}: {config.weight:g} of {config.tuned} and {1 - config.weight:g} of {base_path}")
