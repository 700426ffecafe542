"""Motion signs as motion: the sequence model's window features live in models/sign_sequence.py
(the classifier in models/ needs them, and models never import modalities); re-exported here."""

from models.sign_sequence import (
    CALIBRATED_AT,
    HOLD,
    MIN_FRAMES,
    MOTION_LETTERS,
    NONE,
    OTHER,
    SEQ_DIM,
    SEQ_LABELS,
    STEPS,
    WORDS,
    combine,
    motion_dim,
    motion_features_batch,
    movement_threshold,
    resample,
    window_features,
    window_features_batch,
)

__all__ = [
    "CALIBRATED_AT", "HOLD", "MIN_FRAMES", "MOTION_LETTERS", "NONE", "OTHER", "SEQ_DIM", "SEQ_LABELS",
    "STEPS", "WORDS", "combine", "motion_dim", "motion_features_batch", "movement_threshold", "resample",
    "window_features", "window_features_batch",
]
