"""Per-class acceptance thresholds for the motion letters (J, Z), chosen on people the models
did not see (fourth round, docs/sign.md).

The motion-letter model reads J and Z right on an unseen signer far more often than it reads them
at `motion_threshold` (0.8): on a new hand it is less sure. So each motion letter gets its own
threshold, chosen on calibration readings: every training signer read by motion-letter models
trained WITHOUT that signer (leave-one-signer-out inside the training set). The rule
(`class_thresholds`): the lowest of 0.50, 0.55, ..., 0.80 at which the calibration readings
accept as that letter at most 1 in 1000 of the sequences that are not that letter (other letters
held, words, no-sign, other signs) more than 0.80 does. The thresholds are stored for the default 0.8
(`CALIBRATED_AT`) and scale with a deployment's own `motion_threshold`
(models.sign_sequence.movement_threshold). Words keep the plain threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from modalities.sign import vocabulary as vocab
from modalities.sign.dataset import DataConfig, motion_rows, moves, sequence_windows, static_rows
from modalities.sign.multisigner import Recording
from modalities.sign.realdata import RealSample
from modalities.sign.sequence import CALIBRATED_AT, MOTION_LETTERS, SEQ_LABELS, resample
from modalities.sign.train import FOLD_MOTION_CFG, FOLD_STATIC_CFG, TrainConfig, fit, predict

F32 = npt.NDArray[np.float32]
GRID = tuple(round(0.5 + 0.05 * i, 2) for i in range(7))  # 0.50 .. 0.80
# a lower threshold may add one false accept per this many calibration negatives (with none
# allowed, one unseen "sad" read as J at 0.7998 kept J at 0.8: the rule grew stricter the more
# people it was calibrated on; fourth round, docs/sign.md)
NEGATIVES_PER_ADDED = 1000
Reading = tuple[str, str, float]  # (true motion letter or "", label read, its probability)


def class_thresholds(
    readings: Iterable[Reading], classes: Sequence[str] = MOTION_LETTERS
) -> dict[str, float]:
    """For each class: the lowest GRID value at which the calibration readings accept as the class
    at most one more of its negatives per NEGATIVES_PER_ADDED (floor) than CALIBRATED_AT does."""
    rows = list(readings)
    out = {}
    for c in classes:
        def false_accepts(t: float, c: str = c) -> int:
            return sum(1 for truth, label, p in rows if label == c and p >= t and truth != c)

        negatives = sum(1 for truth, _, _ in rows if truth != c)
        allowed = false_accepts(CALIBRATED_AT) + negatives // NEGATIVES_PER_ADDED
        out[c] = next(t for t in GRID if false_accepts(t) <= allowed)
    return out


def scored_sequences(recs: Sequence[Recording], signer: str) -> list[Recording]:
    """A signer's sequences that calibration reads: J/Z drawn (positives), words, no-sign and
    held letters (negatives: a held letter must not turn into J or Z)."""
    def read(r: Recording) -> bool:
        if r.kind == "word":
            return True
        return r.kind == "letter" and ((r.label in MOTION_LETTERS and moves(r)) or len(r.frames) >= 6)

    return [r for r in recs if r.signer == signer and read(r)]


def motion_letter_readings(
    recs: Sequence[Recording], static_w: dict[str, F32], motion_w: dict[str, F32]
) -> list[Reading]:
    """What the motion-letter model makes of each sequence, as combine() reads it: J or Z with
    its probability when it is the model's top class, else no motion letter ("")."""
    if not recs:
        return []
    windows = np.stack([r.frames[resample(len(r.frames))] for r in recs])
    probs = predict(motion_w, motion_rows(windows, partial(predict, static_w)))
    out = []
    for rec, p in zip(recs, probs, strict=True):
        best = int(np.argmax(p))
        label = SEQ_LABELS[best] if SEQ_LABELS[best] in MOTION_LETTERS else ""
        truth = rec.label if rec.kind == "letter" and rec.label in MOTION_LETTERS and moves(rec) else ""
        out.append((truth, label, float(p[best])))
    return out


def movement_signers(recs: Sequence[Recording]) -> list[str]:
    """Signers who recorded a movement (a word or a drawn J/Z): the calibration readers."""
    return sorted({r.signer for r in recs if r.kind == "word" or (r.label in MOTION_LETTERS and moves(r))})


def calibration_readings(
    recs: Sequence[Recording],
    left_out: Sequence[str],
    models: Callable[[frozenset[str]], tuple[dict[str, F32], dict[str, F32]]],
) -> list[Reading]:
    """Every movement signer not in `left_out`, read by the handshape and motion-letter models
    `models(excluded)` trained without that signer and without everyone in `left_out`."""
    out: list[Reading] = []
    for reader in movement_signers(recs):
        if reader in left_out:
            continue
        static_w, motion_w = models(frozenset((reader, *left_out)))
        out += motion_letter_readings(scored_sequences(recs, reader), static_w, motion_w)
    return out


def static_fitter(
    x: F32, y: npt.NDArray[np.int64], g: npt.NDArray[np.str_], cfg: TrainConfig
) -> Callable[[frozenset[str]], dict[str, F32]]:
    """fit(excluded) -> handshape weights trained without those signers, each set fitted once; a
    person who gave the handshape model nothing changes nothing (the model never saw them)."""
    present = set(g.tolist())
    cache: dict[frozenset[str], dict[str, F32]] = {}

    def static_fit(excluded: frozenset[str]) -> dict[str, F32]:
        key = frozenset(excluded & present)
        if key not in cache:
            keep = ~np.isin(g, sorted(key))
            cache[key] = fit(x[keep], y[keep], len(vocab.LABELS), cfg)
        return cache[key]

    return static_fit


def motion_fitter(
    windows: F32,
    ys: npt.NDArray[np.int64],
    gs: npt.NDArray[np.str_],
    static_fit: Callable[[frozenset[str]], dict[str, F32]],
    cfg: TrainConfig,
) -> Callable[[frozenset[str]], tuple[dict[str, F32], dict[str, F32]]]:
    """models(excluded) -> (handshape, motion-letter) weights trained without those signers,
    each pair fitted once (outer fold s reading s2 and outer s2 reading s share it)."""
    cache: dict[frozenset[str], tuple[dict[str, F32], dict[str, F32]]] = {}

    def models(excluded: frozenset[str]) -> tuple[dict[str, F32], dict[str, F32]]:
        if excluded not in cache:
            static_w = static_fit(excluded)
            train = ~np.isin(gs, sorted(excluded))
            xm = motion_rows(windows[train], partial(predict, static_w))
            cache[excluded] = (static_w, fit(xm, ys[train], len(SEQ_LABELS), cfg))
        return cache[excluded]

    return models


def calibrated_thresholds(
    recs: Sequence[Recording], old: Sequence[RealSample], data: DataConfig, seed: int
) -> dict[str, float]:
    """The shipped thresholds: every movement signer read by fold-size models (as in the
    leave-one-signer-out evaluation) trained without them; `class_thresholds` over all of it."""
    x, y, g = static_rows(recs, old, data)
    windows, ys, gs = sequence_windows(recs, data, SEQ_LABELS)
    static_fit = static_fitter(x, y, g, replace(FOLD_STATIC_CFG, seed=seed))
    models = motion_fitter(windows, ys, gs, static_fit, replace(FOLD_MOTION_CFG, seed=seed))
    return class_thresholds(calibration_readings(recs, [], models))


def threshold_arrays(thresholds: dict[str, float]) -> dict[str, npt.NDArray[Any]]:
    """As stored beside the motion-letter model's weights (models.sign_classifier reads them)."""
    return {
        "threshold_labels": np.asarray(list(thresholds)),
        "thresholds": np.asarray(list(thresholds.values()), np.float64),
    }
