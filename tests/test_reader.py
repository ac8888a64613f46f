"""The instruction reader (policy/reader.py): fit on text, it sends a task's phrasings to the vector of
the suite's phrasings of that task; a checkpoint carries it, reads through it, and drops it to fine-tune."""

from __future__ import annotations

import copy

import pytest
import torch
from rich.console import Console

from policy.fit_reader import fit_reader_cached
from policy.language import DEFAULT_ENCODER, SentenceEncoder, sentence_vector
from policy.policy import Policy
from policy.reader import InstructionReader, ReaderConfig, fit_reader, token_states
from policy.train import train
from tests.conftest import tiny_train_config
from tests.test_cli import bcz

TINY_READER = dict(width=32, heads=2, per_task=2, batch_size=64)


def test_the_reader_learns_which_task_a_phrasing_names_and_composes_held_out_ones():
    config = ReaderConfig(width=64, heads=2, per_task=6, batch_size=128, steps=300, lr=3e-3)  # ~15 s
    reader, report = fit_reader(DEFAULT_ENCODER, config, Console(quiet=True))
    fit_on, held_out = report.values()
    # the plain sentence vector names the wrong task for ~1 in 7 of these phrasings; the reader for few
    assert fit_on["sentence vector"][0] < 0.9 and fit_on["reader"][0] > 0.95
    assert fit_on["reader"][1] > fit_on["sentence vector"][1]  # and lands closer (cosine)
    # tasks it never read (held-out combinations) come out as their suite phrasings' vector too
    assert held_out["reader"][0] > held_out["sentence vector"][0] and held_out["reader"][0] > 0.97
    assert not reader.training


def test_an_unfit_reader_reads_the_plain_sentence_vector():
    """Its correction starts at zero: what it has not learned to read keeps its own meaning."""
    tokens = token_states(
        SentenceEncoder(pooling="tokens"), ["pick up the red block", "topple the blue flask"]
    )
    reader = InstructionReader(ReaderConfig(width=32, heads=2), tokens.shape[-1]).eval()
    plain = torch.as_tensor(SentenceEncoder().encode(["pick up the red block", "topple the blue flask"]))
    torch.testing.assert_close(reader(tokens), plain, atol=1e-5, rtol=0)
    torch.testing.assert_close(sentence_vector(tokens), plain, atol=1e-5, rtol=0)


def test_a_checkpoint_reads_through_its_reader_and_fine_tuning_drops_it(
    tiny_checkpoint, tiny_dataset, tmp_path
):
    out = tmp_path / "with_reader"
    overrides = [f"reader.{k}={v}" for k, v in {**TINY_READER, "steps": 5}.items()]
    done = bcz("fit-reader", f"checkpoint={tiny_checkpoint}", f"output_dir={out}", *overrides)
    assert done.returncode == 0, done.stderr
    assert "nearest task" in done.stdout
    plain, read = Policy.from_pretrained(tiny_checkpoint), Policy.from_pretrained(out)
    assert plain.reader is None and read.reader is not None and not read.reader.training
    assert read.meta["reader_fit"]["from"] == tiny_checkpoint
    weights = read.state_dict()
    for key, value in plain.state_dict().items():  # the network is the checkpoint's, untouched
        torch.testing.assert_close(weights[key], value)
    said = ["put the red brick inside the green basin", "pick up the blue block"]
    vectors = read.embed(said)
    tokens = token_states(SentenceEncoder(pooling="tokens"), said)
    torch.testing.assert_close(vectors, read.reader(tokens))
    torch.testing.assert_close(vectors.norm(dim=1), torch.ones(2))
    assert not torch.allclose(vectors, plain.embed(said))  # it does read differently
    rambling = " ".join(["please"] * 20) + " pick up the blue block and then hold it there for a while"
    torch.testing.assert_close(
        read.embed([rambling]), plain.embed([rambling])
    )  # too long: the sentence vector

    tuned = train(tiny_train_config(tiny_dataset, init_from=str(out), max_steps=2), tmp_path / "tuned")
    again = Policy.from_pretrained(tuned["checkpoint"])
    assert again.reader is None and again.config.reader is None  # fit for one suite's tasks, not new ones

    borrowed = tmp_path / "borrowed"  # same suite, no new tasks: the old reader serves as it is
    done = bcz(
        "fit-reader", f"checkpoint={tuned['checkpoint']}", f"output_dir={borrowed}", f"reader_from={out}"
    )
    assert done.returncode == 0, done.stderr
    copied = Policy.from_pretrained(borrowed)
    assert copied.meta["reader_fit"]["reader_from"] == str(out) and copied.config.reader == read.config.reader
    for key, value in read.reader.state_dict().items():
        torch.testing.assert_close(copied.reader.state_dict()[key], value)
    mine = copied.state_dict()
    for key, value in again.state_dict().items():  # the fine-tuned network, untouched
        torch.testing.assert_close(mine[key], value)
    torch.testing.assert_close(copied.embed(said), read.embed(said))  # read as the donor reads


def test_bad_reader_requests_are_one_line_errors(tiny_checkpoint, tiny_dataset, tmp_path):
    done = bcz("fit-reader", f"checkpoint={tiny_checkpoint}")
    assert done.returncode == 2 and "needs checkpoint=PATH" in done.stderr and "Traceback" not in done.stderr
    done = bcz("fit-reader", f"checkpoint={tiny_checkpoint}", f"output_dir={tiny_checkpoint}")
    assert done.returncode == 2 and "is the checkpoint itself" in done.stderr
    done = bcz(
        "fit-reader",
        f"checkpoint={tiny_checkpoint}",
        f"output_dir={tmp_path / 'r'}",
        f"reader_from={tiny_checkpoint}",
    )
    assert (
        done.returncode == 2 and "has no instruction reader" in done.stderr and "Traceback" not in done.stderr
    )
    done = bcz("fit-reader", f"checkpoint={tiny_checkpoint}", f"output_dir={tmp_path}", "reader.width=30")
    assert done.returncode == 2 and "reader.width=30 must be a multiple of reader.heads=4" in done.stderr
    config = copy.deepcopy(Policy.from_pretrained(tiny_checkpoint).config)
    config.encoder, config.reader = "onehot", ReaderConfig()
    with pytest.raises(ValueError, match=r"reads for a sentence encoder, not encoder=onehot"):
        Policy(config, 10)
    cfg = tiny_train_config(tiny_dataset)
    cfg.policy.reader = ReaderConfig()
    with pytest.raises(ValueError, match=r"policy\.reader is fit by `bcz fit-reader`"):
        train(cfg, tmp_path / "run")


def test_a_fit_is_kept_in_the_cache_and_a_changed_config_fits_anew(monkeypatch, tmp_path):
    monkeypatch.setattr("policy.fit_reader.cache_dir", lambda: tmp_path)
    config = ReaderConfig(**TINY_READER, steps=5)
    first, report, cached = fit_reader_cached(DEFAULT_ENCODER, config, Console(quiet=True))
    again, report_again, cached_again = fit_reader_cached(DEFAULT_ENCODER, config, Console(quiet=True))
    assert (cached, cached_again) == (False, True) and report_again == report
    tokens = token_states(SentenceEncoder(pooling="tokens"), ["put the pink block on the red plate"])
    with torch.no_grad():
        assert torch.equal(first.eval()(tokens), again(tokens))
    *_, other_seed = fit_reader_cached(
        DEFAULT_ENCODER, ReaderConfig(**TINY_READER, steps=5, seed=1), Console(quiet=True)
    )
    assert not other_seed and len(list(tmp_path.glob("readers/*.pt"))) == 2
