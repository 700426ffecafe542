from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import LimitExceeded, MediaError
from modalities.audio.pcm import (
    FrameSplitter,
    float32_to_bytes,
    float32_to_int16,
    frame_bytes,
    int16_to_float32,
)


def test_int16_float_round_trip_is_exact() -> None:
    pcm = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    audio = int16_to_float32(pcm.tobytes())
    assert audio.dtype == np.float32 and audio.min() == -1.0 and audio.max() < 1.0
    assert np.array_equal(float32_to_int16(audio), pcm)


def test_float_to_int16_clips_instead_of_wrapping() -> None:
    out = float32_to_int16(np.array([1.5, -1.5, 0.5], dtype=np.float32))
    assert out.tolist() == [32767, -32768, 16384]
    assert float32_to_bytes(np.array([0.5], dtype=np.float32)) == (16384).to_bytes(2, "little")


def test_odd_byte_count_is_a_media_error() -> None:
    with pytest.raises(MediaError) as info:
        int16_to_float32(b"\x00\x00\x01")
    assert info.value.code == "audio-bad-length"


def test_frame_bytes() -> None:
    assert frame_bytes(8000, 20) == 320
    assert frame_bytes(16000, 20) == 640
    assert frame_bytes(8000, 20, 1) == 160
    with pytest.raises(MediaError):
        frame_bytes(22050, 3)


@given(st.lists(st.binary(max_size=700), max_size=30))
def test_splitter_yields_whole_frames_in_order(chunks: list[bytes]) -> None:
    splitter = FrameSplitter(320, max_chunk_bytes=1000)
    frames = [frame for chunk in chunks for frame in splitter.push(chunk)]
    joined = b"".join(chunks)
    assert all(len(f) == 320 for f in frames)
    assert b"".join(frames) == joined[: len(frames) * 320]
    assert splitter.pending == len(joined) % 320
    last = splitter.flush()
    if len(joined) % 320:
        assert last == joined[len(frames) * 320 :].ljust(320, b"\x00")
    else:
        assert last is None
    assert splitter.pending == 0


def test_splitter_refuses_oversized_chunk_and_keeps_state() -> None:
    splitter = FrameSplitter(4, max_chunk_bytes=8)
    assert splitter.push(b"abcde") == [b"abcd"]
    with pytest.raises(LimitExceeded) as info:
        splitter.push(b"x" * 9)
    assert info.value.code == "audio-chunk-too-large"
    assert splitter.push(b"fgh") == [b"efgh"]
    assert splitter.flush(pad=False) is None


def test_splitter_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        FrameSplitter(0)
    with pytest.raises(ValueError):
        FrameSplitter(640, max_chunk_bytes=100)
