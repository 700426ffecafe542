"""Leave-one-signer-out evaluation: for every signer, train both models without that person and
score that person's recordings (the split is by signer, fixed before any tuning).

Letters: static letters per frame (up to 5 frames of each sequence) through the handshape model;
J and Z per sequence through the sequence model, accepted at thresholds chosen on the fold's
other signers only (calibrate.py; fourth round). Words: each sequence through the decoder's rule
(a movement read at `motion_threshold` or more is that movement; a HOLD reading falls back to the
handshape model's majority, which is how the synthetic-only kiosk signs are read); the no-sign
sequences must not be read as a sign, and out-of-vocabulary words must not be accepted as one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import numpy.typing as npt

from modalities.sign import vocabulary as vocab
from modalities.sign.calibrate import calibration_readings, class_thresholds, motion_fitter, static_fitter
from modalities.sign.dataset import (
    DataConfig,
    motion_rows,
    moves,
    seq_label,
    sequence_windows,
    static_label,
    static_rows,
)
from modalities.sign.features import features_batch
from modalities.sign.multisigner import NO_SIGN, Recording
from modalities.sign.realdata import RealSample
from modalities.sign.sequence import (
    HOLD,
    OTHER,
    SEQ_LABELS,
    WORDS,
    combine,
    movement_threshold,
    resample,
    window_features_batch,
)
from modalities.sign.train import FOLD_MOTION_CFG, FOLD_SEQ_CFG, FOLD_STATIC_CFG, fit, predict

F32 = npt.NDArray[np.float32]
NOT_A_SIGN = "(none)"
SWEEP = (0.5, 0.6, 0.7, 0.8)  # motion thresholds reported side by side (the default, 0.8, was set before)


@dataclass
class Tally:
    """Per class: (correct, total) and what it was read as when wrong."""

    classes: dict[str, list[int]] = field(default_factory=dict)
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, truth: str, guess: str, ok: bool | None = None) -> None:
        row = self.classes.setdefault(truth, [0, 0])
        good = truth == guess if ok is None else ok
        row[0] += int(good)
        row[1] += 1
        if not good:
            self.confusions[(truth, guess)] += 1

    def total(self, only: Sequence[str] | None = None) -> tuple[int, int]:
        rows = [v for k, v in self.classes.items() if only is None or k in only]
        return sum(r[0] for r in rows), sum(r[1] for r in rows)


@dataclass
class Report:
    static_letters: Tally = field(default_factory=Tally)
    motion_letters: Tally = field(default_factory=Tally)
    words: Tally = field(default_factory=Tally)
    no_sign: Tally = field(default_factory=Tally)  # "-" sequences: must read as no sign
    oov: Tally = field(default_factory=Tally)  # other words: must not be accepted as a sign
    per_signer: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    # motion_threshold -> [words right, words, no-sign ignored, no-sign, OOV not accepted, OOV]
    sweep: dict[float, list[int]] = field(default_factory=dict)
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)  # per fold: J, Z thresholds


_mlp = predict  # fold models are scored exactly as the shipped ones run


def read_words(
    static_w: dict[str, F32],
    seq_w: dict[str, F32],
    seq_labels: Sequence[str],
    recs: Sequence[Recording],
    motion_threshold: float = 0.8,
    min_confidence: float = 0.45,
    motion_w: dict[str, F32] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> list[tuple[str, float]]:
    """What the decoder's rule makes of each whole sequence: a movement, a held kiosk sign, or none.
    With `motion_w`, J and Z come from the motion-letter model (models.sign_sequence.combine);
    `thresholds`: per-class calibrated thresholds (J, Z) as the decoder applies them."""
    if not recs:
        return []
    windows = np.stack([r.frames[resample(len(r.frames))] for r in recs])
    probs = _mlp(seq_w, window_features_batch(windows))
    letters = None
    if motion_w is not None:
        letters = _mlp(motion_w, motion_rows(windows, partial(predict, static_w)))
    out = []
    for i, (rec, p) in enumerate(zip(recs, probs, strict=True)):
        if letters is not None:
            label, prob = combine(p, letters[i], tuple(seq_labels), SEQ_LABELS)
        else:
            best = int(np.argmax(p))
            label, prob = seq_labels[best], float(p[best])
        if label not in (HOLD, OTHER, "REST"):
            needed = movement_threshold(label, motion_threshold, thresholds or {})
            out.append((label, prob) if prob >= needed else (NOT_A_SIGN, prob))
            continue
        if label != HOLD:
            out.append((NOT_A_SIGN, prob))
            continue
        present = np.abs(rec.frames).sum(axis=(-1, -2)) > 0
        rows = present.any(axis=1)
        sp = _mlp(static_w, features_batch(rec.frames[rows], present[rows]))
        kept = [
            vocab.LABELS[int(i)] for i, q in zip(sp.argmax(1), sp.max(1), strict=True) if q >= min_confidence
        ]
        top = Counter(kept).most_common(1)
        held = top[0][0] if top and top[0][1] * 2 > len(kept) else ""
        out.append((held, prob) if held in vocab.KIOSK_SIGNS else (NOT_A_SIGN, prob))
    return out


def evaluate(
    recs: Sequence[Recording],
    old: Sequence[RealSample],
    data_cfg: DataConfig | None = None,
    log: Callable[[str], None] = print,
    signers: Sequence[str] | None = None,
) -> Report:
    data_cfg = data_cfg or DataConfig()
    x, y, g = static_rows(recs, old, data_cfg)
    # the window model learns without the spliced transitions (they cost it words); the
    # motion-letter model with them (without, a change of handshape read as Z)
    plain, ys_w, gs_w = sequence_windows(recs, replace(data_cfg, transitions=0), SEQ_LABELS)
    xs = window_features_batch(plain)
    del plain
    windows, ys, gs = sequence_windows(recs, data_cfg, SEQ_LABELS)
    everyone = sorted({r.signer for r in recs} | {s.source for s in old if s.label})
    report = Report()
    static_fit = static_fitter(x, y, g, FOLD_STATIC_CFG)

    # the motion letters' thresholds for fold s come from the OTHER signers only, each read by
    # models trained without them and without s (calibrate.py); pairs are fitted once
    motion_models = motion_fitter(windows, ys, gs, static_fit, FOLD_MOTION_CFG)
    for signer in signers or everyone:
        mine = [r for r in recs if r.signer == signer]
        static_w = static_fit(frozenset((signer,)))
        seq_w = fit(xs[gs_w != signer], ys_w[gs_w != signer], len(SEQ_LABELS), FOLD_SEQ_CFG)
        motion_w = motion_models(frozenset((signer,)))[1]
        scores: dict[str, tuple[int, int]] = {}
        # static letters; J and Z stills (photos, cut clips) count as their handshape (I, index)
        letters = [r for r in mine if r.kind == "letter" and (r.label not in ("J", "Z") or not moves(r))]
        if letters:
            tally = Tally()
            for rec in letters:
                present = np.abs(rec.frames).sum(axis=(-1, -2)) > 0
                idx = np.flatnonzero(present.any(axis=1))
                idx = np.unique(idx[resample(len(idx), min(5, len(idx)))]) if len(idx) else idx
                if not len(idx):
                    continue
                # identical frames (a photo detected 5 times) count once
                idx = idx[np.unique(rec.frames[idx].reshape(len(idx), -1), axis=0, return_index=True)[1]]
                guess = _mlp(static_w, features_batch(rec.frames[idx], present[idx])).argmax(1)
                truth = static_label(rec) or ""
                for gi in guess:
                    tally.add(truth, vocab.LABELS[int(gi)])
                    report.static_letters.add(truth, vocab.LABELS[int(gi)])
            scores["static letters (frames)"] = tally.total()
        for sample in (s for s in old if s.source == signer and s.label and s.hands):
            frame = np.zeros((1, 2, 21, 3), np.float32)
            for j, h in enumerate(sample.hands[:2]):
                frame[0, 1 - j] = h
            probs = _mlp(static_w, features_batch(frame, np.abs(frame).sum(axis=(-1, -2)) > 0))
            guess = vocab.LABELS[int(probs.argmax())]
            report.static_letters.add(str(sample.label), guess)
            scores.setdefault(f"{signer} stills", (0, 0))
            c, t = scores[f"{signer} stills"]
            scores[f"{signer} stills"] = (c + (guess == sample.label), t + 1)
        moving = [r for r in mine if r.kind == "letter" and r.label in ("J", "Z") and moves(r)]
        words = [r for r in mine if r.kind == "word"]
        thresholds = (
            class_thresholds(calibration_readings(recs, [signer], motion_models)) if moving or words else {}
        )
        if thresholds:
            report.thresholds[signer] = thresholds
        readings = read_words(
            static_w, seq_w, SEQ_LABELS, moving + words, motion_w=motion_w, thresholds=thresholds
        )
        counts: dict[str, list[int]] = {}
        for rec, (guess, _) in zip(moving + words, readings, strict=True):
            target = seq_label(rec)
            if rec.kind == "letter":
                report.motion_letters.add(rec.label, guess)
                key = "J/Z"
                ok = guess == rec.label
            elif rec.label == NO_SIGN:
                ok = guess == NOT_A_SIGN
                report.no_sign.add("no sign", guess, ok)
                key = "no sign ignored"
            elif target in WORDS:
                report.words.add(target, guess)
                ok, key = guess == target, "words"
            else:
                ok = guess == NOT_A_SIGN
                report.oov.add(rec.label, guess, ok)
                key = "other words not accepted"
            row = counts.setdefault(key, [0, 0])
            row[0] += int(ok)
            row[1] += 1
        for threshold in SWEEP:
            row = report.sweep.setdefault(threshold, [0] * 6)
            for rec, (guess, _) in zip(
                words,
                read_words(
                    static_w, seq_w, SEQ_LABELS, words, threshold, motion_w=motion_w, thresholds=thresholds
                ),
                strict=True,
            ):
                target = seq_label(rec)
                slot = 2 if rec.label == NO_SIGN else 0 if target in WORDS else 4
                row[slot] += int(guess == target) if slot == 0 else int(guess == NOT_A_SIGN)
                row[slot + 1] += 1
        scores |= {k: (v[0], v[1]) for k, v in counts.items()}
        report.per_signer[signer] = scores
        log(f"  {signer:<16} " + "  ".join(f"{k} {c}/{t}" for k, (c, t) in scores.items()))
    return report


def print_report(report: Report, log: Callable[[str], None] = print) -> None:
    if report.thresholds:
        log("\nJ/Z thresholds per fold (chosen on the other signers only, calibrate.py):")
        log("  " + "  ".join(
            f"{s} " + ",".join(f"{c} {t:.2f}" for c, t in sorted(th.items()))
            for s, th in sorted(report.thresholds.items())
        ))
    if report.sweep:
        log(
            "\nmotion_threshold trade-off (same folds): words right, no-sign ignored, other words refused"
        )
        for threshold, r in sorted(report.sweep.items()):
            log(
                f"  {threshold:.1f}: words {r[0]}/{r[1]} = {r[0] / max(r[1], 1):.1%}, no sign {r[2]}/{r[3]}, "
                f"other words {r[4]}/{r[5]}"
            )
    for title, tally in (
        ("static letters (per frame)", report.static_letters),
        ("J/Z (per sequence)", report.motion_letters),
        ("kiosk words (per sequence)", report.words),
        ("no-sign sequences read as no sign", report.no_sign),
        ("out-of-vocabulary words NOT accepted as a sign", report.oov),
    ):
        correct, total = tally.total()
        log(f"\n{title}: {correct}/{total} = {correct / max(total, 1):.1%}")
        log(
            "  "
            + "  ".join(
                f"{k} {c}/{t}" for k, (c, t) in sorted((k, tuple(v)) for k, v in tally.classes.items())
            )
        )
        if tally.confusions:
            log(
                "  most confused: "
                + ", ".join(f"{t}->{g} x{n}" for (t, g), n in tally.confusions.most_common(8))
            )
