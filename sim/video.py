"""MP4 writing for episode videos: frames are buffered and the file appears atomically when done."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from conf.files import write_atomically


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

    def encode(tmp: str) -> None:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV could not open an MPEG-4 writer for {tmp}")
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()

    return write_atomically(path, encode)
