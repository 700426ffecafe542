"""Sample-rate conversion on libsoxr (high quality): streaming per chunk, or one shot."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from contracts.errors import MediaError

Float32Audio = npt.NDArray[np.float32]

MAX_RATE = 384_000


def _check_rate(rate: int) -> None:
    if not 1000 <= rate <= MAX_RATE:
        raise MediaError(f"unsupported sample rate {rate} Hz", code="audio-bad-rate")


def _mono_float32(audio: npt.ArrayLike) -> Float32Audio:
    arr = np.asarray(audio, dtype=np.float32)
    if arr.ndim != 1:
        raise MediaError(f"expected mono audio (1-D), got shape {arr.shape}", code="audio-bad-format")
    return arr


class Resampler:
    """Streaming resampler: process() each chunk in order, then flush() the filter's tail.

    Chunk-by-chunk output equals the one-shot result (soxr keeps the filter state), so the
    pipeline's chunking adds no clicks or errors. Same rates pass audio through untouched.
    """

    def __init__(self, in_rate: int, out_rate: int, *, quality: str = "HQ") -> None:
        _check_rate(in_rate)
        _check_rate(out_rate)
        self.in_rate, self.out_rate, self.quality = in_rate, out_rate, quality
        self._stream: Any = None
        self.reset()

    def reset(self) -> None:
        if self.in_rate != self.out_rate:
            import soxr  # lazy: only sessions that need conversion load it

            self._stream = soxr.ResampleStream(self.in_rate, self.out_rate, 1, dtype="float32",
                                               quality=self.quality)

    def process(self, chunk: npt.ArrayLike, *, last: bool = False) -> Float32Audio:
        """Resampled audio for this chunk (may be shorter than the ratio: the filter delays it)."""
        audio = _mono_float32(chunk)
        if self._stream is None:
            return audio
        return np.asarray(self._stream.resample_chunk(audio, last=last), dtype=np.float32)

    def flush(self) -> Float32Audio:
        """The samples still inside the filter; ends the stream and starts a fresh one."""
        tail = self.process(np.zeros(0, dtype=np.float32), last=True)
        self.reset()
        return tail


def resample(audio: npt.ArrayLike, in_rate: int, out_rate: int, *, quality: str = "HQ") -> Float32Audio:
    """One-shot conversion of a whole mono signal."""
    _check_rate(in_rate)
    _check_rate(out_rate)
    arr = _mono_float32(audio)
    if in_rate == out_rate or arr.size == 0:
        return arr
    import soxr

    return np.asarray(soxr.resample(arr, in_rate, out_rate, quality=quality), dtype=np.float32)
