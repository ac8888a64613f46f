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


class StatsSum:
    """A running aggregate of episode statistics, so that adding an episode costs the same at the 10th
    as at the 10,000th (the writer rewrites meta/stats.json at every commit).

    Exact min / max / mean / std; quantiles as the count-weighted mean of the episodes' quantiles.
    """

    def __init__(self) -> None:
        self.count = 0.0
        self.sums: dict[str, np.ndarray] = {}  # count-weighted sums: mean, second moment, quantiles
        self.low: np.ndarray | None = None
        self.high: np.ndarray | None = None

    def add(self, s: Stats) -> None:
        c = float(np.asarray(s["count"]).reshape(-1)[0])
        mean = np.asarray(s["mean"], dtype=np.float64)
        terms = {"mean": mean, "second": np.asarray(s["std"], dtype=np.float64) ** 2 + mean**2}
        terms |= {k: np.asarray(s[k], dtype=np.float64) for k in QUANTILE_KEYS}
        for key, value in terms.items():
            self.sums[key] = self.sums.get(key, 0.0) + c * value
        self.low = np.asarray(s["min"]) if self.low is None else np.minimum(self.low, s["min"])
        self.high = np.asarray(s["max"]) if self.high is None else np.maximum(self.high, s["max"])
        self.count += c

    def result(self) -> Stats:
        if self.low is None:
            raise ValueError("no episode statistics to aggregate")
        mean = self.sums["mean"] / self.count
        out = {
            "min": self.low,
            "max": self.high,
            "mean": mean,
            "std": np.sqrt(np.maximum(self.sums["second"] / self.count - mean**2, 0.0)),
            "count": np.array([int(self.count)]),
        }
        return out | {key: self.sums[key] / self.count for key in QUANTILE_KEYS}


def aggregate(per_episode: list[Stats]) -> Stats:
    """Combine episode statistics (see StatsSum)."""
    total = StatsSum()
    for s in per_episode:
        total.add(s)
    return total.result()


def to_json(stats: dict[str, Stats]) -> dict:
    return {feature: {k: np.asarray(v).tolist() for k, v in s.items()} for feature, s in stats.items()}


def from_json(data: dict) -> dict[str, Stats]:
    return {feature: {k: np.asarray(v) for k, v in s.items()} for feature, s in data.items()}
