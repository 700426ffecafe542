"""Fuzzing image intake: garbage, mutated real images and forged headers give a stable error code
or a bounded RGB array, never another exception and never an allocation past the pixel cap."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError
from modalities.screen.intake import decode_image
from modalities.screen.settings import ScreenSettings

SMALL = ScreenSettings(max_bytes=256 * 1024, max_pixels=250_000)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def seeds() -> dict[str, bytes]:
    from PIL import Image

    rng = np.random.default_rng(7)
    pixels = Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    out = {}
    for fmt, mode in (("PNG", "RGB"), ("PNG", "P"), ("PNG", "RGBA"), ("JPEG", "RGB"), ("WEBP", "RGB")):
        buf = io.BytesIO()
        pixels.convert(mode).save(buf, format=fmt)
        out[f"{fmt}-{mode}"] = buf.getvalue()
    return out


def check(data: bytes) -> None:
    try:
        rgb = decode_image(data, SMALL)
    except GatewayError as exc:
        assert exc.code.startswith("image-"), exc.code
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert rgb.shape[0] * rgb.shape[1] <= SMALL.max_pixels


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x00\x00\x00\x00WEBP"]),
       st.binary(max_size=2048))
def test_magic_then_garbage(magic: bytes, tail: bytes) -> None:
    check(magic + tail)


@FUZZ
@given(st.sampled_from(sorted(seeds())), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                                 max_size=12),
       st.integers(0, 10_000))
def test_mutated_images(name: str, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seeds()[name])
    for pos, value in flips:
        data[pos % len(data)] = value
    check(bytes(data[: max(1, len(data) - cut % len(data))]))


def png_with_size(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header claims width x height (a decompression bomb shape)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@FUZZ
@given(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1))
def test_forged_dimensions_never_allocate(width: int, height: int) -> None:
    data = png_with_size(width, height)
    if width * height > SMALL.max_pixels:
        with pytest.raises(GatewayError) as err:
            decode_image(data, SMALL)
        assert err.value.code in ("image-too-many-pixels", "image-corrupt")
    else:
        check(data)


def test_seeds_decode() -> None:
    for data in seeds().values():
        assert decode_image(data, SMALL).shape == (40, 60, 3)
