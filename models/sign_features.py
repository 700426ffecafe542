"""Landmark features: normalised, scale/rotation/mirror invariant handshape plus coarse orientation.

One hand (21x3, x right, y down, z depth, one scale for all axes) gives:
- 210 pairwise 3D distances divided by the palm size (invariant to position, scale, any
  rotation and mirroring: a left hand's letter reads like the right hand's);
- 19 joint-angle cosines (flexion along each finger, spread between neighbours);
- 6 orientation values, deliberately NOT rotation invariant because ASL uses orientation
  contrastively (H/U, K/P, G/Q): |x| and y of the hand axis and of the index direction, and
  |palm normal| y and z. Absolute values keep them mirror invariant.
Two hands: the higher hand (smaller wrist y) first, then the other or zeros, then their
relation (|dx|, dy, distance and size ratio in the first hand's palm units, a presence flag).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_I, _J = np.triu_indices(21, k=1)
_CHAINS = ((0, 1, 2, 3, 4), (0, 5, 6, 7, 8), (0, 9, 10, 11, 12), (0, 13, 14, 15, 16), (0, 17, 18, 19, 20))
HAND_DIM = len(_I) + 19 + 6
FEATURE_DIM = 2 * HAND_DIM + 5


def palm_size(points: F64) -> float:
    """Mean wrist-to-knuckle distance (index, middle, ring, pinky): stable under finger motion."""
    return float(np.mean(np.linalg.norm(points[[5, 9, 13, 17]] - points[0], axis=1))) + 1e-6


def _unit(v: F64) -> F64:
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-9)


def hand_features(points: F64) -> F64:
    p = np.asarray(points, dtype=np.float64).reshape(21, 3)
    size = palm_size(p)
    dists = np.linalg.norm(p[_I] - p[_J], axis=1) / size
    cosines = []
    for chain in _CHAINS:
        bones = _unit(np.diff(p[list(chain)], axis=0))
        cosines.extend(np.sum(bones[:-1] * bones[1:], axis=1))
    tips = _unit(p[[8, 12, 16, 20, 4]] - p[[5, 9, 13, 17, 2]])
    cosines.extend(np.sum(tips[:4] * tips[1:], axis=1))
    axis = _unit(p[9] - p[0])
    index = _unit(p[8] - p[5])
    normal = _unit(np.cross(p[5] - p[0], p[17] - p[0]))
    orient = [abs(axis[0]), axis[1], abs(index[0]), index[1], abs(normal[1]), abs(normal[2])]
    return np.concatenate([dists, np.asarray(cosines), np.asarray(orient)])


def features(hands: Sequence[F64]) -> F32:
    """Feature vector for up to two hands (extra hands beyond the two highest are ignored)."""
    out = np.zeros(FEATURE_DIM, dtype=np.float32)
    if not hands:
        return out
    ordered = sorted((np.asarray(h, dtype=np.float64).reshape(21, 3) for h in hands), key=lambda h: h[0, 1])
    first = ordered[0]
    out[:HAND_DIM] = hand_features(first)
    if len(ordered) > 1:
        second = ordered[1]
        out[HAND_DIM : 2 * HAND_DIM] = hand_features(second)
        size = palm_size(first)
        delta = (second[[0, 9]].mean(axis=0) - first[[0, 9]].mean(axis=0)) / size
        out[2 * HAND_DIM :] = (
            abs(delta[0]),
            delta[1],
            np.linalg.norm(delta[:2]),
            palm_size(second) / size,
            1.0,
        )
    return out


def _hand_features_batch(p: F64) -> F64:
    """hand_features for many hands at once: (M, 21, 3) -> (M, HAND_DIM)."""
    size = np.mean(np.linalg.norm(p[:, [5, 9, 13, 17]] - p[:, :1], axis=2), axis=1) + 1e-6
    dists = np.linalg.norm(p[:, _I] - p[:, _J], axis=2) / size[:, None]
    cosines = []
    for chain in _CHAINS:
        bones = _unit(np.diff(p[:, list(chain)], axis=1))
        cosines.append(np.sum(bones[:, :-1] * bones[:, 1:], axis=2))
    tips = _unit(p[:, [8, 12, 16, 20, 4]] - p[:, [5, 9, 13, 17, 2]])
    cosines.append(np.sum(tips[:, :4] * tips[:, 1:], axis=2))
    axis = _unit(p[:, 9] - p[:, 0])
    index = _unit(p[:, 8] - p[:, 5])
    normal = _unit(np.cross(p[:, 5] - p[:, 0], p[:, 17] - p[:, 0]))
    orient = np.stack(
        [abs(axis[:, 0]), axis[:, 1], abs(index[:, 0]), index[:, 1], abs(normal[:, 1]), abs(normal[:, 2])],
        axis=1,
    )
    return np.concatenate([dists, *cosines, orient], axis=1)


def features_batch(hands: npt.NDArray[np.floating], present: npt.NDArray[np.bool_]) -> F32:
    """features() for N frames at once: hands (N, 2, 21, 3), present (N, 2) -> (N, FEATURE_DIM)."""
    h = np.asarray(hands, dtype=np.float64)
    n = len(h)
    out = np.zeros((n, FEATURE_DIM), dtype=np.float32)
    both = present[:, 0] & present[:, 1]
    # the higher hand (smaller wrist y) first; a lone hand is first whichever slot it is in
    swap = np.where(both, h[:, 1, 0, 1] < h[:, 0, 0, 1], present[:, 1] & ~present[:, 0])
    first = np.where(swap[:, None, None], h[:, 1], h[:, 0])
    second = np.where(swap[:, None, None], h[:, 0], h[:, 1])
    any_hand = present.any(axis=1)
    if any_hand.any():
        out[any_hand, :HAND_DIM] = _hand_features_batch(first[any_hand])
    if both.any():
        f, s = first[both], second[both]
        out[both, HAND_DIM : 2 * HAND_DIM] = _hand_features_batch(s)
        size = np.mean(np.linalg.norm(f[:, [5, 9, 13, 17]] - f[:, :1], axis=2), axis=1) + 1e-6
        size2 = np.mean(np.linalg.norm(s[:, [5, 9, 13, 17]] - s[:, :1], axis=2), axis=1) + 1e-6
        delta = (s[:, [0, 9]].mean(axis=1) - f[:, [0, 9]].mean(axis=1)) / size[:, None]
        out[both, 2 * HAND_DIM :] = np.stack(
            [
                abs(delta[:, 0]),
                delta[:, 1],
                np.linalg.norm(delta[:, :2], axis=1),
                size2 / size,
                np.ones(len(f)),
            ],
            axis=1,
        )
    return out
