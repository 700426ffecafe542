"""Training rows from real recordings (+ the hand-model synthesis) for both sign models.

Static handshape model (vocabulary.LABELS): a few frames of every real letter sequence (J frames
count as the I hand, Z stills as the index hand; a Z being drawn is not used: the motion is the
sequence model's job and the drawing index points every way), the
no-sign sequences as REST, the older single-signer sources, each real row with augmented copies;
plus synthetic hands for every class, which is all the digits and the two-handed service signs
have. Sequence model (sequence.SEQ_LABELS + recorded words): whole real sequences, cropped in
time and augmented, and synthetic held handshapes as HOLD.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from modalities.sign import synth
from modalities.sign import vocabulary as vocab
from modalities.sign.augment import augment, present_of
from modalities.sign.features import features_batch
from modalities.sign.multisigner import NO_SIGN, Recording
from modalities.sign.realdata import RealSample
from modalities.sign.sequence import (
    HOLD,
    NONE,
    OTHER,
    SEQ_LABELS,
    STEPS,
    motion_dim,
    motion_features_batch,
    resample,
    window_features_batch,
)

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
STR = npt.NDArray[np.str_]
STILL_OF = {"J": "I", "Z": "Z/index"}


@dataclass(frozen=True)
class DataConfig:
    seed: int = 7
    synthetic_per_class: int = 150
    frames_per_sequence: int = 2
    real_copies: int = 1  # augmented copies of each real static row
    seq_copies: int = 3  # augmented, time-cropped copies of each real sequence
    max_hold_sequences: int = 1200  # held letters are plentiful: cap them for the sequence model
    synthetic_hold: int = 12  # synthetic held windows per static class (the service signs among them)
    transitions: int = 600  # spliced letter-to-letter windows (HOLD) for the sequence models
    # frames of the index hand DRAWING a Z as handshape rows (the index points every way while it
    # draws: they taught the index-hand class to take Q and P; third round, docs/sign.md)
    moving_z_stills: bool = False


def moves(rec: Recording) -> bool:
    """Real J/Z motion: only traduttore recorded whole J/Z sequences (borisgraudt's clip
    boundaries are unknown, Techyrushi's are still photos)."""
    return rec.source.startswith("traduttore")


def static_label(rec: Recording) -> str | None:
    if rec.kind == "letter":
        label = STILL_OF.get(rec.label, rec.label)
        return label if label in vocab.LABELS else None
    return vocab.REST if rec.label == NO_SIGN else None


def seq_label(rec: Recording, extra: Sequence[str] = ()) -> str:
    if rec.kind == "letter":
        return rec.label if rec.label in ("J", "Z") else HOLD
    if rec.label == NO_SIGN:
        return NONE
    return rec.label if rec.label in SEQ_LABELS or rec.label in extra else OTHER


def _synthetic_frames(per_class: int, seed: int, labels: Sequence[str]) -> tuple[F32, list[str]]:
    xs, ys = synth.dataset(per_class, seed, tuple(labels))
    frames = np.zeros((len(xs), 2, 21, 3), np.float32)
    for i, hands in enumerate(xs):
        for j, h in enumerate(hands[:2]):
            frames[i, j] = h
    return frames, ys


def static_rows(
    recs: Sequence[Recording], old: Sequence[RealSample], cfg: DataConfig
) -> tuple[F32, I64, STR]:
    """Feature rows, class indices and each row's signer ("synthetic" for the hand model)."""
    rng = np.random.default_rng(cfg.seed + 11)
    labels = vocab.LABELS
    frames: list[F32] = []
    targets: list[int] = []
    groups: list[str] = []
    for rec in recs:
        label = static_label(rec)
        if label is None or (rec.label == "Z" and moves(rec) and not cfg.moving_z_stills):
            continue
        present = present_of(rec.frames).any(axis=1)
        idx = np.flatnonzero(present)
        if len(idx) == 0:
            continue
        pick = idx[resample(len(idx), min(cfg.frames_per_sequence, len(idx)))]
        frames += [rec.frames[i] for i in np.unique(pick)]
        targets += [labels.index(label)] * len(np.unique(pick))
        groups += [rec.signer] * len(np.unique(pick))
    for sample in old:
        if sample.label in labels and sample.hands:
            f = np.zeros((2, 21, 3), np.float32)
            for j, h in enumerate(sample.hands[:2]):
                f[1 - j] = h  # the tracker's first hand in the right-hand slot, as the data
            frames.append(f)
            targets.append(labels.index(sample.label))
            groups.append(sample.source)
    real = np.stack(frames) if frames else np.zeros((0, 2, 21, 3), np.float32)
    y = np.asarray(targets, np.int64)
    copies = [real] + [
        augment(real[:, None], rng, drop_frame=0.0, drop_hand=0.0)[:, 0] for _ in range(cfg.real_copies)
    ]
    synthetic, sy = _synthetic_frames(cfg.synthetic_per_class, cfg.seed, labels)
    all_frames = np.concatenate([*copies, synthetic])
    all_y = np.concatenate([np.tile(y, cfg.real_copies + 1), [labels.index(s) for s in sy]]).astype(np.int64)
    all_groups = np.asarray(groups * (cfg.real_copies + 1) + ["synthetic"] * len(sy))
    return features_batch(all_frames, present_of(all_frames)), all_y, all_groups


def _crop(seq: F32, rng: np.random.Generator) -> F32:
    n = len(seq)
    length = max(min(n, STEPS // 2), round(n * rng.uniform(0.7, 1.0)))
    start = int(rng.integers(0, n - length + 1))
    return seq[start : start + length][resample(length)]


def sequence_rows(recs: Sequence[Recording], cfg: DataConfig, labels: Sequence[str]) -> tuple[F32, I64, STR]:
    """Window feature rows, class indices and each row's signer ("synthetic" for the hand model)."""
    x, y, groups = sequence_windows(recs, cfg, labels)
    return window_features_batch(x), y, groups


def motion_rows(windows: F32, handshapes: Callable[[F32], F32]) -> F32:
    """The motion-letter model's rows for resampled windows (N, STEPS, 2, 21, 3), given the
    handshape model's batch probabilities (trained first, on the same signers)."""
    flat = windows.reshape(-1, 2, 21, 3)
    present = present_of(flat)
    rows = present.any(axis=1)
    probs = handshapes(features_batch(flat[rows], present[rows]))
    shapes = np.zeros((len(flat), probs.shape[1]), np.float32)
    shapes[rows] = probs
    out = [
        motion_features_batch(windows[i : i + 4096], shapes.reshape(len(windows), STEPS, -1)[i : i + 4096])
        for i in range(0, len(windows), 4096)
    ]
    return np.concatenate(out) if out else np.zeros((0, motion_dim(probs.shape[1])), np.float32)


def sequence_windows(
    recs: Sequence[Recording], cfg: DataConfig, labels: Sequence[str]
) -> tuple[F32, I64, STR]:
    """Resampled (and augmented) windows (N, STEPS, 2, 21, 3), class indices, signers."""
    rng = np.random.default_rng(cfg.seed + 12)
    chosen: list[tuple[F32, str, str]] = []
    holds = [r for r in recs if seq_label(r, labels) == HOLD]
    keep = set(rng.permutation(len(holds))[: cfg.max_hold_sequences].tolist())
    hold_ids = {id(r) for i, r in enumerate(holds) if i in keep}
    for rec in recs:
        label = seq_label(rec, labels)
        if label == HOLD and id(rec) not in hold_ids:
            continue
        if rec.label in ("J", "Z") and not moves(rec):
            continue  # a still photo or a clip cut at unknown boundaries is not a whole motion
        if label in labels:
            chosen.append((rec.frames, label, rec.signer))
    chosen += _transitions(holds, cfg.transitions, rng)
    windows = [seq[resample(len(seq))] for seq, _, _ in chosen]
    ys = [labels.index(label) for _, label, _ in chosen]
    groups = [signer for _, _, signer in chosen] * (cfg.seq_copies + 1)
    for _ in range(cfg.seq_copies):
        windows += [_crop(seq, rng) for seq, _, _ in chosen]
        ys += [labels.index(label) for _, label, _ in chosen]
    base = np.stack(windows) if windows else np.zeros((0, STEPS, 2, 21, 3), np.float32)
    n_plain = len(chosen)
    out = np.concatenate([base[:n_plain], augment(base[n_plain:], rng)]) if len(base) else base
    held = _synthetic_held(cfg, rng)
    x = np.concatenate([out, held])
    y = np.asarray(ys + [labels.index(HOLD)] * len(held), np.int64)
    return x.astype(np.float32), y, np.asarray(groups + ["synthetic"] * len(held))


def _transitions(
    holds: Sequence[Recording], count: int, rng: np.random.Generator
) -> list[tuple[F32, str, str]]:
    """Spelling moves from one held letter to the next: the start of one of a signer's held
    letters spliced onto the end of another of theirs (a different letter), as HOLD. Without
    them a change of handshape (or a hand that jumps) can read as J or Z."""
    by_signer: dict[str, list[Recording]] = {}
    for rec in holds:
        if rec.label not in ("J", "Z") and len(rec.frames) >= 4:
            by_signer.setdefault(rec.signer, []).append(rec)
    pools = [p for p in by_signer.values() if len({r.label for r in p}) > 1]
    out: list[tuple[F32, str, str]] = []
    for _ in range(count if pools else 0):
        pool = pools[int(rng.integers(len(pools)))]
        a, b = (pool[int(i)] for i in rng.integers(len(pool), size=2))
        if a.label == b.label:
            continue
        cut_a = int(rng.integers(len(a.frames) // 3, 2 * len(a.frames) // 3 + 1))
        cut_b = int(rng.integers(len(b.frames) // 3, 2 * len(b.frames) // 3 + 1))
        out.append((np.concatenate([a.frames[:cut_a], b.frames[cut_b:]]), HOLD, a.signer))
    return out


def _synthetic_held(cfg: DataConfig, rng: np.random.Generator) -> F32:
    """Synthetic handshapes held still (with tracker jitter): every static class, incl. the
    service signs no real data has, is HOLD for the sequence model."""
    labels = [label for label in vocab.LABELS if label != vocab.REST]
    frames, _ = _synthetic_frames(cfg.synthetic_hold, cfg.seed + 13, labels)
    held = np.repeat(frames[:, None], STEPS, axis=1)
    return augment(held, rng, drop_frame=0.05, drop_hand=0.0)
