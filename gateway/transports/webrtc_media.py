"""The media pieces of the WebRTC transport, free of connections: the SDP check, the bounded
reply buffer and the outbound track that paces it, camera-frame sampling in media time, screen
change detection, and frame encoders (run in threads by the peer)."""

from __future__ import annotations

import asyncio
import fractions
import io
import time
from collections import deque
from collections.abc import Callable

import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from gateway.errors import GatewayError

FRAME_MS = 20
THUMB = (32, 18)  # screen-change detection works on a tiny grey thumbnail

def offer_kinds(sdp: str) -> list[str]:
    """The media kinds of an SDP offer in m-line order; GatewayError `webrtc-bad-offer` if unusable."""
    from aiortc.sdp import SessionDescription

    try:
        parsed = SessionDescription.parse(sdp)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError) as exc:
        raise GatewayError(f"the SDP offer cannot be parsed: {exc!r}", code="webrtc-bad-offer") from None
    kinds = [m.kind for m in parsed.media]
    if not kinds:
        raise GatewayError("the SDP offer has no media section", code="webrtc-bad-offer")
    return kinds


class ReplyBuffer:
    """Reply audio waiting for the outbound track (pcm16 bytes) and end-of-turn marks, bounded:
    audio beyond `max_bytes` is dropped and counted, never queued."""

    def __init__(self, frame_bytes: int, max_bytes: int) -> None:
        self.frame_bytes = frame_bytes
        self.max_bytes = max_bytes
        self.size = 0
        self.dropped_bytes = 0
        self._items: deque[bytes | int] = deque(maxlen=max_bytes // 2 + 1000)  # int = turn end mark

    def push(self, audio: bytes) -> bool:
        if self.size + len(audio) > self.max_bytes:
            self.dropped_bytes += len(audio)
            return False
        self._items.append(audio)
        self.size += len(audio)
        return True

    def end(self, turn_id: int) -> None:
        self._items.append(turn_id)

    def clear(self) -> None:
        self._items.clear()
        self.size = 0

    def pull(self) -> tuple[bytes, bool, list[int]]:
        """The next frame (silence-padded), whether it holds reply audio, and the turns it finishes."""
        out = bytearray()
        ended: list[int] = []
        items = self._items
        while items and (len(out) < self.frame_bytes or isinstance(items[0], int)):
            head = items.popleft()
            if isinstance(head, int):
                ended.append(head)
                continue
            need = self.frame_bytes - len(out)
            if len(head) > need:
                items.appendleft(head[need:])
                head = head[:need]
            out += head
        self.size -= len(out)
        audible = bool(out)
        out += bytes(self.frame_bytes - len(out))
        return bytes(out), audible, ended


class FrameSampler:
    """Which camera frames to keep, decided in media time: at most `fps` per second."""

    def __init__(self, fps: float) -> None:
        self.period_ms = 1000.0 / fps
        self._origin: float | None = None
        self._next_ms = 0.0
        self.skipped = 0

    def take(self, t_s: float) -> int | None:
        """The frame's media time in ms (from the first frame) when it should be kept, else None."""
        if self._origin is None:
            self._origin = t_s
        t_ms = (t_s - self._origin) * 1000.0
        if t_ms + 0.5 < self._next_ms:
            self.skipped += 1
            return None
        self._next_ms = max(self._next_ms, t_ms) + self.period_ms
        return max(0, int(t_ms))


def screen_changed(previous: npt.NDArray[np.float32] | None, current: npt.NDArray[np.float32],
                   threshold: float) -> bool:
    return previous is None or float(np.mean(np.abs(current - previous))) >= threshold


def encode_jpeg(frame: av.VideoFrame, max_side: int, quality: int) -> bytes:
    image = frame.to_image()
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def thumbnail(frame: av.VideoFrame) -> npt.NDArray[np.float32]:
    return np.asarray(frame.to_image().convert("L").resize(THUMB), dtype=np.float32)


def encode_png(frame: av.VideoFrame) -> bytes:
    out = io.BytesIO()
    frame.to_image().save(out, format="PNG", compress_level=3)
    return out.getvalue()


# ---------------------------------------------------------------------- the outbound track


class PacedAudioTrack(MediaStreamTrack):
    """Mono 16-bit audio handed out as 20 ms frames at real-time pace; subclasses say what is in
    each frame (`next_pcm`)."""

    kind = "audio"

    def __init__(self, rate: int) -> None:
        super().__init__()
        self.rate = rate
        self.samples = rate * FRAME_MS // 1000
        self._start: float | None = None
        self._pts = 0

    def next_pcm(self) -> bytes:
        """The next frame: exactly `samples` little-endian 16-bit samples."""
        raise NotImplementedError

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += self.samples
            wait = self._start + self._pts / self.rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.samples)
        frame.planes[0].update(self.next_pcm())
        frame.sample_rate = self.rate
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.rate)
        return frame


class ReplyTrack(PacedAudioTrack):
    """Reply audio in real time (aiortc's Opus encoder resamples to 48 kHz)."""

    def __init__(self, buffer: ReplyBuffer, rate: int, on_played: Callable[[int], None]) -> None:
        super().__init__(rate)
        self.buffer = buffer
        self._on_played = on_played

    def next_pcm(self) -> bytes:
        data, _, ended = self.buffer.pull()
        for turn_id in ended:  # the page has (within its jitter buffer) played that turn
            self._on_played(turn_id)
        return data
