"""Accuracy and latency helpers shared by the benchmarks: in the leaf contracts package (the
modalities' evaluations use them too); re-exported here for the gateway's bench commands."""

from contracts.evaluation import (
    char_error_rate,
    char_errors,
    edit_distance,
    normalise,
    percentile,
    realdata_dir,
    word_error_rate,
    word_errors,
    written_in_characters,
)

__all__ = ["char_error_rate", "char_errors", "edit_distance", "normalise", "percentile", "realdata_dir",
           "word_error_rate", "word_errors", "written_in_characters"]
