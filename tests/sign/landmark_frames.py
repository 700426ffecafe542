"""Landmarks rendered into video frames and read back: a stand-in for the camera + tracker that
lets a real recorded landmark sequence travel as JPEG frames through a real session.

Each of the 2x21x3 values (plus one presence value per hand) is quantised to 16 bits and drawn
as four 8x8 grey blocks, one per 4-bit digit, on the JPEG block grid: a flat block survives JPEG
at quality 95 within a few grey levels, far less than the 16 levels between digits.
"""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt

from models.base import Hand

WIDTH, HEIGHT, BLOCK = 256, 128, 8
LOW, SPAN = -1.0, 3.0  # values outside the image (-1..2) are clipped


def render(points: npt.NDArray[np.floating]) -> bytes:
    """(2, 21, 3) landmarks (a hand of zeros is absent) -> JPEG bytes."""
    from PIL import Image

    p = np.asarray(points, np.float64).reshape(2, 63)
    present = np.abs(p).sum(axis=1) > 0
    values = np.concatenate([p.reshape(-1), present.astype(np.float64)])
    q = np.round(np.clip((values - LOW) / SPAN, 0.0, 1.0) * 65535).astype(np.int64)
    digits = np.stack([(q >> shift) & 15 for shift in (12, 8, 4, 0)], axis=1).reshape(-1)
    grid = np.zeros((HEIGHT // BLOCK) * (WIDTH // BLOCK), np.uint8)
    grid[: len(digits)] = digits * 16 + 8
    image = np.kron(grid.reshape(HEIGHT // BLOCK, WIDTH // BLOCK), np.ones((BLOCK, BLOCK), np.uint8))
    out = io.BytesIO()
    Image.fromarray(np.repeat(image[..., None], 3, axis=2)).save(out, "JPEG", quality=95)
    return out.getvalue()


def read(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32] | None:
    """A decoded frame -> (2, 21, 3) landmarks, or None when the frame holds no code."""
    if image.shape[:2] != (HEIGHT, WIDTH):
        return None
    grey = image[..., 0].astype(np.float64)
    means = grey.reshape(HEIGHT // BLOCK, BLOCK, WIDTH // BLOCK, BLOCK).mean(axis=(1, 3)).reshape(-1)
    digits = np.clip(np.round((means - 8) / 16), 0, 15).astype(np.int64)[: 128 * 4].reshape(128, 4)
    q = (digits[:, 0] << 12) | (digits[:, 1] << 8) | (digits[:, 2] << 4) | digits[:, 3]
    values = q / 65535 * SPAN + LOW
    points = values[:126].reshape(2, 21, 3).astype(np.float32)
    points[values[126:128] < 0.5] = 0.0
    return points


class LandmarkFrameTracker:
    """HandTracker over rendered frames: returns the hands the frame carries."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.closed = False

    def track(self, image: npt.NDArray[np.uint8], timestamp_ms: int) -> list[Hand]:
        points = read(image)
        if points is None:
            return []
        return [
            Hand(points[slot], "Left" if slot == 0 else "Right", 0.9) for slot in (0, 1) if points[slot].any()
        ]

    def close(self) -> None:
        self.closed = True
