"""SignClassifier on the project's own trained weights: small MLPs evaluated in numpy.

Weights live in models/sign/sign_mlp.npz (handshape per frame) and models/sign/sign_seq.npz
(movement over a window of frames), written by `gateway sign train` with provenance beside
them (.json). No TensorFlow, no torch: a few matrix products per frame. The sequence model rides
on the classifier (`.sequence`) so every session's decoder gets it with the shared classifier.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from contracts.errors import ModelUnavailable
from models.base import Hand, SignPrediction
from models.sign_features import FEATURE_DIM, features, features_batch, palm_size
from models.sign_sequence import (
    MOTION_LETTERS,
    SEQ_DIM,
    STEPS,
    combine,
    motion_dim,
    motion_features_batch,
    resample,
    window_features,
)

WEIGHTS = Path(__file__).resolve().parent / "sign" / "sign_mlp.npz"
SEQ_WEIGHTS = WEIGHTS.with_name("sign_seq.npz")
MOTION_WEIGHTS = WEIGHTS.with_name("sign_motion.npz")
MAX_WEIGHT_BYTES = 20_000_000
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SignFrame(SignPrediction):
    """A per-frame prediction plus where the sign is, for motion signs (J, Z, YES, WHERE).

    anchor: index tip, pinky tip and wrist of the first (higher) hand, image units; scale: its
    palm size in the same units, so the decoder can measure motion in palm lengths."""

    anchor: tuple[tuple[float, float], ...] = ()
    scale: float = 0.0
    hands: int = 0
    points: F32 | None = None  # (2, 21, 3): slot 0 the tracker's "Left" hand, 1 "Right"; absent = 0


def softmax(logits: F32) -> F32:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def mlp_probabilities(mean: F32, std: F32, layers: Sequence[tuple[F32, F32]], feats: F32) -> F32:
    """Class probabilities of an MLP (ReLU between layers) for a batch of feature rows. Weights with
    a leading axis (w (members, in, out), b (members, out)) are an ensemble: its members' class
    probabilities are averaged. Training (modalities.sign.train.predict) computes them here too."""
    h = (np.atleast_2d(feats).astype(np.float32) - mean) / std
    for i, (w, b) in enumerate(layers):
        h = h @ w + (b[:, None, :] if b.ndim == 2 else b)
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    p = softmax(h)
    return p.mean(axis=0).astype(np.float32) if p.ndim == 3 else p


class _Mlp:
    """An MLP read from an .npz (labels, mean, std, depth, w0/b0...); read-only after loading.
    Weights with a leading axis (w0 (members, in, out)) are an ensemble: its members' class
    probabilities are averaged."""

    def __init__(self, path: Path, what: str, width: int) -> None:
        if not path.is_file():
            raise ModelUnavailable(f"{what} weights missing: {path}; run `gateway sign train`")
        if path.stat().st_size > MAX_WEIGHT_BYTES:
            raise ModelUnavailable(f"{what} weights {path} exceed {MAX_WEIGHT_BYTES} bytes")
        with np.load(path, allow_pickle=False) as data:
            self.labels: tuple[str, ...] = tuple(str(x) for x in data["labels"])
            self._mean = data["mean"].astype(np.float32)
            self._std = data["std"].astype(np.float32)
            self._layers = [
                (data[f"w{i}"].astype(np.float32), data[f"b{i}"].astype(np.float32))
                for i in range(int(data["depth"]))
            ]
            # per-class acceptance thresholds chosen on unseen signers (J, Z; calibrate.py), if any
            self.thresholds: dict[str, float] = (
                {str(k): float(v) for k, v in zip(data["threshold_labels"], data["thresholds"], strict=True)}
                if "thresholds" in data.files
                else {}
            )
        if self._layers[-1][0].shape[-1] != len(self.labels) or self._mean.shape != (width,):
            raise ModelUnavailable(f"{what} weights {path} do not match their labels or features")

    def probabilities(self, feats: F32) -> F32:
        """Class probabilities for a batch of feature rows."""
        return mlp_probabilities(self._mean, self._std, self._layers, feats)


class SequenceModel(_Mlp):
    """Reads a window of landmark frames as J, Z, a kiosk word, HOLD, OTHER or REST.

    With `letters` (the motion-letter model) and `handshapes` (the handshape model's batch
    probabilities), J and Z come from the motion-letter model and words from this one."""

    def __init__(
        self,
        path: Path = SEQ_WEIGHTS,
        letters: _Mlp | None = None,
        handshapes: Callable[[F32], F32] | None = None,
    ) -> None:
        super().__init__(path, "sign sequence model", SEQ_DIM)
        self._letters = letters if handshapes is not None else None
        self._handshapes = handshapes
        if self._letters is not None:  # J and Z are the motion-letter model's: so are their thresholds
            self.thresholds = {k: v for k, v in self._letters.thresholds.items() if k in MOTION_LETTERS}

    def read(self, frames: F32) -> tuple[str, float]:
        """(frames, 2, 21, 3) -> best label and its probability."""
        words = self.probabilities(window_features(frames))[0]
        if self._letters is None or self._handshapes is None:
            best = int(np.argmax(words))
            return self.labels[best], float(words[best])
        w = np.asarray(frames, np.float32)[resample(len(frames))]
        present = np.abs(w).sum(axis=(-1, -2)) > 0
        rows = present.any(axis=1)
        probs = self._handshapes(features_batch(w[rows], present[rows]))
        shapes = np.zeros((STEPS, probs.shape[1]), np.float32)
        shapes[rows] = probs
        letters = self._letters.probabilities(motion_features_batch(w[None], shapes[None]))[0]
        return combine(words, letters, self.labels, self._letters.labels)


class MlpSignClassifier(_Mlp):
    """Blocking, thread-safe (read-only arrays); classify() costs well under a millisecond.
    `sequence` is the movement model when its weights exist (None: handshapes only)."""

    def __init__(self, path: Path = WEIGHTS, sequence_path: Path | None = SEQ_WEIGHTS) -> None:
        super().__init__(path, "sign classifier", FEATURE_DIM)
        letters = None
        if sequence_path is not None and sequence_path.with_name(MOTION_WEIGHTS.name).is_file():
            letters = _Mlp(sequence_path.with_name(MOTION_WEIGHTS.name), "sign motion-letter model",
                           motion_dim(len(self.labels)))
        self.sequence = (
            SequenceModel(sequence_path, letters, self.probabilities)
            if sequence_path is not None and sequence_path.is_file()
            else None
        )

    def classify(self, hands: Sequence[Hand]) -> SignFrame:
        if not hands:
            return SignFrame(label="REST", confidence=1.0, hands=0)
        points = [np.asarray(h.landmarks, dtype=np.float64).reshape(21, 3) for h in hands[:2]]
        probs = self.probabilities(features(points))[0]
        order = np.argsort(probs)[::-1][:3]
        first = min(points, key=lambda p: float(p[0, 1]))
        slots = np.zeros((2, 21, 3), np.float32)
        for hand, p in zip(hands[:2], points, strict=True):
            slot = 0 if hand.handedness == "Left" else 1
            slots[slot if not slots[slot].any() else 1 - slot] = p
        anchor = tuple((float(first[i, 0]), float(first[i, 1])) for i in (8, 20, 0))
        return SignFrame(
            label=self.labels[int(order[0])],
            confidence=float(probs[order[0]]),
            scores={self.labels[int(i)]: float(probs[i]) for i in order},
            anchor=anchor,
            scale=palm_size(first),
            hands=len(points),
            points=slots,
        )

    def close(self) -> None:
        self._layers = []
        if self.sequence is not None:
            self.sequence._layers = []
            if self.sequence._letters is not None:
                self.sequence._letters._layers = []
