"""Motion signs as motion: features of a landmark window for the sequence model.

A window (about 1.5 s of frames, both hand slots) is resampled to STEPS frames. Per frame and
hand slot: the hand's 21 landmarks relative to its wrist in palm units (handshape and
orientation), the wrist's position relative to the window's mean hand position in palm units
(the trajectory: the tracker sees hands, not the body, so the frame is the reference), its
velocity, a presence flag, and the index and pinky tips' positions on the same reference (they
draw Z and J). Per hand over the window: the extent and path length of the wrist and both tips.
An absent hand is zeros. Classes: the motion letters J and Z, the
kiosk words real signers recorded, HOLD (a handshape held still: the static classifier's job),
OTHER (signs outside the vocabulary) and REST (no sign).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
STEPS = 12
PER_HAND = 63 + 2 + 2 + 1 + 4
SUMMARY = 2 * 9
SEQ_DIM = STEPS * 2 * PER_HAND + SUMMARY
TIPS = (0, 8, 20)  # wrist, index tip (draws Z), pinky tip (draws J)
MOTION_LETTERS = ("J", "Z")
WORDS = ("HELLO", "THANK-YOU", "PLEASE", "YES", "NO", "I-LOVE-YOU", "GOOD", "HOW-MUCH", "GOODBYE")
HOLD, OTHER, NONE = "HOLD", "OTHER", "REST"
SEQ_LABELS: tuple[str, ...] = (*MOTION_LETTERS, *WORDS, HOLD, OTHER, NONE)
MIN_FRAMES = 6  # fewer frames with a hand than this: no reading
# per-class thresholds (J, Z; modalities/sign/calibrate.py) are chosen for this motion_threshold
CALIBRATED_AT = 0.8


def resample(n: int, steps: int = STEPS) -> npt.NDArray[np.int64]:
    return np.round(np.linspace(0, n - 1, steps)).astype(np.int64)


def window_features(frames: npt.NDArray[np.floating]) -> F32:
    """(frames, 2, 21, 3) -> SEQ_DIM values (zeros when no hand is in the window)."""
    w = np.asarray(frames, dtype=np.float64)[resample(len(frames))]
    return window_features_batch(w[None])[0]


def window_features_batch(w: npt.NDArray[np.floating]) -> F32:
    """(N, STEPS, 2, 21, 3), already resampled -> (N, SEQ_DIM)."""
    w = np.asarray(w, dtype=np.float64)
    n = len(w)
    present = np.abs(w).sum(axis=(-1, -2)) > 0  # (N, T, 2)
    wrist = w[..., 0, :]  # (N, T, 2, 3)
    sizes = np.mean(np.linalg.norm(w[..., [5, 9, 13, 17], :] - w[..., :1, :], axis=-1), axis=-1)  # (N,T,2)
    count = np.maximum(present.sum(axis=(1, 2)), 1)
    scale = np.where(present, sizes, 0.0).sum(axis=(1, 2)) / count + 1e-6  # (N,)
    ref = np.where(present[..., None], wrist[..., :2], 0.0).sum(axis=(1, 2)) / count[:, None]  # (N, 2)
    local = (w - wrist[..., None, :]) / scale[:, None, None, None, None]
    traj = (wrist[..., :2] - ref[:, None, None, :]) / scale[:, None, None, None]
    traj = np.where(present[..., None], traj, 0.0)
    vel = np.zeros_like(traj)
    both = present[:, 1:] & present[:, :-1]
    vel[:, 1:] = np.where(both[..., None], traj[:, 1:] - traj[:, :-1], 0.0)
    local = np.where(present[..., None, None], local, 0.0).reshape(n, STEPS, 2, 63)
    points = (w[..., TIPS, :2] - ref[:, None, None, None, :]) / scale[:, None, None, None, None]
    points = np.where(present[..., None, None], points, 0.0)  # (N, T, 2, 3, 2)
    out = np.concatenate(
        [local, traj, vel, present[..., None].astype(np.float64), points[..., 1:, :].reshape(n, STEPS, 2, 4)],
        axis=-1,
    )
    big = np.where(present[..., None, None], points, np.inf)
    small = np.where(present[..., None, None], points, -np.inf)
    extent = np.nan_to_num(small.max(axis=1) - big.min(axis=1), neginf=0.0, posinf=0.0)  # (N, 2, 3, 2)
    step = np.linalg.norm(np.diff(points, axis=1), axis=-1)  # (N, T-1, 2, 3)
    moved = present[:, 1:] & present[:, :-1]
    path = np.where(moved[..., None], step, 0.0).sum(axis=1)  # (N, 2, 3)
    summary = np.concatenate([extent.reshape(n, 2, 6), path], axis=-1).reshape(n, SUMMARY)
    return np.concatenate([out.reshape(n, STEPS * 2 * PER_HAND), summary], axis=1).astype(np.float32)


# ---- the motion-letter model (J, Z): handshape per step + trajectory, nothing signer-specific ----
# J is the I hand drawing a hook, Z the index hand drawing a zigzag: per resampled step, the
# handshape model's class probabilities (learned from every signer's letters) plus the wrist's
# and the thumb, index and pinky tips' paths relative to where each hand first appeared, in palm
# units, with velocities and accelerations. No raw landmarks, so it cannot learn one person's hand.
TRACE = (0, 4, 8, 20)  # wrist, thumb tip, index tip, pinky tip
TRACE_DIM = 3 * STEPS * 2 * len(TRACE) * 2  # position, velocity, acceleration


def motion_dim(n_handshapes: int) -> int:
    return STEPS * n_handshapes + TRACE_DIM + STEPS * 2 + SUMMARY


def trace_features_batch(w: npt.NDArray[np.floating]) -> F32:
    """(N, STEPS, 2, 21, 3) -> (N, TRACE_DIM): paths relative to each hand's first frame."""
    w = np.asarray(w, dtype=np.float64)
    n = len(w)
    present = np.abs(w).sum(axis=(-1, -2)) > 0  # (N, T, 2)
    size = np.linalg.norm(w[..., [5, 9, 13, 17], :2] - w[..., :1, :2], axis=-1).mean(axis=-1)
    scale = np.where(present, size, 0.0).sum(axis=1) / np.maximum(present.sum(axis=1), 1) + 1e-6  # (N, 2)
    first = np.argmax(present, axis=1)  # (N, 2)
    pts = w[..., list(TRACE), :2]  # (N, T, 2, 4, 2)
    ref = np.take_along_axis(pts, first[:, None, :, None, None], axis=1)
    rel = np.where(present[..., None, None], (pts - ref) / scale[:, None, :, None, None], 0.0)
    vel = np.zeros_like(rel)
    both = present[:, 1:] & present[:, :-1]
    vel[:, 1:] = np.where(both[..., None, None], rel[:, 1:] - rel[:, :-1], 0.0)
    acc = np.zeros_like(rel)
    acc[:, 2:] = vel[:, 2:] - vel[:, 1:-1]
    out = np.concatenate([rel.reshape(n, -1), vel.reshape(n, -1), acc.reshape(n, -1)], axis=1)
    return out.astype(np.float32)


def motion_features_batch(w: npt.NDArray[np.floating], handshapes: npt.NDArray[np.floating]) -> F32:
    """w (N, STEPS, 2, 21, 3) resampled windows, handshapes (N, STEPS, K) the handshape model's
    probabilities per step (zeros where no hand) -> (N, motion_dim(K))."""
    n = len(w)
    present = (np.abs(np.asarray(w)).sum(axis=(-1, -2)) > 0).reshape(n, STEPS * 2)
    summary = window_features_batch(w)[:, -SUMMARY:]
    return np.concatenate(
        [np.asarray(handshapes, np.float32).reshape(n, -1), trace_features_batch(w), present, summary], axis=1
    ).astype(np.float32)


def combine(words: npt.NDArray[np.floating], letters: npt.NDArray[np.floating],
            word_labels: tuple[str, ...], letter_labels: tuple[str, ...]) -> tuple[str, float]:
    """One reading from both models: the motion-letter model speaks for J and Z, the window model
    for the words (its own J/Z readings, which do not carry to unseen signers, become HOLD)."""
    best = int(np.argmax(letters))
    if letter_labels[best] in MOTION_LETTERS:
        return letter_labels[best], float(letters[best])
    best = int(np.argmax(words))
    label = word_labels[best]
    return (HOLD if label in MOTION_LETTERS else label), float(words[best])


def movement_threshold(label: str, motion_threshold: float, thresholds: Mapping[str, float]) -> float:
    """The probability a movement must reach: `motion_threshold`, or for a class with its own
    calibrated threshold that threshold scaled by motion_threshold / CALIBRATED_AT (so at the
    default 0.8 it is the calibrated value, and a stricter deployment is stricter for it too)."""
    if label not in thresholds:
        return motion_threshold
    return motion_threshold * thresholds[label] / CALIBRATED_AT
