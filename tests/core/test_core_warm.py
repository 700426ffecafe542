"""Start-up warms the core's sentence encoder, so the first caller does not pay for loading it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from gateway.core.build import Core


class CountingEmbedder:
    name, dimensions = "counting", 4

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        return np.zeros((len(texts), self.dimensions), np.float32)

    def close(self) -> None:
        pass


def _core(embedder: CountingEmbedder | None) -> Core:
    core = Core.__new__(Core)  # only the encoder matters here: no index, no records
    core._embedder = embedder
    return core


def test_warm_runs_the_encoder_once() -> None:
    embedder = CountingEmbedder()
    _core(embedder).warm()
    assert len(embedder.calls) == 1 and len(embedder.calls[0]) == 1


def test_warm_without_an_encoder_is_a_no_op() -> None:
    _core(None).warm()  # embeddings off ([core] embeddings = false): nothing to load
