"""Video frames to sign events: sample, decode (capped), track, classify, decode in media time.

Blocking by design: the session runs process_frame() in a worker thread, one frame at a time.
Frames that arrive faster than `sample_fps` (in media time) are dropped before they are decoded
and counted in `dropped_frames`, so a flood costs a size check per frame and never queues.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from contracts.errors import LimitExceeded, MediaError
from modalities.sign.decoder import SignDecoder
from modalities.sign.events import SignEvent
from modalities.sign.settings import SignSettings
from models.base import HandTracker, SignClassifier

TRACK_SIDE = 640  # the tracker resizes to 192/224 px anyway: decode big JPEGs at reduced scale


def decode_jpeg(data: bytes, settings: SignSettings) -> npt.NDArray[np.uint8]:
    """RGB uint8 HxWx3 from JPEG bytes; raises with stable codes on bad or oversized frames."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > settings.max_frame_bytes:
        raise LimitExceeded(
            f"video frame of {len(data)} bytes exceeds {settings.max_frame_bytes}",
            code="video-frame-too-large",
        )
    if not data.startswith(b"\xff\xd8"):
        raise MediaError("video frame is not a JPEG", code="video-frame-unsupported")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size  # from the header, before any pixel is decoded
            if width * height > settings.max_pixels:
                raise LimitExceeded(
                    f"video frame {width}x{height} exceeds {settings.max_pixels} pixels",
                    code="video-frame-too-large",
                )
            if min(width, height) < settings.min_side:
                raise MediaError(
                    f"video frame {width}x{height} is too small (min side {settings.min_side})",
                    code="video-frame-too-small",
                )
            if max(width, height) > TRACK_SIDE:
                image.draft(
                    "RGB",
                    (TRACK_SIDE * width // max(width, height), TRACK_SIDE * height // max(width, height)),
                )
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"video frame cannot be decoded: {exc}", code="video-frame-corrupt") from exc


# Media time this far behind the last sampled frame is not jitter: the client restarted its clock
# (a camera switch, a reconnect). The pipeline continues on a new timeline instead of dropping
# every frame until the new clock catches up with the old one.
CLOCK_RESET_MS = 1000


class SignPipeline:
    def __init__(
        self,
        settings: SignSettings,
        tracker_factory: Callable[[], HandTracker],
        classifier: SignClassifier,
    ) -> None:
        settings.validate()
        self.settings = settings
        # the movement model rides on the shared classifier (None: handshapes only)
        self.decoder = SignDecoder(settings, sequence=getattr(classifier, "sequence", None))
        self._factory = tracker_factory
        self._tracker: HandTracker | None = None
        self._classifier = classifier
        self._period_ms = 1000.0 / settings.sample_fps
        self._next_due: float | None = None
        self._last_t: int | None = None  # media time (on the pipeline's own timeline) last sampled
        self._offset = 0  # added to the client's media time after clock resets
        self.clock_resets = 0
        self.dropped_frames = 0
        self.processed_frames = 0
        self.frames_with_hands = 0

    def process_frame(self, jpeg_bytes: bytes, media_time_ms: int) -> list[SignEvent]:
        if len(jpeg_bytes) > self.settings.max_frame_bytes:  # refuse before anything else
            raise LimitExceeded(
                f"video frame of {len(jpeg_bytes)} bytes exceeds {self.settings.max_frame_bytes}",
                code="video-frame-too-large",
            )
        t = int(media_time_ms) + self._offset
        if self._last_t is not None and t < self._last_t - CLOCK_RESET_MS:
            shift = self._last_t + round(self._period_ms) - t
            self._offset, t, self._next_due = self._offset + shift, t + shift, None
            self.clock_resets += 1
        # A frame up to a tenth of a period early still fills its slot (rounded timestamps).
        if self._next_due is not None and t < self._next_due - self._period_ms / 10:
            self.dropped_frames += 1
            return []
        # Tolerate jitter: the next slot is one period after the slot this frame filled.
        self._next_due = (
            t + self._period_ms
            if self._next_due is None
            else max(self._next_due + self._period_ms, t + self._period_ms / 2)
        )
        self._last_t = t
        image = decode_jpeg(jpeg_bytes, self.settings)
        return self.process_image(image, t)

    def process_image(self, image: npt.NDArray[np.uint8], media_time_ms: int) -> list[SignEvent]:
        """Track, classify and decode one already-decoded RGB frame (no sampling)."""
        if self._tracker is None:
            self._tracker = self._factory()
        hands = self._tracker.track(image, media_time_ms)[: self.settings.max_hands]
        self.processed_frames += 1
        prediction: Any = None
        if hands:
            self.frames_with_hands += 1
            prediction = self._classifier.classify(hands)
        return self.decoder.push(media_time_ms, prediction)

    def warm(self) -> None:
        """Makes the tracker and runs it once on an empty frame (blocking; nothing is decoded)."""
        if self._tracker is None:
            self._tracker = self._factory()
        self._tracker.track(np.zeros((64, 64, 3), dtype=np.uint8), 0)

    def confirm(self, yes: bool, media_time_ms: int | None = None) -> list[SignEvent]:
        return self.decoder.confirm(yes, media_time_ms)

    def flush(self, media_time_ms: int) -> list[SignEvent]:
        return self.decoder.flush(media_time_ms)

    def close(self) -> None:
        """Closes the tracker this pipeline made; the injected classifier belongs to its owner
        (one read-only classifier can serve every session)."""
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None
