"""`bcz fit-reader`: a checkpoint, unchanged, plus an instruction reader (`policy/reader.py`) fit on text
alone, or copied from another checkpoint of the same suite and encoder (`reader_from=`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from conf.files import cache_dir, write_atomically
from policy import reader as reader_module
from policy.paraphrase import Paraphrases
from policy.policy import Policy
from policy.reader import InstructionReader, ReaderConfig, Report, check_readable, fit_reader
from tasks.suite import TaskSuite


def report_table(report: Report, tasks: int) -> Table:
    table = Table(title=f"reader fit: nearest task among {tasks} (share right / mean cosine)")
    for col in ("instructions", "sentence vector", "reader"):
        table.add_column(col, justify="left" if col == "instructions" else "right")
    for name, cells in report.items():
        table.add_row(name, *("{:.1%} / {:.2f}".format(*cells[k]) for k in ("sentence vector", "reader")))
    return table


@dataclass
class FitReaderConfig:
    checkpoint: str = ""  # the policy to read instructions for (a sentence encoder, policy.pooling=mean)
    output_dir: str = ""  # a new directory: the checkpoint's config and weights, plus the reader
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    # Instead of fitting, take the reader of this checkpoint: a reader is fit on text alone (the encoder,
    # the suite, the paraphrase set), never on the policy's weights, so one fit serves every fine-tune of
    # a policy on the same suite's tasks, and a copy costs seconds instead of ~12 minutes.
    reader_from: str | None = None


def reader_key(encoder_name: str, config: ReaderConfig, more: Mapping[str, list[str]]) -> str:
    """What a fit depends on, hashed: the encoder, the reader's config, every phrasing it is fit on and
    aimed at (so an edited suite or paraphrase set, or other `more`, is a new fit), the reader's code
    and torch's version."""
    suite = TaskSuite.load(config.suite or "default")
    paraphrases = Paraphrases.load(config.paraphrase_set, suite, config.per_task)
    code = Path(reader_module.__file__).read_text()
    parts = [encoder_name, json.dumps(dataclasses.asdict(config), sort_keys=True), torch.__version__, code]
    for task in suite.tasks("all"):
        extra = paraphrases.of(task) if suite.split_of(task) == "train" else []
        parts += [task.id, suite.split_of(task), *suite.instructions(task), *extra, *more.get(task.id, [])]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def fit_reader_cached(
    encoder_name: str, config: ReaderConfig, console: Console, more: Mapping[str, list[str]] | None = None
) -> tuple[InstructionReader, Report, bool]:
    """`fit_reader`, kept in the cache (CACHE/readers) under `reader_key`: a reader is a function of text
    alone, so every fine-tune on the same suite reuses one fit (seconds instead of ~12 minutes). Also
    returns whether it came from the cache."""
    more = more or {}
    path = cache_dir() / "readers" / f"{reader_key(encoder_name, config, more)}.pt"
    if path.is_file():
        try:
            saved = torch.load(path, weights_only=True)
            reader = InstructionReader(config, saved["dim"])
            reader.load_state_dict(saved["state_dict"])
            console.print(f"instruction reader for suite {config.suite!r} from the cache ({path})")
            return reader.eval(), saved["report"], True
        except (RuntimeError, KeyError, EOFError, pickle.UnpicklingError) as e:
            console.print(f"unreadable cached reader {path} ({type(e).__name__}); fitting it again")
    reader, report = fit_reader(encoder_name, config, console, more)
    saved = {"dim": reader.proj.in_features, "state_dict": reader.state_dict(), "report": report}
    write_atomically(path, lambda tmp: torch.save(saved, tmp))
    return reader, report, False


def borrowed_reader(donor_path: str, policy: Policy) -> tuple[InstructionReader, ReaderConfig, object]:
    """The reader of checkpoint `donor_path`, checked to read for `policy` (same encoder and suite)."""
    donor = Policy.from_pretrained(donor_path)
    if donor.reader is None:
        raise ValueError(f"reader_from={donor_path} has no instruction reader; fit one with bcz fit-reader")
    suite = donor.config.reader.suite or donor.config.suite
    if donor.config.encoder != policy.config.encoder or suite != policy.config.suite:
        raise ValueError(
            f"reader_from={donor_path} reads {suite!r} tasks with {donor.config.encoder!r}; this policy has "
            f"suite {policy.config.suite!r} and encoder {policy.config.encoder!r}: fit a reader instead"
        )
    return donor.reader, donor.config.reader, donor.meta.get("reader_fit", {}).get("nearest_task")


def save_with_reader(
    policy: Policy, reader: InstructionReader, config: ReaderConfig, output_dir: Path, fit: dict
) -> None:
    """Write `policy` with `reader` to `output_dir`, its run's records kept and how the reader came
    (`fit`: from where, how long, how well it reads) under `reader_fit`."""
    policy.set_reader(reader, config)
    kept = {k: v for k, v in policy.meta.items() if k not in ("format", "cond_dim", "policy")}
    policy.save_pretrained(output_dir, {**kept, "reader_fit": fit})


def main(cfg) -> None:
    """`bcz fit-reader checkpoint=PATH output_dir=PATH`: the checkpoint, unchanged, plus a reader."""
    config: FitReaderConfig = OmegaConf.to_object(cfg)
    if not config.checkpoint or not config.output_dir:
        raise ValueError(
            "bcz fit-reader needs checkpoint=PATH (a policy) and output_dir=PATH (where it is written "
            "with its reader)"
        )
    if Path(config.output_dir).resolve() == Path(config.checkpoint).resolve():
        raise ValueError(
            f"output_dir={config.output_dir} is the checkpoint itself; write the policy with its reader to "
            "a new directory (the checkpoint's evaluation and training state describe it without one)"
        )
    policy = Policy.from_pretrained(config.checkpoint)
    check_readable(policy.config.encoder)
    config.reader.suite = config.reader.suite or policy.config.suite
    console, start = Console(), time.monotonic()
    if config.reader_from:
        reader, config.reader, report = borrowed_reader(config.reader_from, policy)
    else:
        reader, report, _ = fit_reader_cached(policy.config.encoder, config.reader, console)
    fit = {"from": config.checkpoint, "seconds": round(time.monotonic() - start), "nearest_task": report}
    if config.reader_from:
        fit["reader_from"] = config.reader_from
    save_with_reader(policy, reader, config.reader, Path(config.output_dir), fit)
    suite = TaskSuite.load(config.reader.suite)
    if report is not None:
        console.print(report_table(report, len(suite.tasks("train")) + len(suite.tasks("held_out"))))
    console.print(f"wrote {config.output_dir} (the policy of {config.checkpoint} with its reader)")
