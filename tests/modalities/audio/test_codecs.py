from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from gateway.errors import MediaError
from modalities.audio.codecs import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

Encode = Callable[[npt.NDArray[np.int16]], bytes]
Decode = Callable[[bytes], npt.NDArray[np.int16]]
ALL_PCM = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)


def test_ulaw_known_values() -> None:
    # ITU-T G.711 table values: 0xFF/0x7F are the two zeros, 0x80/0x00 the extremes.
    decoded = ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00, 0xF0, 0x70]))
    assert decoded.tolist() == [0, 0, 32124, -32124, 120, -120]
    # -1 is -1 after the reference's arithmetic shift to 14 bits: the smallest negative step (0x7E).
    assert ulaw_encode(np.array([0, -1, 32767, -32768, 100, -100], dtype=np.int16)) == bytes(
        [0xFF, 0x7E, 0x80, 0x00, 0xF2, 0x72]
    )


def test_alaw_known_values() -> None:
    assert alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A])).tolist() == [8, -8, 32256, -32256]
    assert alaw_encode(np.array([0, -1, 32767, -32768], dtype=np.int16)) == bytes([0xD5, 0x55, 0xAA, 0x2A])


@pytest.mark.parametrize(("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_decode_encode_round_trip_is_identity_on_codes(encode: Encode, decode: Decode) -> None:
    codes = bytes(range(256))
    again = encode(decode(codes))
    # mu-law has two codes for zero (0xFF and 0x7F); every other code must survive exactly.
    diffs = [c for c, d in zip(codes, again, strict=True) if c != d]
    assert diffs in ([], [0x7F])


@pytest.mark.parametrize(("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_quantisation_error_is_bounded(encode: Encode, decode: Decode) -> None:
    back = decode(encode(ALL_PCM)).astype(np.int32)
    err = np.abs(back - ALL_PCM.astype(np.int32))
    # The largest step of G.711 is 1024 (mu-law) / 1024 (A-law) at the top segment.
    assert err.max() <= 1024
    small = np.abs(ALL_PCM.astype(np.int32)) < 256
    assert err[small].max() <= 16


def test_bytes_input_and_bad_lengths() -> None:
    pcm = np.array([1000, -1000, 5], dtype=np.int16)
    assert ulaw_encode(pcm.astype("<i2").tobytes()) == ulaw_encode(pcm)
    with pytest.raises(MediaError) as info:
        ulaw_encode(b"\x00\x01\x02")
    assert info.value.code == "audio-bad-length"
    with pytest.raises(MediaError):
        alaw_encode(np.zeros(3, dtype=np.float32))


def test_bit_exact_against_audioop_reference() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop", reason="audioop (the C reference) is gone in Python 3.13")
    data = ALL_PCM.astype("<i2").tobytes()
    assert ulaw_encode(ALL_PCM) == audioop.lin2ulaw(data, 2)
    assert alaw_encode(ALL_PCM) == audioop.lin2alaw(data, 2)
    codes = bytes(range(256))
    assert ulaw_decode(codes).astype("<i2").tobytes() == audioop.ulaw2lin(codes, 2)
    assert alaw_decode(codes).astype("<i2").tobytes() == audioop.alaw2lin(codes, 2)
