"""Start-up warms the core (sentence encoder, Chinese segmenter, sentiment engines), so the first
caller does not pay for loading them: the first Mandarin turn waited 2.1 s for SnowNLP and jieba."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gateway.core.build import Core
from tests.conftest import PROJECT


class CountingEmbedder:
    name, dimensions = "counting", 4

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        return np.zeros((len(texts), self.dimensions), np.float32)

    def close(self) -> None:
        pass


class CountingScorer:
    def __init__(self) -> None:
        self.warmed = 0

    def warm(self) -> None:
        self.warmed += 1


@dataclass
class Services:
    sentiment: CountingScorer = field(default_factory=CountingScorer)


def _core(embedder: CountingEmbedder | None, tenants: int = 0) -> Core:
    core = Core.__new__(Core)  # only what warm() loads matters here: no index, no records
    core._embedder = embedder
    core.services = core._fallback = Services()  # type: ignore[assignment]
    core._tenants = {f"t{i}": Services() for i in range(tenants)}  # type: ignore[misc]
    return core


def test_warm_runs_the_encoder_once() -> None:
    embedder = CountingEmbedder()
    _core(embedder).warm()
    assert len(embedder.calls) == 1 and len(embedder.calls[0]) == 1


def test_warm_without_an_encoder_is_a_no_op() -> None:
    _core(None).warm()  # embeddings off ([core] embeddings = false): nothing to load


def test_warm_loads_every_tenants_sentiment_engines_once() -> None:
    core = _core(None, tenants=2)
    core.warm()
    scorers = [core.services.sentiment, *(t.sentiment for t in core._tenants.values())]
    assert [s.warmed for s in scorers] == [1, 1, 1]  # type: ignore[attr-defined]


WARMED = """
from gateway.core.build import Core
from gateway.core.policies.frustration import SentimentScorer
from gateway.core.text import _jieba
from tests.core.test_core_warm import Services, _core
core = _core(None)
core.services = core._fallback = Services(sentiment=SentimentScorer())
core.warm()
import sys
print("snownlp" in sys.modules, _jieba()._cut is not None, core.services.sentiment._vader is not None)
"""


def test_warm_loads_what_the_first_mandarin_turn_waited_for() -> None:
    """In a fresh process (this one may have loaded them already): SnowNLP, jieba and VADER."""
    done = subprocess.run([sys.executable, "-c", WARMED], cwd=PROJECT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True"]
