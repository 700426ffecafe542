"""Image intake: encoded bytes from a caller to an RGB array, or a stable error code.

Only PNG, JPEG and WebP are accepted, recognised by their magic bytes (never by a name or a
client-declared type). Limits are checked before pixels are decoded: the byte size first, then
the pixel count from the header, so a decompression bomb is refused without inflating it.
EXIF orientation is applied; transparency is flattened onto white (a transparent PNG with dark
text otherwise reads as nothing); palette, greyscale, 16-bit and CMYK images become RGB.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import numpy.typing as npt

from contracts.errors import LimitExceeded, MediaError
from modalities.screen.settings import ScreenSettings

RgbImage = npt.NDArray[np.uint8]


class ImageTooLarge(LimitExceeded):
    code = "image-too-large"


class ImageTooManyPixels(LimitExceeded):
    code = "image-too-many-pixels"


class ImageUnsupportedFormat(MediaError):
    code = "image-unsupported-format"


class ImageTruncated(MediaError):
    code = "image-truncated"


class ImageCorrupt(MediaError):
    code = "image-corrupt"


def sniff_format(data: bytes) -> str | None:
    """"PNG" | "JPEG" | "WEBP" from the magic bytes, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def decode_image(data: bytes, settings: ScreenSettings) -> RgbImage:
    """Blocking (run it in a worker thread). HxWx3 RGB uint8, C-contiguous."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > settings.max_bytes:
        raise ImageTooLarge(f"image is {len(data)} bytes; the limit is {settings.max_bytes}")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageUnsupportedFormat("not a PNG, JPEG or WebP image")
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, on bombs; our own pixel limit is checked right after.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooManyPixels(f"image dimensions are too large: {exc}") from None
    except UnidentifiedImageError:
        raise ImageCorrupt(f"{fmt} header is unreadable") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _load_error(fmt, exc) from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageCorrupt(f"{fmt} image has no pixels")
    if width * height > settings.max_pixels:
        raise ImageTooManyPixels(
            f"image is {width}x{height} = {width * height} pixels; the limit is {settings.max_pixels}")
    try:
        image.load()
        rgb = _to_rgb(ImageOps.exif_transpose(image) or image)
    except (OSError, SyntaxError, ValueError, EOFError, KeyError, IndexError) as exc:
        raise _load_error(fmt, exc) from None
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def _load_error(fmt: str, exc: BaseException) -> MediaError:
    text = str(exc).lower()
    if "truncated" in text or isinstance(exc, EOFError) or "end of file" in text or "premature" in text:
        return ImageTruncated(f"{fmt} data is truncated")
    return ImageCorrupt(f"{fmt} data is corrupt: {exc}")


def _to_rgb(image: object) -> object:
    from PIL import Image

    assert isinstance(image, Image.Image)
    if image.mode == "P":
        # Palette images may carry transparency in the palette or a tRNS chunk.
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array * (255.0 / peak), 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        image = Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
