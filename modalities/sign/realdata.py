"""Real hands from ../shared/realdata/hands (never copied into the repository).

- borisgraudt ASL landmarks: one signer, 5 captures per letter, 63 floats each (MediaPipe x, y
  normalised per image axis, z relative). Letters map to our classes; J and Z were captured as
  still frames, so their stills are scored against their handshape class (I and the index hand).
- mediapipe_model_maker photos (call, four, none, rock; 10 each): landmarks come from our
  HandTracker. "four" is ASL 4, "call" is the ASL Y handshape; "none" and "rock" are not in the
  vocabulary and only count toward the detection rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from contracts.evaluation import realdata_dir

F64 = npt.NDArray[np.float64]
MAX_NPY_BYTES = 4096
MAX_PHOTO_BYTES = 5_000_000
PHOTO_LABELS = {"four": "4", "call": "Y", "none": None, "rock": None}
STILL_OF = {"J": "I", "Z": "Z/index"}
# x was normalised by the capture width: assume a 640x480 webcam to restore one scale
BORIS_ASPECT = 4.0 / 3.0


@dataclass(frozen=True)
class RealSample:
    source: str  # "borisgraudt" | "mediapipe-photos"
    label: str | None  # our class, None when not in the vocabulary
    hands: tuple[F64, ...]  # empty when the tracker found none
    name: str


def hands_root() -> Path | None:
    root = realdata_dir()
    return root / "hands" if root is not None and (root / "hands").is_dir() else None


def boris(root: Path) -> list[RealSample]:
    out = []
    for folder in sorted((root / "asl_landmarks_borisgraudt").iterdir()):
        for f in sorted(folder.glob("*.npy")):
            if f.stat().st_size > MAX_NPY_BYTES:
                continue
            points = np.load(f, allow_pickle=False).astype(np.float64).reshape(21, 3) * [
                BORIS_ASPECT,
                1.0,
                BORIS_ASPECT,
            ]
            out.append(
                RealSample(
                    "borisgraudt",
                    STILL_OF.get(folder.name, folder.name),
                    (points,),
                    f"{folder.name}/{f.name}",
                )
            )
    return out


def photo_files(root: Path) -> Iterator[tuple[str, Path]]:
    for folder in sorted((root / "mediapipe_model_maker_raw_data").iterdir()):
        for f in sorted(folder.glob("*.jpg")):
            yield folder.name, f


def photos(root: Path, track: Callable[[bytes], list[F64]]) -> list[RealSample]:
    """Landmarks of the real photos through `track` (JPEG bytes -> hands, isotropic units)."""
    out = []
    for gesture, f in photo_files(root):
        if f.stat().st_size > MAX_PHOTO_BYTES:
            continue
        hands = track(f.read_bytes())
        out.append(RealSample("mediapipe-photos", PHOTO_LABELS[gesture], tuple(hands), f"{gesture}/{f.name}"))
    return out
