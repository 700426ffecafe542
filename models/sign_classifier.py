"""SignClassifier on the project's own trained weights: a small MLP evaluated in numpy.

Weights live in models/sign/sign_mlp.npz (written by `gateway sign train`, provenance beside it
in sign_mlp.json). No TensorFlow, no torch: three matrix products per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from contracts.errors import ModelUnavailable
from models.base import Hand, SignPrediction
from models.sign_features import features, palm_size

WEIGHTS = Path(__file__).resolve().parent / "sign" / "sign_mlp.npz"
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


def softmax(logits: F32) -> F32:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


class MlpSignClassifier:
    """Blocking, thread-safe (read-only arrays); classify() costs well under a millisecond."""

    def __init__(self, path: Path = WEIGHTS) -> None:
        if not path.is_file():
            raise ModelUnavailable(f"sign classifier weights missing: {path}; run `gateway sign train`")
        if path.stat().st_size > MAX_WEIGHT_BYTES:
            raise ModelUnavailable(f"sign classifier weights {path} exceed {MAX_WEIGHT_BYTES} bytes")
        with np.load(path, allow_pickle=False) as data:
            self.labels: tuple[str, ...] = tuple(str(x) for x in data["labels"])
            self._mean = data["mean"].astype(np.float32)
            self._std = data["std"].astype(np.float32)
            self._layers = [
                (data[f"w{i}"].astype(np.float32), data[f"b{i}"].astype(np.float32))
                for i in range(int(data["depth"]))
            ]
        if self._layers[-1][0].shape[1] != len(self.labels):
            raise ModelUnavailable(f"sign classifier weights {path} do not match their labels")

    def probabilities(self, feats: F32) -> F32:
        """Class probabilities for a batch of feature rows (N x FEATURE_DIM)."""
        h = (np.atleast_2d(feats).astype(np.float32) - self._mean) / self._std
        for i, (w, b) in enumerate(self._layers):
            h = h @ w + b
            if i < len(self._layers) - 1:
                h = np.maximum(h, 0.0)
        return softmax(h)

    def classify(self, hands: Sequence[Hand]) -> SignFrame:
        if not hands:
            return SignFrame(label="REST", confidence=1.0, hands=0)
        points = [np.asarray(h.landmarks, dtype=np.float64).reshape(21, 3) for h in hands[:2]]
        probs = self.probabilities(features(points))[0]
        order = np.argsort(probs)[::-1][:3]
        first = min(points, key=lambda p: float(p[0, 1]))
        anchor = tuple((float(first[i, 0]), float(first[i, 1])) for i in (8, 20, 0))
        return SignFrame(
            label=self.labels[int(order[0])],
            confidence=float(probs[order[0]]),
            scores={self.labels[int(i)]: float(probs[i]) for i in order},
            anchor=anchor,
            scale=palm_size(first),
            hands=len(points),
        )

    def close(self) -> None:
        self._layers = []
