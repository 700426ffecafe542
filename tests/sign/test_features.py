from __future__ import annotations

import hashlib
import json

import numpy as np

from modalities.sign import vocabulary as vocab
from modalities.sign.features import FEATURE_DIM, HAND_DIM, features
from modalities.sign.handmodel import orientation, place, pose_local
from models.sign_classifier import WEIGHTS, MlpSignClassifier

SHAPE_PART = slice(0, HAND_DIM - 6)  # distances and joint angles; the last 6 encode orientation


def hand(
    label: str, right: bool = True, scale: float = 0.2, centre: tuple[float, float] = (0.5, 0.5)
) -> np.ndarray:
    shape = vocab.STATIC_LETTERS[label]
    return place(pose_local(shape), orientation(shape.point, shape.palm, right), centre=centre, scale=scale)


def test_shape_features_ignore_position_scale_rotation_and_mirroring() -> None:
    base = features([hand("K")])
    moved = features([hand("K", scale=0.07, centre=(0.2, 0.8))])
    mirrored = features([hand("K", right=False)])
    a = np.radians(35.0)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    p = hand("K")
    rotated = features([(p - p[0]) @ rot.T + p[0]])
    for other in (moved, mirrored, rotated):
        np.testing.assert_allclose(base[SHAPE_PART], other[SHAPE_PART], atol=0.03)
    np.testing.assert_allclose(base[HAND_DIM - 6 :], mirrored[HAND_DIM - 6 :], atol=1e-6)  # mirror-invariant
    assert not np.allclose(features([hand("K")])[SHAPE_PART], features([hand("V")])[SHAPE_PART], atol=0.05)


def test_two_hands_are_ordered_and_related() -> None:
    top, low = hand("A", centre=(0.5, 0.3)), hand("B", centre=(0.5, 0.7))
    np.testing.assert_allclose(features([low, top]), features([top, low]))
    f = features([top, low])
    assert f.shape == (FEATURE_DIM,) and f[-1] == 1.0
    assert features([]).sum() == 0.0


def test_shipped_weights_match_their_provenance_and_labels() -> None:
    info = json.loads(WEIGHTS.with_suffix(".json").read_text())
    assert info["sha256"] == hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()
    classifier = MlpSignClassifier()
    assert classifier.labels == vocab.LABELS
    probs = classifier.probabilities(features([hand("B")]))
    assert probs.shape == (1, len(vocab.LABELS)) and abs(float(probs.sum()) - 1.0) < 1e-4
    assert len(vocab.KIOSK_SIGNS) >= 12


def test_shipped_sequence_model_matches_its_provenance_and_rides_on_the_classifier() -> None:
    from modalities.sign.sequence import SEQ_DIM, SEQ_LABELS
    from models.sign_classifier import SEQ_WEIGHTS

    info = json.loads(SEQ_WEIGHTS.with_suffix(".json").read_text())
    assert info["sha256"] == hashlib.sha256(SEQ_WEIGHTS.read_bytes()).hexdigest()
    assert info["model"].startswith(f"MLP {SEQ_DIM}-")
    sequence = MlpSignClassifier().sequence
    assert sequence is not None and sequence.labels[: len(SEQ_LABELS)] == SEQ_LABELS
    label, probability = sequence.read(np.zeros((10, 2, 21, 3), np.float32))
    assert label in sequence.labels and 0.0 < probability <= 1.0


def test_shipped_motion_letter_model_was_trained_on_the_shipped_handshape_model() -> None:
    from modalities.sign import vocabulary as vocab
    from modalities.sign.sequence import SEQ_LABELS, motion_dim
    from models.sign_classifier import MOTION_WEIGHTS, WEIGHTS

    info = json.loads(MOTION_WEIGHTS.with_suffix(".json").read_text())
    assert info["sha256"] == hashlib.sha256(MOTION_WEIGHTS.read_bytes()).hexdigest()
    # it reads the handshape model's probabilities: retraining one without the other breaks it
    assert info["handshape_model_sha256"] == hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()
    assert info["model"].startswith(f"MLP {motion_dim(len(vocab.LABELS))}-")
    assert tuple(info["labels"]) == SEQ_LABELS


def test_shipped_motion_letter_thresholds_are_the_calibrated_ones() -> None:
    from modalities.sign.calibrate import GRID
    from models.sign_classifier import MOTION_WEIGHTS

    info = json.loads(MOTION_WEIGHTS.with_suffix(".json").read_text())
    sequence = MlpSignClassifier().sequence
    assert sequence is not None
    # J and Z only (words keep motion_threshold), each a step of the rule's grid, as recorded
    assert sequence.thresholds == info["calibration"]["thresholds"]
    assert set(sequence.thresholds) == {"J", "Z"} and all(t in GRID for t in sequence.thresholds.values())


def test_motion_letters_come_from_the_motion_model_and_words_from_the_window_model() -> None:
    from modalities.sign.sequence import HOLD, SEQ_LABELS, combine

    def onehot(label: str, p: float) -> np.ndarray:
        out = np.full(len(SEQ_LABELS), (1 - p) / (len(SEQ_LABELS) - 1), np.float32)
        out[SEQ_LABELS.index(label)] = p
        return out

    label, probability = combine(onehot("HELLO", 0.9), onehot("J", 0.7), SEQ_LABELS, SEQ_LABELS)
    assert label == "J" and abs(probability - 0.7) < 1e-6
    assert combine(onehot("HELLO", 0.9), onehot("HOLD", 0.6), SEQ_LABELS, SEQ_LABELS)[0] == "HELLO"
    # the window model's own J/Z (it does not carry to unseen signers) is not a movement
    assert combine(onehot("Z", 0.9), onehot("OTHER", 0.6), SEQ_LABELS, SEQ_LABELS)[0] == HOLD
