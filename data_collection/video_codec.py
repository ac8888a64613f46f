"""MP4 encoding and decoding for camera streams, with PyAV.

Frames are written at a constant rate with pts = i (time base 1/fps), as LeRobot's decoders require
(frame i at exactly i/fps). The default is H.264 in 4:4:4: at 64x64, 4:2:0 chroma subsampling (the
usual yuv420p) halves the colour resolution of 6-pixel objects and caps fidelity at ~30 dB PSNR, while
4:4:4 reaches ~39 dB at about the same size, and colour is what grounds "the red block".
PyAV is imported where a video is encoded or decoded, so that loading a policy, or training from frames
already decoded, needs no codec library. Where PyAV is not installed (a GPU machine holding only
OpenCV), videos are decoded with OpenCV's FFmpeg instead: frame i is the one at i/fps, as above.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from conf.files import write_atomically


class VideoError(ValueError):
    """An mp4 that cannot be decoded, or does not hold what the dataset says it holds."""


@dataclass
class VideoConfig:
    codec: str = "libx264"  # or "libsvtav1" (LeRobot's default; needs 4:2:0)
    pix_fmt: str = "yuv444p"
    crf: int = 18
    gop: int = 2  # a keyframe every 2 frames: random access for training-time decoding
    preset: str = "veryfast"  # libx264 names; for libsvtav1 use a number, e.g. "12"


def encode_mp4(frames: np.ndarray, fps: float, config: VideoConfig) -> bytes:
    """RGB frames (T, H, W, 3) uint8 -> mp4 bytes."""
    import av

    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise VideoError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        rate = Fraction(fps).limit_denominator(1000)
        stream = container.add_stream(config.codec, rate=rate)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = config.pix_fmt
        stream.options = {"g": str(config.gop), "crf": str(config.crf), "preset": str(config.preset)}
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            vf.time_base = 1 / rate
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


# Videos for people to watch (`bcz demo`, `bcz eval videos=N`): 4:2:0, which every player decodes, and
# keyframes 1 s apart, since nothing seeks in them frame by frame.
VIEWING = VideoConfig(pix_fmt="yuv420p", crf=23, gop=10)


def write_mp4(path: str | Path, frames: list[np.ndarray], fps: float, config: VideoConfig = VIEWING) -> Path:
    """RGB frames (H, W, 3) uint8 as an mp4 at `path`, written atomically; 4:2:0 needs even sizes, so an
    odd row or column is padded with black."""
    if not frames:
        raise VideoError(f"no frames to write to {path}")
    video = np.stack(frames)
    if config.pix_fmt == "yuv420p":
        video = np.pad(video, ((0, 0), (0, video.shape[1] % 2), (0, video.shape[2] % 2), (0, 0)))
    data = encode_mp4(video, fps, config)
    return write_atomically(path, lambda tmp: Path(tmp).write_bytes(data))


def decode_mp4(source: str | Path | bytes, start: float = 0.0, count: int | None = None) -> np.ndarray:
    """mp4 (path or bytes) -> RGB frames (T, H, W, 3) uint8; a broken file raises VideoError naming it.

    `start` (seconds) and `count` select a range: LeRobot v3.0 packs many episodes into one file, and
    an episode's frames are the `count` frames from its `from_timestamp` on. The decoder seeks to the
    keyframe before `start` and skips what precedes it, so an episode costs its own frames, not the
    file's. Any codec PyAV decodes works (LeRobot writes AV1 by default; H.264 and HEVC too). Without
    PyAV, OpenCV decodes (`_decode_with_opencv`)."""
    try:
        import av
    except ImportError:
        return _decode_with_opencv(source, start, count)

    name = "<bytes>" if isinstance(source, bytes) else str(source)
    frames: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source)) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 0) or None
            slack = 0.5 / rate if rate else 1e-3  # half a frame: timestamps are rounded in files
            if start > 0:
                container.seek(int(start / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if start > 0 and frame.time is not None and frame.time < start - slack:
                    continue
                frames.append(frame.to_ndarray(format="rgb24"))
                if count is not None and len(frames) == count:
                    break
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as e:
        raise VideoError(f"cannot decode video {name}: {e}") from e
    return _checked(frames, name, start)


def _decode_with_opencv(source: str | Path | bytes, start: float, count: int | None) -> np.ndarray:
    """The same frames through OpenCV, for machines without PyAV: read from the first frame on (its
    seeking is not frame-exact), those before `start` only grabbed, not decoded to RGB."""
    try:
        import cv2
    except ImportError as e:
        raise ImportError(
            "decoding a video needs PyAV (pip install av) or OpenCV (pip install opencv-python-headless)"
        ) from e
    if isinstance(source, bytes):
        with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
            f.write(source)
            f.flush()
            return _decode_with_opencv(f.name, start, count)
    name = str(source)
    capture = cv2.VideoCapture(name)
    frames: list[np.ndarray] = []
    try:
        if not capture.isOpened():
            raise VideoError(f"cannot decode video {name}: OpenCV cannot open it")
        rate = capture.get(cv2.CAP_PROP_FPS)
        slack = 0.5 / rate if rate > 0 else 1e-3  # half a frame, as above
        while (count is None or len(frames) < count) and capture.grab():
            if start > 0 and capture.get(cv2.CAP_PROP_POS_MSEC) / 1000 < start - slack:
                continue
            ok, bgr = capture.retrieve()
            if not ok:
                raise VideoError(f"cannot decode video {name}: frame {len(frames)} from {start:.3f} s")
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    except cv2.error as e:
        raise VideoError(f"cannot decode video {name}: {e}") from e
    finally:
        capture.release()
    return _checked(frames, name, start)


def _checked(frames: list[np.ndarray], name: str, start: float) -> np.ndarray:
    if not frames:
        raise VideoError(f"video {name} holds no frames" + (f" from {start:.3f} s" if start else ""))
    return np.stack(frames)


def video_feature_info(config: VideoConfig, height: int, width: int, fps: float) -> dict:
    """The `info` block LeRobot keeps for a video feature in meta/info.json."""
    codec = {"libx264": "h264", "libsvtav1": "av1"}.get(config.codec, config.codec)
    return {
        "video.height": height,
        "video.width": width,
        "video.codec": codec,
        "video.pix_fmt": config.pix_fmt,
        "video.is_depth_map": False,
        "video.fps": int(fps),
        "video.channels": 3,
        "video.g": config.gop,
        "video.crf": config.crf,
        "video.preset": config.preset,
        "has_audio": False,
    }
