"""The LLM picks an intent when the classifier is unsure: against the stand-in OpenAI-compatible
server of tests/core/test_openai_backend.py over real HTTP, with a tiny hand-made classifier."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pytest

from gateway.core.nlu.catalog import load_catalog
from gateway.core.nlu.classifier import IntentModel
from gateway.core.nlu.features import HASH_BITS
from gateway.core.nlu.llm_pick import LlmPicker
from gateway.core.nlu.understand import CatalogUnderstanding
from models.llm_openai import OpenAICompatibleModel
from tests.core.test_openai_backend import StandIn

CATALOG = """
intents:
  - name: order_status
    route: {kb: [shipping]}
    examples: {en: ["where is my parcel", "has my order shipped"]}
  - name: return_refund
    route: {kb: [returns]}
    examples: {en: ["I want to send this back", "how do I return an item"]}
  - name: human_request
    reports: human_request
    route: {policy: handoff}
    examples: {en: ["let me talk to a person", "get me an agent"]}
  - name: emergency
    route: {policy: emergency}
    examples: {en: ["there is a fire", "he is not breathing"]}
  - name: oos
    route: {action: out-of-scope}
    examples: {en: ["what's the weather", "sing a song"]}
"""


class Picks(StandIn):
    answer: ClassVar[str] = "2"

    def _events(self) -> None:
        event = {"choices": [{"index": 0, "delta": {"content": Picks.answer}}]}
        self.wfile.write(f"data: {json.dumps(event)}\n\ndata: [DONE]\n\n".encode())
        self.wfile.flush()


class Flat:
    """A stand-in embedder: every text the same vector, so the classifier below is unsure."""

    name = "flat"
    dimensions = 4

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.tile(np.asarray([[1.0, 0.0, 0.0, 0.0]], np.float32), (len(texts), 1))

    def close(self) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    StandIn.mode, StandIn.requests, Picks.answer = "ok", [], "2"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Picks)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _reader(tmp_path: Path, url: str | None, bias: list[float] | None = None) -> CatalogUnderstanding:
    (tmp_path / "intents.yaml").write_text(CATALOG, "utf-8")
    catalog = load_catalog(tmp_path / "intents.yaml")
    labels = sorted(i.name for i in catalog.intents)  # emergency human_request oos order_status return_refund
    # Slightly prefers order_status, then return_refund: the classifier's top-k order, all unsure.
    b = np.asarray(bias or [0.0, 0.05, 0.0, 0.2, 0.1], np.float32)
    model = IntentModel(labels, np.zeros((4, len(labels)), np.float32),
                        np.zeros((1 << HASH_BITS, len(labels)), np.float32), b, threshold=0.9)
    reader = CatalogUnderstanding(catalog, model, Flat())
    if url is not None:
        reader.picker = LlmPicker(OpenAICompatibleModel(url=url, model="m", read_timeout=1.0), top_k=2)
    return reader


def test_unsure_turn_is_picked_by_the_llm_among_the_top_k(tmp_path: Path, server: str) -> None:
    reading = _reader(tmp_path, server).read("uh the thing I got, I kinda want it gone back to you", "en")
    assert (reading.intent, reading.by) == ("return_refund", "llm")  # option 2: [order_status, return_refund]
    assert reading.route is not None and reading.route.kb == ("returns",)
    prompt = StandIn.requests[0]["body"]["messages"][1]["content"]
    assert "1. order status" in prompt and "2. return refund" in prompt and "emergency" not in prompt
    assert "kinda want it gone back" in prompt


def test_none_of_these_is_out_of_scope(tmp_path: Path, server: str) -> None:
    Picks.answer = "0"
    reading = _reader(tmp_path, server).read("what's the capital of peru", "en")
    assert (reading.intent, reading.route, reading.by) == ("oos", None, "llm")


@pytest.mark.parametrize("answer", ["7", "I think it's the refund one"])
def test_an_unusable_answer_leaves_the_classifier_reading(tmp_path: Path, server: str, answer: str) -> None:
    Picks.answer = answer
    reading = _reader(tmp_path, server).read("hmm", "en")
    assert (reading.intent, reading.by) == ("oos", "classifier")


def test_a_failing_server_leaves_the_classifier_reading(tmp_path: Path, server: str) -> None:
    StandIn.mode = "http-500"
    reading = _reader(tmp_path, server).read("hmm", "en")
    assert (reading.intent, reading.by) == ("oos", "classifier")


def test_a_sure_classifier_and_emergencies_never_ask_the_llm(tmp_path: Path, server: str) -> None:
    sure = _reader(tmp_path, server, bias=[0.0, 0.0, 0.0, 9.0, 0.0]).read("where is my parcel", "en")
    assert (sure.intent, sure.by) == ("order_status", "classifier")
    urgent = _reader(tmp_path, server).read("the kitchen is on fire", "en")
    assert urgent.emergency and urgent.by == "classifier"
    assert StandIn.requests == []
