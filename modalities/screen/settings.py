"""Settings of screenshot understanding (the lead wires them into gateway/config.py as `screen`)."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.errors import ConfigError

ENGINES = ("ppocr-v4", "ppocr-v5", "paddleocr")


@dataclass(frozen=True)
class ScreenSettings:
    max_bytes: int = 10 * 1024 * 1024  # one encoded image
    max_pixels: int = 16_000_000  # width x height after decoding (a 4K screen is 8.3 M)
    engine: str = "ppocr-v4"  # "ppocr-v4" (default), "ppocr-v5", "paddleocr" (optional backend)
    threads: int = 2  # onnxruntime intra-op threads per inference
    det_max_side: int = 960  # detection input's longer side (960 measured as the sweet spot)
    min_confidence: float = 0.5  # recognised lines below this are dropped
    reuse: bool = True  # reuse unchanged regions of the previous screenshot (screen share)
    tile_px: int = 64  # tile size of the change map used for reuse
    crop_cache: int = 512  # recognised line crops remembered per reader
    max_lines: int = 400  # lines kept per screenshot (bounds the turn and the work)
    max_text_chars: int = 8000  # full_text cap handed to the core

    def validate(self) -> None:
        _check(1024 <= self.max_bytes <= 64 * 1024 * 1024, "screen.max_bytes must be 1 KiB..64 MiB")
        _check(10_000 <= self.max_pixels <= 100_000_000, "screen.max_pixels must be 10,000..100,000,000")
        _check(self.engine in ENGINES, f"screen.engine must be one of {ENGINES}")
        _check(1 <= self.threads <= 64, "screen.threads must be 1..64")
        _check(320 <= self.det_max_side <= 4096, "screen.det_max_side must be 320..4096")
        _check(0.0 <= self.min_confidence < 1.0, "screen.min_confidence must be in [0, 1)")
        _check(16 <= self.tile_px <= 512, "screen.tile_px must be 16..512")
        _check(0 <= self.crop_cache <= 100_000, "screen.crop_cache must be 0..100000")
        _check(1 <= self.max_lines <= 10_000, "screen.max_lines must be 1..10000")
        _check(100 <= self.max_text_chars <= 1_000_000, "screen.max_text_chars must be 100..1000000")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
