"""G.711 mu-law and A-law, bit-exact to the ITU-T reference (Sun's g711.c, as audioop did).

Encoding is one lookup in a 65,536-entry table built once with numpy from the reference
algorithm; decoding is one lookup in a 256-entry table. Tables are read-only module constants.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from contracts.errors import MediaError

_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # in the 14-bit domain


_T = TypeVar("_T", bound=np.generic)


def _frozen(table: npt.NDArray[_T]) -> npt.NDArray[_T]:
    table.flags.writeable = False
    return table


def _all_int16() -> npt.NDArray[np.int32]:
    # Index i of an encode table is the int16 whose bit pattern is i (a uint16 view of the samples).
    return np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    pcm = _all_int16() >> 2  # arithmetic shift, as the reference does
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_SEG_UEND, mag, side="left")
    code = (np.minimum(seg, 7) << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0xF)
    code = np.where(seg >= 8, 0x7F, code)
    return np.asarray(code ^ mask, dtype=np.uint8)


def _build_ulaw_decode() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.asarray(np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS), dtype=np.int16)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    pcm = _all_int16() >> 3
    negative = pcm < 0
    mask = np.where(negative, 0x55, 0xD5)
    mag = np.where(negative, -pcm - 1, pcm)
    seg = np.searchsorted(_SEG_AEND, mag, side="left")
    shift = np.where(seg < 2, 1, np.minimum(seg, 7))
    code = (np.minimum(seg, 7) << 4) | ((mag >> shift) & 0xF)
    code = np.where(seg >= 8, 0x7F, code)
    return np.asarray(code ^ mask, dtype=np.uint8)


def _build_alaw_decode() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.asarray(np.where(a & 0x80, t, -t), dtype=np.int16)


ULAW_ENCODE = _frozen(_build_ulaw_encode())
ULAW_DECODE = _frozen(_build_ulaw_decode())
ALAW_ENCODE = _frozen(_build_alaw_encode())
ALAW_DECODE = _frozen(_build_alaw_decode())


def _as_int16(pcm: npt.NDArray[np.int16] | bytes) -> npt.NDArray[np.int16]:
    if isinstance(pcm, bytes | bytearray | memoryview):
        if len(pcm) % 2:
            raise MediaError(f"PCM16 data has an odd length ({len(pcm)} bytes)", code="audio-bad-length")
        return np.frombuffer(pcm, dtype="<i2")
    if pcm.dtype != np.int16:
        raise MediaError(f"expected int16 samples, got {pcm.dtype}", code="audio-bad-format")
    return pcm


def ulaw_encode(pcm: npt.NDArray[np.int16] | bytes) -> bytes:
    """PCM16 (int16 array or little-endian bytes) to mu-law bytes, one byte per sample."""
    return ULAW_ENCODE[_as_int16(pcm).view(np.uint16)].tobytes()


def ulaw_decode(data: bytes) -> npt.NDArray[np.int16]:
    return ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_encode(pcm: npt.NDArray[np.int16] | bytes) -> bytes:
    """PCM16 (int16 array or little-endian bytes) to A-law bytes, one byte per sample."""
    return ALAW_ENCODE[_as_int16(pcm).view(np.uint16)].tobytes()


def alaw_decode(data: bytes) -> npt.NDArray[np.int16]:
    return ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]
