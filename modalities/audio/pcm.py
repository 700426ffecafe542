"""PCM16 <-> float32 conversion and a bounded splitter of byte streams into whole frames."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from contracts.errors import LimitExceeded, MediaError

Float32Audio = npt.NDArray[np.float32]
Int16Audio = npt.NDArray[np.int16]

_SCALE = 32768.0


def int16_to_float32(pcm: Int16Audio | bytes) -> Float32Audio:
    """Little-endian PCM16 (bytes or int16 array) to float32 in [-1, 1)."""
    if isinstance(pcm, bytes | bytearray | memoryview):
        if len(pcm) % 2:
            raise MediaError(f"PCM16 data has an odd length ({len(pcm)} bytes)", code="audio-bad-length")
        pcm = np.frombuffer(pcm, dtype="<i2")
    return pcm.astype(np.float32) / np.float32(_SCALE)


def float32_to_int16(audio: Float32Audio) -> Int16Audio:
    """Float audio to int16 with rounding and clipping (never wraps around)."""
    scaled = np.rint(np.asarray(audio, dtype=np.float32) * np.float32(_SCALE))
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def float32_to_bytes(audio: Float32Audio) -> bytes:
    return float32_to_int16(audio).astype("<i2").tobytes()


def frame_bytes(sample_rate: int, frame_ms: int, bytes_per_sample: int = 2) -> int:
    if sample_rate <= 0 or frame_ms <= 0 or (sample_rate * frame_ms) % 1000:
        raise MediaError(f"{frame_ms} ms is not a whole number of samples at {sample_rate} Hz",
                         code="audio-bad-frame-size")
    return sample_rate * frame_ms // 1000 * bytes_per_sample


class FrameSplitter:
    """Turns arbitrary byte chunks into whole frames of `frame_size` bytes, keeping the remainder.

    Sans-I/O: push() returns the frames completed by that chunk. A chunk larger than
    `max_chunk_bytes` is refused with LimitExceeded (code `audio-chunk-too-large`) and leaves
    the splitter unchanged, so the stream can go on.
    """

    def __init__(self, frame_size: int, max_chunk_bytes: int = 1 << 20) -> None:
        if frame_size <= 0 or max_chunk_bytes < frame_size:
            raise ValueError("frame_size must be positive and no larger than max_chunk_bytes")
        self.frame_size = frame_size
        self.max_chunk_bytes = max_chunk_bytes
        self._pending = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back until the next frame completes (always < frame_size)."""
        return len(self._pending)

    def push(self, data: bytes) -> list[bytes]:
        if len(data) > self.max_chunk_bytes:
            raise LimitExceeded(
                f"audio chunk of {len(data)} bytes exceeds the cap of {self.max_chunk_bytes}",
                code="audio-chunk-too-large",
            )
        self._pending += data
        whole = len(self._pending) - len(self._pending) % self.frame_size
        frames = [bytes(self._pending[i : i + self.frame_size]) for i in range(0, whole, self.frame_size)]
        del self._pending[:whole]
        return frames

    def flush(self, *, pad: bool = True) -> bytes | None:
        """The remainder as a last frame (zero-padded when pad) or None when nothing is pending."""
        if not self._pending:
            return None
        rest = bytes(self._pending)
        self._pending.clear()
        return rest.ljust(self.frame_size, b"\x00") if pad else rest

    def reset(self) -> None:
        self._pending.clear()
