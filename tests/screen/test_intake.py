"""Image intake: every rejected input has its stable code; accepted odd images become RGB."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from gateway.errors import GatewayError, LimitExceeded, MediaError
from modalities.screen.intake import decode_image, sniff_format
from modalities.screen.settings import ScreenSettings

SETTINGS = ScreenSettings()


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height with one tiny (wrong) IDAT: a bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + chunk(b"IEND", b""))


def sample_png() -> bytes:
    img = Image.new("RGB", (200, 120), "white")
    img.paste((10, 20, 30), (20, 20, 180, 60))
    return encode(img, "PNG")


def expect(code: str, data: bytes, settings: ScreenSettings = SETTINGS) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        decode_image(data, settings)
    assert info.value.code == code, info.value
    return info.value


# ------------------------------------------------------------------ rejected


def test_too_many_bytes() -> None:
    data = sample_png()
    err = expect("image-too-large", data, ScreenSettings(max_bytes=len(data) - 1))
    assert isinstance(err, LimitExceeded)


def test_too_many_pixels_from_header_without_decoding() -> None:
    err = expect("image-too-many-pixels", png_header_only(5000, 4000))  # 20 MP > 16 MP
    assert isinstance(err, LimitExceeded)


def test_decompression_bomb_beyond_pillow_limit() -> None:
    expect("image-too-many-pixels", png_header_only(60000, 60000))


def test_configured_pixel_limit() -> None:
    expect("image-too-many-pixels", sample_png(), ScreenSettings(max_pixels=10_000))


@pytest.mark.parametrize("data", [
    b"", b"hello, this is text", b"GIF89a" + b"\x00" * 64, b"BM" + b"\x00" * 64,
    b"%PDF-1.7\n", b"RIFF\x00\x00\x00\x00WAVEfmt ",
])
def test_unsupported_or_non_image(data: bytes) -> None:
    err = expect("image-unsupported-format", data)
    assert isinstance(err, MediaError)


def test_gif_image_rejected_even_if_valid() -> None:
    expect("image-unsupported-format", encode(Image.new("RGB", (20, 20)), "GIF"))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated(fmt: str) -> None:
    img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8))
    data = encode(img, fmt)
    err = expect("image-truncated", data[: len(data) // 2])
    assert isinstance(err, MediaError)


def test_corrupt_png_data() -> None:
    data = bytearray(sample_png())
    start = data.index(b"IDAT") + 4
    data[start:start + 20] = b"\xff" * 20  # break the zlib stream (CRC is wrong too)
    expect("image-corrupt", bytes(data))


def test_corrupt_header_after_magic() -> None:
    expect("image-corrupt", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    expect("image-corrupt", b"\xff\xd8\xff" + b"\x00" * 40)


# ------------------------------------------------------------------ accepted


def test_sniff() -> None:
    assert sniff_format(sample_png()) == "PNG"
    assert sniff_format(encode(Image.new("RGB", (8, 8)), "JPEG")) == "JPEG"
    assert sniff_format(encode(Image.new("RGB", (8, 8)), "WEBP")) == "WEBP"
    assert sniff_format(b"RIFF1234WAVE") is None


def test_png_rgb_roundtrip() -> None:
    out = decode_image(sample_png(), SETTINGS)
    assert out.shape == (120, 200, 3) and out.dtype == np.uint8 and out.flags["C_CONTIGUOUS"]
    assert tuple(out[40, 100]) == (10, 20, 30) and tuple(out[5, 5]) == (255, 255, 255)


def test_transparency_flattened_onto_white() -> None:
    img = Image.new("RGBA", (50, 30), (0, 0, 0, 0))  # fully transparent black
    img.paste((0, 0, 0, 255), (10, 10, 20, 20))  # opaque black text pixel block
    out = decode_image(encode(img, "PNG"), SETTINGS)
    assert tuple(out[0, 0]) == (255, 255, 255)
    assert tuple(out[15, 15]) == (0, 0, 0)


def test_palette_png_with_transparency() -> None:
    img = Image.new("P", (40, 40), 0)
    img.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    img.paste(1, (10, 10, 30, 30))
    out = decode_image(encode(img, "PNG", transparency=0), SETTINGS)
    assert tuple(out[0, 0]) == (255, 255, 255)  # transparent palette entry -> white
    assert tuple(out[20, 20]) == (200, 30, 30)


def test_grey_and_16bit() -> None:
    grey = decode_image(encode(Image.new("L", (10, 10), 128), "PNG"), SETTINGS)
    assert tuple(grey[0, 0]) == (128, 128, 128)
    deep = Image.fromarray(np.full((10, 10), 65535, np.uint16))
    assert tuple(decode_image(encode(deep, "PNG"), SETTINGS)[0, 0]) == (255, 255, 255)


def test_exif_orientation_applied() -> None:
    img = Image.new("RGB", (60, 20), "white")
    img.paste((255, 0, 0), (0, 0, 10, 20))  # red band on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    out = decode_image(encode(img, "JPEG", exif=exif, quality=95), SETTINGS)
    assert out.shape == (60, 20, 3)  # portrait after applying the orientation
    assert out[2, 10, 0] > 200 and out[2, 10, 1] < 80  # the red band is now on top


def test_webp() -> None:
    img = Image.new("RGB", (64, 32), (0, 128, 255))
    out = decode_image(encode(img, "WEBP", lossless=True), SETTINGS)
    assert out.shape == (32, 64, 3) and tuple(out[10, 10]) == (0, 128, 255)
