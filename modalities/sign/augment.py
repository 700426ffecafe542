"""Augmentation of real landmark sequences, matched to how real hands and cameras vary.

Per sequence (the same for every frame, as one person in front of one camera): hand proportions
(each finger's length +-6%, palm +-5%: anatomy), a 3D rotation (sd 12 deg: wrist posture and
camera angle), distance to the camera (scale x0.6..1.6), position in the frame, the camera's
aspect and the tracker's depth scale, and mirroring (x flipped, hand slots swapped: a
left-handed signer). Per frame: tracker jitter (2% of the palm), and dropped frames and hands
(the tracker losing a hand for a frame). Arrays are (N, frames, 2, 21, 3); an absent hand is all
zeros and stays so.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from modalities.sign.handmodel import random_rotation

F32 = npt.NDArray[np.float32]
FINGERS = ((1, (2, 3, 4)), (5, (6, 7, 8)), (9, (10, 11, 12)), (13, (14, 15, 16)), (17, (18, 19, 20)))


def present_of(seqs: npt.NDArray[np.floating]) -> npt.NDArray[np.bool_]:
    return np.asarray(np.abs(seqs).sum(axis=(-1, -2)) > 0)


def augment(
    seqs: npt.NDArray[np.floating],
    rng: np.random.Generator,
    *,
    rot_sd: float = 12.0,
    drop_frame: float = 0.08,
    drop_hand: float = 0.04,
    mirror: float = 0.5,
) -> F32:
    x = np.asarray(seqs, dtype=np.float64).copy()
    n = len(x)
    present = present_of(x)
    # proportions: per sample and hand, a palm scale and a length scale per finger
    palm = np.exp(rng.normal(0.0, 0.05, size=(n, 1, 2, 1)))
    for base, joints in FINGERS:
        length = np.exp(rng.normal(0.0, 0.06, size=(n, 1, 2, 1, 1)))
        wrist = x[:, :, :, 0:1]
        new_base = wrist + palm[..., None] * (x[:, :, :, base : base + 1] - wrist)
        x[:, :, :, list(joints)] = new_base + length * (
            x[:, :, :, list(joints)] - x[:, :, :, base : base + 1]
        )
        x[:, :, :, base : base + 1] = new_base
    # camera: rotation, distance and position about the sequence's centre, aspect, depth scale
    weights = present[..., None, None].astype(np.float64)
    centre = (x * weights).sum(axis=(1, 2, 3)) / np.maximum(weights.sum(axis=(1, 2, 3)) * 21, 1)
    rots = np.stack([random_rotation(rng, rot_sd) for _ in range(n)])
    scale = np.exp(rng.uniform(np.log(0.6), np.log(1.6), size=n))
    shift = rng.normal(0.0, 0.08, size=(n, 3)) * [1, 1, 0]
    local = x - centre[:, None, None, None, :]
    x = np.einsum("nfhjc,ndc->nfhjd", local, rots) * scale[:, None, None, None, None]
    x[..., 0] *= np.exp(rng.normal(0.0, 0.08, size=n))[:, None, None, None]
    x[..., 2] *= rng.uniform(0.6, 1.5, size=n)[:, None, None, None]
    flip = rng.random(n) < mirror
    x[flip, ..., 0] *= -1.0
    x[flip] = x[flip][:, :, ::-1]
    present[flip] = present[flip][:, :, ::-1]
    x += centre[:, None, None, None, :] + shift[:, None, None, None, :]
    # tracker jitter in palm units, dropped frames and hands
    size = np.linalg.norm(x[..., 9, :2] - x[..., 0, :2], axis=-1)[..., None, None] + 1e-6
    x += rng.normal(0.0, 1.0, size=x.shape) * 0.02 * size
    keep = present & (rng.random(present.shape) >= drop_hand)
    keep &= (rng.random(present.shape[:2]) >= drop_frame)[..., None]
    keep[:, 0] |= present[:, 0] & ~keep[:, 0].any(axis=-1, keepdims=True)  # never empty the first frame
    x[~keep] = 0.0
    return x.astype(np.float32)
