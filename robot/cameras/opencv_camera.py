"""A real camera (USB webcam, RealSense RGB stream, a video file) through OpenCV, resized to the size a
policy expects. Frames are RGB uint8 HWC, like the simulated cameras."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from robot.cameras.camera import Camera


@dataclass
class OpenCVCameraConfig:
    device: str = "0"  # a device index ("0"), a /dev/video path, or a video file / stream URL
    width: int = 64  # frames are resized to this size (what the policy was trained on)
    height: int = 64
    capture_width: int | None = None  # ask the device for this resolution, if set
    capture_height: int | None = None
    fps: float | None = None


class OpenCVCamera(Camera):
    def __init__(self, config: OpenCVCameraConfig) -> None:
        self.config = config
        self.width, self.height = config.width, config.height
        self.capture: cv2.VideoCapture | None = None

    def connect(self) -> None:
        source = int(self.config.device) if self.config.device.isdigit() else self.config.device
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            raise OSError(
                f"camera {self.config.device!r} could not be opened (check the index or path, and that "
                "no other program holds it)"
            )
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, self.config.capture_width),
            (cv2.CAP_PROP_FRAME_HEIGHT, self.config.capture_height),
            (cv2.CAP_PROP_FPS, self.config.fps),
        ):
            if value:
                capture.set(prop, value)
        self.capture = capture

    def read(self) -> np.ndarray:
        if self.capture is None:
            raise OSError(f"camera {self.config.device!r} is not connected")
        ok, frame = self.capture.read()
        if not ok or frame is None:
            raise OSError(f"camera {self.config.device!r} returned no frame")
        frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def disconnect(self) -> None:
        if self.capture is not None:
            self.capture.release()
        self.capture = None
