"""The older real sources (borisgraudt stills, the mediapipe photos), the unseen-photo check, the
published baseline and the speed of tracking + classification (CLI: eval/bench sign). The
leave-one-signer-out accuracy lives in modalities.sign.loso.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from modalities.sign.features import features
from modalities.sign.pipeline import decode_jpeg
from modalities.sign.realdata import RealSample, boris, photo_files, photos
from modalities.sign.settings import SignSettings
from modalities.sign.vocabulary import REST
from models.base import HandTracker
from models.sign_classifier import WEIGHTS, MlpSignClassifier

F64 = npt.NDArray[np.float64]
MODEL_DIR = WEIGHTS.parent


def tracker_fn(tracker: HandTracker, settings: SignSettings) -> Callable[[bytes], list[F64]]:
    def track(data: bytes) -> list[F64]:
        image = decode_jpeg(data, settings)
        return [np.asarray(h.landmarks, dtype=np.float64) for h in tracker.track(image, 0)]

    return track


def real_samples(root: Path, tracker: HandTracker | None) -> list[RealSample]:
    samples = boris(root)
    if tracker is not None:
        samples += photos(root, tracker_fn(tracker, SignSettings(max_frame_bytes=5_000_000)))
    return samples


@dataclass(frozen=True)
class Score:
    accuracy: float
    correct: int
    total: int
    per_class: dict[str, tuple[float, float, int]]  # label -> precision, recall, support
    confusions: dict[str, dict[str, int]]


def score(classifier: MlpSignClassifier, samples: Sequence[RealSample]) -> Score:
    scored = [s for s in samples if s.label is not None and s.hands]
    truth = [str(s.label) for s in scored]
    guess = []
    for s in scored:
        probs = classifier.probabilities(features(list(s.hands)))[0]
        guess.append(classifier.labels[int(np.argmax(probs))])
    labels = sorted(set(truth) | set(guess))
    per_class: dict[str, tuple[float, float, int]] = {}
    confusions: dict[str, dict[str, int]] = {}
    for label in labels:
        tp = sum(1 for t, g in zip(truth, guess, strict=True) if t == g == label)
        predicted = sum(1 for g in guess if g == label)
        support = sum(1 for t in truth if t == label)
        if support:
            per_class[label] = (tp / predicted if predicted else 0.0, tp / support, support)
    for t, g in zip(truth, guess, strict=True):
        if t != g:
            row = confusions.setdefault(t, {})
            row[g] = row.get(g, 0) + 1
    correct = sum(1 for t, g in zip(truth, guess, strict=True) if t == g)
    return Score(correct / max(len(truth), 1), correct, len(truth), per_class, confusions)


# The photo source's "none" folder means "none of call, four and rock", not "no hand". A person
# looking at each photo (2026-11-24) saw four people raising an index finger (our index hand:
# digit 1, the base of Z and WHERE), five thumbs-down hands and one hand at rest; "rock" is the
# horns handshape (index and pinky up), which is not in the vocabulary. No model trains on these
# 20 photos (their source label is None), so every model meets them unseen.
INDEX_UP_PHOTOS = frozenset(
    f"none/{name}.jpg"
    for name in (
        "00b85ea4-8c5d-4302-b847-0a5de1d7dab2",
        "0a0ef3d2-2560-4a93-904d-437189fffbf2",
        "0a4bc2da-f5b3-48cd-8f0d-c61dbd08ba53",
        "0a71a6e8-bb06-4ed0-a60b-c2a602fce261",
    )
)
UNSEEN_FOLDERS = ("none", "rock")


@dataclass(frozen=True)
class UnseenPhotos:
    """What the decoder would make of each unseen photo held still: the index-up photos should
    read as the index hand; every other one should be ignored (below `min_confidence`) or at
    worst read back, never accepted as a sign."""

    index_correct: int
    index_total: int
    other_total: int
    ignored: int  # below min_confidence (the frame does not count) or read as hands at rest
    read_back: int  # below readback_threshold: "Did you sign ...?"
    accepted: list[tuple[str, str, float]]  # photo, class, confidence


def unseen_photos(
    classifier: MlpSignClassifier, samples: Sequence[RealSample], settings: SignSettings
) -> UnseenPhotos:
    index_correct = index_total = other_total = ignored = read_back = 0
    accepted: list[tuple[str, str, float]] = []
    for s in samples:
        if s.source != "mediapipe-photos" or s.name.split("/")[0] not in UNSEEN_FOLDERS or not s.hands:
            continue
        probs = classifier.probabilities(features(list(s.hands)))[0]
        label, confidence = classifier.labels[int(np.argmax(probs))], float(probs.max())
        if s.name in INDEX_UP_PHOTOS:
            index_total += 1
            index_correct += label == "Z/index" and confidence >= settings.min_confidence
            continue
        other_total += 1
        if confidence < settings.min_confidence or label == REST:
            ignored += 1
        elif confidence < settings.readback_threshold:
            read_back += 1
        else:
            accepted.append((s.name, label, round(confidence, 2)))
    return UnseenPhotos(index_correct, index_total, other_total, ignored, read_back, accepted)


def detection_rate(samples: Sequence[RealSample]) -> dict[str, tuple[int, int]]:
    """Per photo folder: (photos with at least one hand found, photos)."""
    out: dict[str, tuple[int, int]] = {}
    for s in samples:
        if s.source != "mediapipe-photos":
            continue
        folder = s.name.split("/")[0]
        found, total = out.get(folder, (0, 0))
        out[folder] = (found + (1 if s.hands else 0), total + 1)
    return out


def bench_frames(
    tracker: HandTracker, classifier: MlpSignClassifier, root: Path, frames: int, hold: int = 1
) -> dict[str, float]:
    """Per-frame wall time of tracking, classification and (when the classifier has one) the
    sequence model over the last 1.5 s of frames, on the real photos with a hand, each held for
    `hold` consecutive frames (hold=1: every frame a new image, so the tracker must re-detect; a
    longer hold is a steady video where it only tracks)."""
    settings = SignSettings(max_frame_bytes=5_000_000)
    images = [decode_jpeg(f.read_bytes(), settings) for g, f in photo_files(root) if g in ("four", "call")]
    window: deque[npt.NDArray[np.float32]] = deque(maxlen=round(1.5 * settings.sample_fps))
    track_ms, classify_ms, sequence_ms = [], [], []
    for i in range(frames):
        image = images[(i // hold) % len(images)]
        t0 = time.perf_counter()
        hands = tracker.track(image, i * 33)
        t1 = time.perf_counter()
        prediction = classifier.classify(hands) if hands else None
        t2 = time.perf_counter()
        window.append(
            prediction.points
            if prediction is not None and prediction.points is not None
            else np.zeros((2, 21, 3), np.float32)
        )
        if classifier.sequence is not None and len(window) >= 6:
            classifier.sequence.read(np.stack(window))
        t3 = time.perf_counter()
        track_ms.append((t1 - t0) * 1000)
        classify_ms.append((t2 - t1) * 1000)
        sequence_ms.append((t3 - t2) * 1000)
    total = np.asarray(track_ms) + np.asarray(classify_ms) + np.asarray(sequence_ms)
    return {
        "frames": float(frames),
        "track_p50_ms": float(np.percentile(track_ms, 50)),
        "track_p95_ms": float(np.percentile(track_ms, 95)),
        "classify_p50_ms": float(np.percentile(classify_ms, 50)),
        "classify_p95_ms": float(np.percentile(classify_ms, 95)),
        "sequence_p50_ms": float(np.percentile(sequence_ms, 50)),
        "sequence_p95_ms": float(np.percentile(sequence_ms, 95)),
        "total_p50_ms": float(np.percentile(total, 50)),
        "total_p95_ms": float(np.percentile(total, 95)),
        "fps": float(1000.0 / total.mean()),
    }


def default_weights() -> Path:
    return WEIGHTS


# ------------------------------------------------------------------ baseline (development only)

BASELINE_PACKAGE = "ASL-Alpnum-Recognizer"
BASELINE_FILE = "ASL_alnum_recognizer/models/signLanguageDetectoralpnum.h5"
# index -> label as the package's recognize.py lists them (38 is unlabelled there)
BASELINE_LABELS = {
    0: "1",
    1: "10",
    2: "2",
    3: "3",
    4: "4",
    5: "5",
    6: "6",
    7: "7",
    8: "8",
    9: "9",
    10: "A",
    11: "B",
    12: "Nothing",
    **{13 + i: c for i, c in enumerate("CDEFGHIJKLMNOPQRSTUVWXYZ")},
    37: "del",
    39: "space",
}
_OURS = {"I": "I", "Z/index": "Z", "4": "4"}  # our class -> the baseline's label (same otherwise)


def published_baseline(samples: Sequence[RealSample]) -> Score | None:
    """The published Keras net (weights read as data with h5py, run in numpy) on the same hands.

    It takes cvzone's lmList: pixel x, y and z*width of the frame. Returns None
    when the package or h5py is absent (it is never needed at run time)."""
    import importlib.metadata as md

    try:
        import h5py

        dist = md.distribution(BASELINE_PACKAGE)
    except (ImportError, md.PackageNotFoundError):
        return None
    path = next(
        (Path(str(dist.locate_file(f))) for f in dist.files or () if f.as_posix() == BASELINE_FILE), None
    )
    if path is None or not path.is_file():
        return None
    with h5py.File(path, "r") as h5:
        layers = [
            (
                np.asarray(h5[f"model_weights/dense_{i}/sequential_2/dense_{i}/kernel"]),
                np.asarray(h5[f"model_weights/dense_{i}/sequential_2/dense_{i}/bias"]),
            )
            for i in (8, 9, 10, 11)
        ]
    truth, guess = [], []
    for s in samples:
        if s.label is None or not s.hands:
            continue
        # back from our one-scale units to pixels: boris was scaled by the frame height (480),
        # the 512x384 photos by their longer side
        pixels = 480 if s.source == "borisgraudt" else 512
        h = np.floor(s.hands[0] * pixels).astype(np.float32).reshape(1, 63)
        for i, (w, b) in enumerate(layers):
            h = h @ w + b
            h = np.maximum(h, 0) if i < 3 else h
        truth.append(_OURS.get(s.label, s.label))
        guess.append(BASELINE_LABELS.get(int(np.argmax(h)), "?"))
    correct = sum(1 for t, g in zip(truth, guess, strict=True) if t == g)
    return Score(correct / max(len(truth), 1), correct, len(truth), {}, {})
