"""MP4 writing for episode videos: frames are buffered and the file appears atomically when done."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np


def tile(main: np.ndarray, insets: list[np.ndarray]) -> np.ndarray:
    """The main view with the policy's camera views stacked in a column on its right."""
    h = main.shape[0]
    side = h // max(len(insets), 1)
    column = [cv2.resize(im, (side, side), interpolation=cv2.INTER_NEAREST) for im in insets]
    column = np.concatenate(column, axis=0) if column else np.zeros((0, side, 3), np.uint8)
    column = np.pad(column, ((0, h - column.shape[0]), (0, 0), (0, 0)))
    return np.concatenate([main, column], axis=1)


def write_mp4(path: str | Path, frames: list[np.ndarray], fps: float) -> Path:
    """Encode RGB frames (H, W, 3 uint8) as MPEG-4; written to a temp name, then renamed into place."""
    path = Path(path)
    if not frames:
        raise ValueError(f"no frames to write to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    tmp = path.with_name(f".{path.stem}.partial.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV could not open an MPEG-4 writer for {tmp}")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    os.replace(tmp, path)
    return path
