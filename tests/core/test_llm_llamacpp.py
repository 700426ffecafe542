"""The embedded llama.cpp adapter on the bundled Qwen2.5 0.5B weights (joined, sha256-checked)."""

from __future__ import annotations

import pytest

from gateway.errors import ModelUnavailable
from models.base import ChatMessage


@pytest.mark.slow
def test_streams_an_answer_from_the_passage() -> None:
    from models.llm_llamacpp import LlamaCppModel

    model = LlamaCppModel(threads=2, context=512)
    try:
        model.load()
    except ModelUnavailable as exc:
        pytest.skip(f"embedded LLM weights unavailable: {exc}")
    messages = [ChatMessage("system", "Answer from the passage in one short sentence.\n"
                                      "Passage: You have 30 days from delivery to return an item."),
                ChatMessage("user", "How many days do I have to return an item?")]
    pieces = list(model.stream(messages, max_tokens=16, temperature=0.0))
    model.close()
    assert pieces and "30" in "".join(pieces)
