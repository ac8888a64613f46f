"""Per-feature statistics in LeRobot's layout: per episode at write time, aggregated for meta/stats.json.

Each feature gets min, max, mean, std, count and the q01, q10, q50, q90, q99 quantiles. Images are
per channel, channel-first ([3, 1, 1]) and scaled to 0..1, computed on a sample of frames.
"""

from __future__ import annotations

import numpy as np

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = tuple(f"q{round(q * 100):02d}" for q in QUANTILES)
STAT_KEYS = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)
IMAGE_SAMPLE = 16  # frames per episode used for image statistics

Stats = dict[str, np.ndarray]


def array_stats(values: np.ndarray) -> Stats:
    """Statistics over axis 0 of (N, ...) values."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    out = {"min": v.min(0), "max": v.max(0), "mean": v.mean(0), "std": v.std(0), "count": np.array([len(v)])}
    for key, q in zip(QUANTILE_KEYS, np.quantile(v, QUANTILES, axis=0), strict=True):
        out[key] = q
    return out


def image_stats(frames: np.ndarray) -> Stats:
    """Per-channel statistics of (T, H, W, 3) uint8 frames, on up to IMAGE_SAMPLE evenly spaced frames."""
    idx = np.linspace(0, len(frames) - 1, min(IMAGE_SAMPLE, len(frames))).round().astype(int)
    pixels = frames[idx].reshape(-1, 3).astype(np.float64) / 255.0
    out = array_stats(pixels)
    out = {k: (v.reshape(3, 1, 1) if k != "count" else np.array([len(idx)])) for k, v in out.items()}
    return out


def aggregate(per_episode: list[Stats]) -> Stats:
    """Combine episode statistics: exact min/max/mean/std; quantiles as the count-weighted mean."""
    counts = np.array([float(s["count"][0]) for s in per_episode])
    w = counts / counts.sum()
    shape = np.asarray(per_episode[0]["mean"]).shape
    weights = w.reshape(-1, *([1] * len(shape)))
    means = np.stack([s["mean"] for s in per_episode])
    mean = (weights * means).sum(0)
    second = (weights * (np.stack([s["std"] for s in per_episode]) ** 2 + means**2)).sum(0)
    out = {
        "min": np.min(np.stack([s["min"] for s in per_episode]), 0),
        "max": np.max(np.stack([s["max"] for s in per_episode]), 0),
        "mean": mean,
        "std": np.sqrt(np.maximum(second - mean**2, 0.0)),
        "count": np.array([int(counts.sum())]),
    }
    for key in QUANTILE_KEYS:
        out[key] = (weights * np.stack([s[key] for s in per_episode])).sum(0)
    return out


def to_json(stats: dict[str, Stats]) -> dict:
    return {feature: {k: np.asarray(v).tolist() for k, v in s.items()} for feature, s in stats.items()}


def from_json(data: dict) -> dict[str, Stats]:
    return {feature: {k: np.asarray(v) for k, v in s.items()} for feature, s in data.items()}
