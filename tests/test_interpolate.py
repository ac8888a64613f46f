"""`bcz interpolate`: a fine-tune's network weights blended with its starting policy's, the rest its own."""

from __future__ import annotations

import torch

from policy import Policy
from policy.interpolate import interpolate, network
from tests.test_cli import bcz


def a_fine_tune(base_path: str, path, seed: int = 0) -> Policy:
    """`base_path` with every network weight moved (what a fine-tune does), recording where it started."""
    tuned = Policy.from_pretrained(base_path)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.1)
    tuned.save_pretrained(path, extra={"init_from": base_path})
    return tuned


def test_the_blend_is_the_weighted_mean_of_the_two_networks(tiny_checkpoint, tmp_path):
    a_fine_tune(tiny_checkpoint, tmp_path / "tuned")
    out = bcz("interpolate", f"tuned={tmp_path / 'tuned'}", "weight=0.25", f"output_dir={tmp_path / 'blend'}")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "0.25 of" in out.stdout

    base, tuned = Policy.from_pretrained(tiny_checkpoint), Policy.from_pretrained(tmp_path / "tuned")
    blend = Policy.from_pretrained(tmp_path / "blend")  # rebuilds alone
    assert blend.meta["interpolated"] == {
        "base": tiny_checkpoint,
        "tuned": str(tmp_path / "tuned"),
        "weight": 0.25,
    }
    assert blend.meta["init_from"] == tiny_checkpoint
    ours, theirs, mixed = network(tuned), network(base), network(blend)
    moved = [k for k in mixed if not torch.equal(ours[k], theirs[k])]
    statistics = {name for name, _ in blend.named_buffers()} & mixed.keys()
    assert moved and statistics and not statistics & set(moved)
    for k in moved:
        torch.testing.assert_close(mixed[k], 0.75 * theirs[k] + 0.25 * ours[k])
    for weight, same_as in ((0.0, theirs), (1.0, ours)):
        ends = network(interpolate(base, Policy.from_pretrained(tmp_path / "tuned"), weight))
        assert all(torch.allclose(ends[k], same_as[k]) for k in ends)


def test_what_cannot_be_blended_is_refused_in_one_line(tiny_checkpoint, tmp_path):
    a_fine_tune(tiny_checkpoint, tmp_path / "tuned")
    out = bcz("interpolate", f"tuned={tmp_path / 'tuned'}", "weight=1.5", f"output_dir={tmp_path / 'x'}")
    assert out.returncode == 2 and "weight=1.5 is not a share" in out.stderr

    renormalized = Policy.from_pretrained(tmp_path / "tuned")
    renormalized.action_std.mul_(2)  # a fine-tune that recomputed the statistics on its new data
    renormalized.save_pretrained(tmp_path / "renormalized", extra={"init_from": tiny_checkpoint})
    out = bcz("interpolate", f"tuned={tmp_path / 'renormalized'}", f"output_dir={tmp_path / 'x'}")
    assert out.returncode == 2 and "normalize differently (action_std)" in out.stderr

    shipped = "policy/pretrained/default"  # another architecture altogether
    out = bcz("interpolate", f"tuned={tmp_path / 'tuned'}", f"base={shipped}", f"output_dir={tmp_path / 'x'}")
    assert out.returncode == 2 and "differ in architecture" in out.stderr
    out = bcz("interpolate", f"tuned={tiny_checkpoint}", f"output_dir={tmp_path / 'x'}")  # no init_from
    assert out.returncode == 2 and "give base=PATH" in out.stderr
    assert not (tmp_path / "x").exists()


def test_the_reader_is_the_fine_tunes_own_never_a_blend(tmp_path):
    """A reader is fit on text for its policy's suite; half of two readers reads for neither."""
    shipped = "policy/pretrained/default"
    tuned = a_fine_tune(shipped, tmp_path / "tuned", seed=1)  # its reader moved too
    reader = {k: v.clone() for k, v in tuned.state_dict().items() if k.startswith("reader.")}
    base = Policy.from_pretrained(shipped)
    blend = interpolate(base, tuned, 0.5)
    assert reader and all(torch.equal(blend.state_dict()[k], v) for k, v in reader.items())

    readerless = Policy.from_pretrained(tmp_path / "tuned")
    readerless.set_reader(None, None)  # as `bcz finetune` leaves it
    blend = interpolate(base, readerless, 0.5)
    assert blend.reader is None and not any(k.startswith("reader.") for k in blend.state_dict())
