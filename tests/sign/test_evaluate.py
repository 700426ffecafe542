"""The unseen-photo check of `gateway eval sign`: what counts as read, ignored, read back, accepted."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import numpy.typing as npt

from modalities.sign.evaluate import INDEX_UP_PHOTOS, unseen_photos
from modalities.sign.realdata import RealSample
from modalities.sign.settings import SignSettings
from models.sign_classifier import MlpSignClassifier

LABELS = ["Z/index", "D", "REST"]


class FixedClassifier:
    """Answers with the probabilities keyed by the first feature (the test's features() stand-in
    passes the wrist's x through), so each sample gets the answer the test chose for it."""

    labels = LABELS

    def __init__(self, answers: dict[float, list[float]]) -> None:
        self.answers = answers

    def probabilities(self, feats: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.array([self.answers[float(feats[0])]], np.float32)


def sample(name: str, key: float, source: str = "mediapipe-photos") -> RealSample:
    hand = np.zeros((21, 3))
    hand[0, 0] = key
    return RealSample(source, None, (hand,), name)


def test_index_photos_must_read_as_the_index_hand_and_others_must_not_be_accepted(monkeypatch: Any) -> None:
    index_up = sorted(INDEX_UP_PHOTOS)
    answers = {
        1.0: [0.9, 0.05, 0.05],  # index hand, sure: correct
        2.0: [0.3, 0.6, 0.1],  # index photo read as D: wrong
        3.0: [0.4, 0.3, 0.3],  # index hand but below min_confidence: not read, so wrong
        4.0: [0.2, 0.5, 0.3],  # other photo read as D at 0.5: read back
        5.0: [0.1, 0.85, 0.05],  # other photo accepted as D
        6.0: [0.3, 0.3, 0.4],  # other photo ignored
        7.0: [0.05, 0.05, 0.9],  # other photo read as hands at rest: no sign, so ignored too
    }
    samples = [
        sample(index_up[0], 1.0), sample(index_up[1], 2.0), sample(index_up[2], 3.0),
        sample("rock/a.jpg", 4.0), sample("rock/b.jpg", 5.0), sample("none/c.jpg", 6.0),
        sample("none/g.jpg", 7.0),
        sample("four/d.jpg", 5.0),  # a vocabulary folder: not part of this check
        sample("rock/e.jpg", 5.0, source="borisgraudt"),  # another source: not part of it either
        RealSample("mediapipe-photos", None, (), "rock/f.jpg"),  # no hand found: nothing to read
    ]
    monkeypatch.setattr(
        "modalities.sign.evaluate.features", lambda hands: np.array([hands[0][0, 0]], np.float32)
    )
    result = unseen_photos(cast(MlpSignClassifier, FixedClassifier(answers)), samples, SignSettings())
    assert (result.index_correct, result.index_total) == (1, 3)
    assert (result.other_total, result.ignored, result.read_back) == (4, 2, 1)
    assert result.accepted == [("rock/b.jpg", "D", 0.85)]
