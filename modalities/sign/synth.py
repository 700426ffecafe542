"""Synthetic training hands: every class drawn from the hand model with wide, principled noise.

Noise sources and why: joint angles (+-9 deg: people form handshapes loosely), bone lengths
(+-6%: anatomy), a random 3D rotation of the whole hand (sd 14 deg: wrist posture and camera
angle), left or right hand (mirroring), size and position in the image, camera aspect
(tracker x/y scales may differ), weak-perspective depth, the tracker's depth scale, and
landmark jitter (the tracker's own error). A relaxed second hand sometimes rests below a
one-handed sign, since kiosks see both hands.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from modalities.sign import vocabulary as vocab
from modalities.sign.handmodel import Finger, Shape, Thumb, orientation, place, pose_local, random_rotation

F64 = npt.NDArray[np.float64]


def _one(
    rng: np.random.Generator,
    shape: Shape,
    centre: tuple[float, float],
    scale: float,
    right: bool,
    rot_sd: float = 14.0,
) -> F64:
    local = pose_local(shape, rng, jitter=9.0)
    rotation = random_rotation(rng, rot_sd) @ orientation(shape.point, shape.palm, right)
    return place(local, rotation, centre=centre, scale=scale, depth=float(rng.uniform(3.0, 8.0)))


def _rest_shape(rng: np.random.Generator) -> Shape:
    def relaxed() -> Finger:
        mcp, pip, dip = (float(a) for a in rng.uniform(5, 45, size=3))
        return Finger(mcp, pip, dip, float(rng.uniform(-8, 8)))

    fingers = {name: relaxed() for name in ("index", "middle", "ring", "pinky")}
    thumb = Thumb(
        azimuth=float(rng.uniform(10, 60)),
        elevation=float(rng.uniform(0, 40)),
        mcp=float(rng.uniform(0, 30)),
        ip=float(rng.uniform(0, 30)),
    )
    palm = ("left", "right", "away", "camera")[int(rng.integers(4))]
    return Shape(fingers, thumb, "down", palm)


def _camera(rng: np.random.Generator, hands: list[F64]) -> list[F64]:
    aspect = float(np.exp(rng.normal(0.0, 0.12)))
    zscale = float(rng.uniform(0.4, 1.6))
    out = []
    for h in hands:
        h = h.copy()
        size = float(np.linalg.norm(h[9, :2] - h[0, :2])) + 1e-6
        h[:, 0] *= aspect
        h[:, 2] = (h[:, 2] - h[0, 2]) * zscale
        h[:, :2] += rng.normal(0.0, 0.025 * size, size=(21, 2))
        h[:, 2] += rng.normal(0.0, 0.05 * size, size=21)
        out.append(h)
    return out


def sample(label: str, rng: np.random.Generator) -> list[F64]:
    """One synthetic observation of `label`: a list of one or two 21x3 hands."""
    right = bool(rng.random() < 0.75)
    scale = float(rng.uniform(0.08, 0.3))
    cx, cy = float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.45, 0.8))
    hands: list[F64]
    if label == vocab.REST:
        hands = [_one(rng, _rest_shape(rng), (cx, min(cy + 0.2, 0.95)), scale, right, 25.0)]
        if rng.random() < 0.5:
            hands.append(
                _one(rng, _rest_shape(rng), (cx + 2.5 * scale, min(cy + 0.2, 0.95)), scale, not right, 25.0)
            )
        return _camera(rng, hands)
    if label in vocab.TWO_HAND_SIGNS:
        sign = vocab.TWO_HAND_SIGNS[label]
        side = 1.0 if right else -1.0
        dx, dy = sign.offset
        top_centre = (cx + side * (dx + rng.normal(0, 0.25)) * scale, cy + (dy + rng.normal(0, 0.25)) * scale)
        hands = [
            _one(rng, sign.base, (cx, cy), scale, not right),
            _one(rng, sign.top, top_centre, scale, right),
        ]
        return _camera(rng, hands)
    shape = vocab.STATIC_LETTERS.get(label) or vocab.DIGITS.get(label) or vocab.ONE_HAND_SIGNS[label]
    hands = [_one(rng, shape, (cx, cy - 0.1), scale, right)]
    if rng.random() < 0.15:
        hands.append(_one(rng, _rest_shape(rng), (cx + 2.5 * scale, 0.97), scale, not right, 25.0))
    return _camera(rng, hands)


def dataset(
    per_class: int, seed: int, labels: tuple[str, ...] = vocab.LABELS
) -> tuple[list[list[F64]], list[str]]:
    rng = np.random.default_rng(seed)
    xs: list[list[F64]] = []
    ys: list[str] = []
    for label in labels:
        for _ in range(per_class):
            xs.append(sample(label, rng))
            ys.append(label)
    return xs, ys
