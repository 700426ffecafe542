"""Accuracy and latency helpers shared by the benchmarks: in the leaf contracts package (the
modalities' evaluations use them too); re-exported here for the gateway's bench commands."""

from contracts.evaluation import (
    char_error_rate,
    edit_distance,
    normalise,
    percentile,
    realdata_dir,
    word_error_rate,
)

__all__ = ["char_error_rate", "edit_distance", "normalise", "percentile", "realdata_dir", "word_error_rate"]
