"""The instruction reader: a small network over the frozen encoder's tokens that says an instruction the
way the policy was taught it (`bcz fit-reader`).

A policy trains on the sentence vector (the mean of MiniLM's token states) of the suite's phrasings and
a paraphrase set's. With object words it never heard ("flask", "brick") that vector blurs which colour
goes with which object (`benchmarks/language_factors.py`; figures in docs/notes/language.md). The mean
is where the binding is lost; the token states still hold it. The reader is a two-layer transformer over the
token states and their places in the sentence, fit to send every training phrasing of a task to the
vector of the suite's own phrasings of it (their mean), so the policy hears what it learned from. It is
a correction added to the instruction's own sentence vector, so what it cannot place keeps its meaning.

It is fit on text alone, minutes on a CPU, and never on a held-out task: the held-out tasks' suite
phrasings, which it never saw, say whether it composes what it learned. The policy network is untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from torch import nn

from conf.checks import at_least, positive
from policy.language import (
    TOKEN_SLOTS,
    InstructionTooLong,
    SentenceEncoder,
    present_rows,
    sentence_vector,
    unit_mean,
)
from policy.paraphrase import Paraphrases
from tasks.suite import TaskSpec, TaskSuite

log = logging.getLogger(__name__)


@dataclass
class ReaderConfig:
    """How an instruction reader is built and fit (`bcz fit-reader`); saved with the policy."""

    width: int = 256  # the transformer's width (128 read new words worse: README, Language)
    layers: int = 2  # transformer layers over the token states
    heads: int = 4  # attention heads per layer
    suite: str | None = None  # whose tasks it reads (train tasks only) and aims at; null: the policy's suite
    paraphrase_set: str = "wide"  # conf/paraphrase_sets/<name>.yaml: the other phrasings it is fit on
    per_task: int = 96  # of those, at most this many per train task (drawn the same way every time)
    steps: int = 2000  # optimizer steps (~12 min on 2 CPU cores)
    batch_size: int = 256  # phrasings per step
    lr: float = 1.0e-3  # AdamW peak learning rate (one-cycle schedule)
    seed: int = 0  # initialization and batch order

    def __post_init__(self) -> None:
        at_least(self, 1, "width", "layers", "heads", "per_task", "steps", "batch_size")
        positive(self, "lr")
        if self.width % self.heads:
            raise ValueError(f"reader.width={self.width} must be a multiple of reader.heads={self.heads}")


class InstructionReader(nn.Module):
    """(B, T, D) token states (zero rows after the last; T <= TOKEN_SLOTS) -> (B, D) unit vectors: the
    instruction's mean-pooled sentence vector plus a learned correction."""

    def __init__(self, config: ReaderConfig, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, config.width)
        self.place = nn.Parameter(torch.randn(1, TOKEN_SLOTS, config.width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            config.width, config.heads, 4 * config.width, dropout=0.1, batch_first=True, norm_first=True
        )
        self.body = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.out = nn.Linear(config.width, dim)
        nn.init.zeros_(self.out.weight)  # starts as the plain sentence vector
        nn.init.zeros_(self.out.bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T, D) token states -> (B, D) unit instruction vectors."""
        present = present_rows(tokens)
        length = int(present.sum(1).max())  # rows past the longest instruction are padding for all
        tokens, present = tokens[:, :length], present[:, :length]
        h = self.body(self.proj(tokens) + self.place[:, :length], src_key_padding_mask=~present)
        read = unit_mean(h, present.to(h.dtype))
        return F.normalize(sentence_vector(tokens) + self.out(read), dim=-1)


def check_readable(encoder: str) -> None:
    """Refuse a reader for encoder=onehot: a reader corrects sentence vectors, not task ids."""
    if encoder == "onehot":
        raise ValueError("an instruction reader reads for a sentence encoder, not encoder=onehot (task ids)")


KEEP_READ = 64  # instructions whose token states a running policy remembers (benchmarks/soak.py)


class Reading:
    """A policy's way into its reader: token states (kept in memory: a training-sized disk cache of them,
    hundreds of MB, would be reread at start and rewritten at every new instruction) through the reader;
    an instruction too long for its TOKEN_SLOTS places gets the plain sentence vector instead."""

    def __init__(self, reader: InstructionReader, encoder: str, plain: Callable[[list[str]], np.ndarray]):
        self.reader, self.plain = reader, plain
        # every new instruction would stay in memory (49 KB of token states each) for the whole run
        self.tokens = SentenceEncoder(encoder, pooling="tokens", memory_only=True, keep=KEEP_READ)

    @torch.no_grad()
    def __call__(self, instructions: list[str], device: torch.device) -> torch.Tensor:
        try:
            states = token_states(self.tokens, instructions)
        except InstructionTooLong as e:
            log.warning("%s; read without the instruction reader", e)
            return torch.as_tensor(self.plain(instructions), device=device)
        return self.reader.eval()(states.to(device))


def token_states(encoder: SentenceEncoder, texts: list[str]) -> torch.Tensor:
    """(N, TOKEN_SLOTS, D) token states of `texts` from a pooling=tokens encoder."""
    return torch.as_tensor(encoder.encode(texts)).view(len(texts), TOKEN_SLOTS, -1)


def suite_vectors(encoder: SentenceEncoder, suite: TaskSuite, tasks: list[TaskSpec]) -> torch.Tensor:
    """(len(tasks), D): per task, the unit mean of the sentence vectors of the suite's phrasings of it."""
    rows = [torch.as_tensor(encoder.encode(suite.instructions(t))).mean(0) for t in tasks]
    return F.normalize(torch.stack(rows), dim=-1)


Report = dict[str, dict[str, tuple[float, float]]]  # row -> {"sentence vector" | "reader": nearest_task}


def fit_reader(
    encoder_name: str, config: ReaderConfig, console: Console, more: Mapping[str, list[str]] | None = None
) -> tuple[InstructionReader, Report]:
    """A reader for `encoder_name`'s tokens, fit on the train tasks' phrasings (plus `more`, task id ->
    phrasings: what a fine-tune's new data says); and how often it (and the plain sentence vector) lands
    nearest its own task, on what it was fit on and on the held-out tasks' suite phrasings, which it
    never saw (`nearest_task`)."""
    torch.manual_seed(config.seed)
    suite = TaskSuite.load(config.suite or "default")
    paraphrases = Paraphrases.load(config.paraphrase_set, suite, config.per_task)
    means = SentenceEncoder(encoder_name)
    tokens = SentenceEncoder(encoder_name, pooling="tokens", memory_only=True)  # 0.6 GB on disk otherwise
    more = {task: [t for t in texts if fits(tokens, t)] for task, texts in (more or {}).items()}
    train, held_out = suite.tasks("train"), suite.tasks("held_out")
    targets = suite_vectors(means, suite, train + held_out)
    texts, labels = [], []
    for i, task in enumerate(train):
        for text in dict.fromkeys([*suite.instructions(task), *paraphrases.of(task), *more.get(task.id, [])]):
            texts.append(text)
            labels.append(i)
    console.print(f"reader: {len(texts)} phrasings of {len(train)} train tasks ({config.paraphrase_set})")
    x, y = token_states(tokens, texts), torch.tensor(labels)
    reader = InstructionReader(config, x.shape[-1])
    optimizer = torch.optim.AdamW(reader.parameters(), lr=config.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, config.steps, pct_start=0.05)
    order = torch.Generator().manual_seed(config.seed)
    start = time.monotonic()
    reader.train()
    for step in range(1, config.steps + 1):
        batch = torch.randint(len(texts), (config.batch_size,), generator=order)
        loss = (1 - (reader(x[batch]) * targets[y[batch]]).sum(-1)).mean()  # cosine distance
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == config.steps:
            console.print(
                f"  step {step}/{config.steps}  cosine distance {loss.item():.4f}  "
                f"{time.monotonic() - start:.0f} s"
            )
    reader.eval()
    held_texts = [text for t in held_out for text in suite.instructions(t)]
    held_labels = [len(train) + i for i, t in enumerate(held_out) for _ in suite.instructions(t)]
    rows = {
        f"{len(texts)} phrasings of train tasks (fit on)": (x, y),
        f"{len(held_texts)} suite phrasings of held-out tasks (never seen)": (
            token_states(tokens, held_texts),
            torch.tensor(held_labels),
        ),
    }
    with torch.no_grad():
        report = {
            name: {
                "sentence vector": nearest_task(sentence_vector(x), y, targets),
                "reader": nearest_task(reader(x), y, targets),
            }
            for name, (x, y) in rows.items()
        }
    return reader, report


def fits(encoder: SentenceEncoder, text: str) -> bool:
    """Whether `text` has room in the reader's TOKEN_SLOTS places (a longer one is left out, said so)."""
    try:
        token_states(encoder, [text])
    except InstructionTooLong as e:
        log.warning("%s; the reader is fit without it", e)
        return False
    return True


def nearest_task(vectors: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
    """The share of `vectors` nearest (by cosine) their own task's target, and their mean cosine to it."""
    right = ((vectors @ targets.T).argmax(1) == labels).float().mean().item()
    return right, (vectors * targets[labels]).sum(-1).mean().item()
